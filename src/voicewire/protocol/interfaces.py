"""The four interfaces the layers meet at (typing.Protocol; no I/O here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from .config import AudioFormat, ConnectOptions
from .credential import ClientCredential
from .events import ClientEvent, ServerEvent


class TransportStatus(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


StatusListener = Callable[[TransportStatus], None]


@runtime_checkable
class RealtimeConnection(Protocol):
    """One live link to one model.

    ``send`` is non-blocking: it encodes at once (so an event the provider cannot express raises
    right there) and queues the message for the writer. Iterating yields server events until the
    connection closes.
    """

    @property
    def status(self) -> TransportStatus: ...

    @property
    def session_id(self) -> str | None: ...

    def send(self, event: ClientEvent) -> None: ...

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` on every status change; returns a function that unsubscribes."""
        ...

    def __aiter__(self) -> AsyncIterator[ServerEvent]: ...

    async def close(self) -> None: ...


@runtime_checkable
class PushConnection(Protocol):
    """A :class:`RealtimeConnection` that can also push its events to one consumer.

    After ``deliver_to(on_event, on_end)``, ``on_event(event)`` is called for every server event
    in order as it arrives (events that arrived before come first) and ``on_end()`` once when
    the connection's events end; the connection is not iterated then. This spares a task switch
    per event, which :class:`~voicewire.session.RealtimeSession` uses when a connection offers
    it. Callbacks run in whatever task produced the event (for an in-process model, possibly
    inside ``send``), never nested in one another.
    """

    def deliver_to(
        self, on_event: Callable[[ServerEvent], None], on_end: Callable[[], None]
    ) -> None: ...


@runtime_checkable
class RealtimeModel(Protocol):
    """A speech-to-speech model that can be connected to."""

    @property
    def provider(self) -> str: ...

    @property
    def model_id(self) -> str: ...

    async def connect(self, options: ConnectOptions | None = None) -> RealtimeConnection: ...

    async def authenticate(self) -> ClientCredential:
        """Mint a short-lived credential a client can connect with (server side, with the key)."""
        ...


@runtime_checkable
class RealtimeTransport(Protocol):
    """How a session reaches a model. ``handles_audio`` is true when the transport itself moves
    audio (WebRTC in a browser), so the session must not stream it."""

    @property
    def handles_audio(self) -> bool: ...

    async def connect(
        self, model: RealtimeModel, options: ConnectOptions | None = None
    ) -> RealtimeConnection: ...


class WebSocketTransport:
    """The default transport: the model's own WebSocket connection."""

    handles_audio = False

    async def connect(
        self, model: RealtimeModel, options: ConnectOptions | None = None
    ) -> RealtimeConnection:
        return await model.connect(options)


@dataclass(frozen=True, slots=True)
class PlaybackPosition:
    """How much of an assistant item the listener has actually heard."""

    item_id: str
    audio_end_ms: int
    content_index: int = 0


class AudioSink(Protocol):
    """What a channel feeds: the session."""

    @property
    def input_format(self) -> AudioFormat: ...

    @property
    def output_format(self) -> AudioFormat: ...

    def send_audio(self, audio: bytes) -> None: ...

    def commit(self) -> None: ...


@runtime_checkable
class RealtimeChannel(Protocol):
    """Where the user is: a microphone and speaker, a browser, a phone call, a file.

    The channel pushes captured audio into the sink (already in ``sink.input_format``), plays what
    the session hands it (in ``sink.output_format``), and reports what was actually heard.
    """

    async def start(self, sink: AudioSink) -> None: ...

    def play(self, item_id: str, audio: bytes, content_index: int = 0) -> None: ...

    def interrupt(self) -> None:
        """Stop playback now and drop what is queued."""
        ...

    def playback_position(self) -> PlaybackPosition | None:
        """What the listener has heard of the item playing (or last played), or ``None``."""
        ...

    async def close(self) -> None: ...
