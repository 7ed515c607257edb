"""The four interfaces the layers meet at (typing.Protocol; no I/O here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from .capabilities import RealtimeCapabilities
from .config import AudioFormat, ConnectOptions
from .credential import ClientCredential
from .events import ClientEvent, ServerEvent


class TransportStatus(StrEnum):
    """Where a connection (or a client) is in its life; ``closed`` is final."""

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
    def status(self) -> TransportStatus:
        """Where the link is: ``connected`` once open, ``closed`` after it ends, for good."""
        ...

    @property
    def session_id(self) -> str | None:
        """The provider's id of this session (from ``session.created``), once known."""
        ...

    def send(self, event: ClientEvent) -> None:
        """Encode ``event`` and queue it for the model, without waiting for the socket."""
        ...

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` on every status change; returns a function that unsubscribes."""
        ...

    def __aiter__(self) -> AsyncIterator[ServerEvent]:
        """The model's events in the order they arrived; ends when the link closes."""
        ...

    async def close(self) -> None:
        """Close the link (idempotent); the event stream then ends."""
        ...


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
class ReportsDelivery(Protocol):
    """An optional connection hook: how much of what was sent is known to have reached the model.

    A :class:`RealtimeConnection` may also have this attribute. ``delivered`` counts the events
    given to ``send()`` on this connection, from the first, that are known to have arrived; it
    only grows. A WebSocket connection that pings learns it from each pong: the pong proves that
    every frame written before its ping arrived, since a WebSocket delivers in order
    (:class:`~voicewire.providers.codec_connection.CodecConnection`). The session's ledger of
    unacknowledged events (:mod:`voicewire.session.unacked`) then drops input audio the model
    has and has heard as silence, instead of keeping it in case the link died; a connection
    without it works as before.
    """

    @property
    def delivered(self) -> int:
        """How many of the events given to ``send()`` are known to have reached the model."""
        ...


@runtime_checkable
class RealtimeModel(Protocol):
    """A speech-to-speech model that can be connected to."""

    @property
    def provider(self) -> str:
        """Who serves the model: ``"openai"``, ``"xai"``, ``"local"``, ..."""
        ...

    @property
    def model_id(self) -> str:
        """The provider's name of the model (e.g. ``"gpt-realtime"``)."""
        ...

    @property
    def capabilities(self) -> RealtimeCapabilities:
        """What the model can take (events, live changes, audio formats); the session never
        sends it anything else."""
        ...

    async def connect(self, options: ConnectOptions | None = None) -> RealtimeConnection:
        """Open a new link to the model, with ``options.session_config`` as its first config."""
        ...

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
    """How much of an assistant item the listener has actually heard.

    The one type for "item id, audio end ms, content index": what a channel reports playing,
    and where the session cuts an item on a barge-in (the points it sends as ``item.truncate``,
    whose flat fields are these three, as on OpenAI's wire).
    """

    item_id: str
    """The assistant message playing (or played last)."""
    audio_end_ms: int
    """Milliseconds of the item's audio the listener has heard, counted from its first frame:
    what came out of the speaker (or went down the phone line), not what was queued."""
    content_index: int = 0
    """Which content part of the item is playing (0: the first)."""


class AudioSink(Protocol):
    """What a channel feeds: the session."""

    @property
    def input_format(self) -> AudioFormat:
        """The format :meth:`send_audio` takes: the channel converts its capture to it."""
        ...

    @property
    def output_format(self) -> AudioFormat:
        """The format of the audio the channel is given to play."""
        ...

    def send_audio(self, audio: bytes) -> None:
        """Pass on captured audio (raw, in :attr:`input_format`); dropped while muted."""
        ...

    def commit(self) -> None:
        """End the user's turn now: commit the input audio (under manual turn detection, the
        session also asks for a response)."""
        ...


@runtime_checkable
class RealtimeChannel(Protocol):
    """Where the user is: a microphone and speaker, a browser, a phone call, a file.

    The channel pushes captured audio into the sink (already in ``sink.input_format``), plays what
    the session hands it (in ``sink.output_format``), and reports what was actually heard.
    """

    async def start(self, sink: AudioSink) -> None:
        """Begin capturing into ``sink``; called once by the session, on its first connect (a
        reconnect keeps the running channel)."""
        ...

    def play(self, item_id: str, audio: bytes, content_index: int = 0) -> None:
        """Queue ``audio`` (raw, in ``sink.output_format``) of assistant item ``item_id`` for
        playback, after what is queued already. Must not block."""
        ...

    def interrupt(self) -> None:
        """Stop playback now and drop what is queued."""
        ...

    def playback_position(self) -> PlaybackPosition | None:
        """What the listener has heard of the item playing (or last played), or ``None``."""
        ...

    async def close(self) -> None:
        """Stop capturing and playing and release the device or socket; called once by the
        session as it closes."""
        ...


@runtime_checkable
class MarksItemEnd(Protocol):
    """An optional channel hook: told when an assistant item's audio is complete.

    A :class:`RealtimeChannel` may also have this method; the session calls it on
    ``audio.output.done`` when the channel does (``isinstance(channel, MarksItemEnd)``), and a
    channel without it works as before. A channel that holds back the start of playback until its
    jitter buffer fills (:class:`~voicewire.channels.DeviceChannel`) uses it to play a short
    item's tail at once instead of waiting for a gap in the audio.
    """

    def mark_end(self, item_id: str) -> None:
        """No more audio of ``item_id`` will come: play what is buffered of it without waiting.
        Must not block; an unknown or finished ``item_id`` is ignored."""
        ...
