"""``RealtimeSession``: one agent, live, against one model, through one channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeGuard

from ..agent import RealtimeAgent
from ..context import Context
from ..protocol import (
    AudioFormat,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCommit,
    AudioOutputDelta,
    AudioOutputDone,
    ClientCredential,
    ClientEvent,
    ConfigurationError,
    ConnectionClosedError,
    ConnectOptions,
    Item,
    ItemCreate,
    ItemCreated,
    ItemDeleted,
    ItemTruncate,
    ItemTruncated,
    MarksItemEnd,
    ProtocolError,
    RealtimeCapabilities,
    RealtimeChannel,
    RealtimeConnection,
    RealtimeModel,
    RealtimeTransport,
    ResponseCancel,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseInterrupted,
    ServerEvent,
    SessionConfig,
    SessionError,
    SessionUpdate,
    SpeechStarted,
    TextOutput,
    ToolCall,
    ToolCancelled,
    ToolDefinition,
    TranscriptInput,
    TranscriptOutput,
    TransportStatus,
    TurnDetection,
    UnsupportedEventError,
    VoiceConfig,
    WebSocketTransport,
    user_text,
)
from .dispatch import EventHub, Handler
from .events import SessionEvent, StatusChanged
from .history import ConversationHistory
from .link import LinkKeeping
from .playback import PlaybackTracker
from .reconnect import ReconnectPolicy
from .tool_runner import ToolRunner
from .unacked import UNACKED_AUDIO_S, Unacknowledged, with_item_id

log = logging.getLogger("voicewire.session")

DEFAULT_FORMAT = AudioFormat.pcm16(24000)


class RealtimeSession(LinkKeeping):
    """Runs ``agent`` on ``model``: tools, interruption, mute, history.

    Use it as ``async with RealtimeSession(agent, model=...) as session:`` (or ``connect()`` /
    ``close()``). Events arrive through :meth:`on` callbacks and ``async for event in session``.
    Sending methods do not block: what is said while the session is still connecting (or
    reconnecting) is queued and delivered once connected. Once the session has given up its link
    they raise :class:`ConnectionClosedError` until :meth:`connect` brings the conversation back.
    """

    def __init__(
        self,
        agent: RealtimeAgent,
        model: RealtimeModel | None = None,
        channel: RealtimeChannel | None = None,
        transport: RealtimeTransport | None = None,
        context: Context[Any] | Any = None,
        credential: ClientCredential | None = None,
        connect_options: ConnectOptions | None = None,
        *,
        auto_truncate: bool = True,
        stream_events: bool = True,
        reconnect: ReconnectPolicy | None = None,
    ) -> None:
        """``auto_truncate=False`` leaves truncation to a remote client that plays the audio and
        knows better what was heard (the OpenAI-compatible server relays its truncate).
        ``stream_events=False`` is for code that takes events only through :meth:`on`: the
        session then keeps none for ``async for`` (which raises), instead of the latest
        :data:`~voicewire.session.dispatch.STREAM_LIMIT` that nobody would read.
        ``reconnect`` says how to bring a dropped link back (default: :class:`ReconnectPolicy`,
        5 attempts over about 15 s; ``ReconnectPolicy(attempts=0)`` to stay disconnected)."""
        resolved = model if model is not None else agent.model
        if resolved is None:
            raise ConfigurationError(
                f"agent {agent.id!r} has no model: pass model=... to RealtimeSession "
                "or give the agent one"
            )
        self.agent = agent
        self.model: RealtimeModel = resolved
        self.capabilities: RealtimeCapabilities = _capabilities_of(resolved)
        """What the model can take: the session sends it nothing else."""
        self._refused_kinds = self.capabilities.unsupported_client_events()
        self.channel = channel
        self.transport: RealtimeTransport = transport or WebSocketTransport()
        self.context: Context[Any] = (
            context if isinstance(context, Context) else Context(data=context, agent_id=agent.id)
        )
        self._options = connect_options or ConnectOptions()
        if credential is not None:
            self._options = replace(self._options, credential=credential)
        base = self._options.session_config or SessionConfig()
        self._input_format = base.input_audio_format or DEFAULT_FORMAT
        self._output_format = base.output_audio_format or DEFAULT_FORMAT
        self._turn_detection = base.turn_detection or TurnDetection(
            self.capabilities.default_turn_detection or "server_vad"
        )
        self.config: SessionConfig = base
        self.history = ConversationHistory()
        self.playback = PlaybackTracker(self._output_format)
        self._hub = EventHub(stream=stream_events)
        self._tools = ToolRunner(
            agent,
            self.context,
            self._send,
            self._hub.emit,
            continues=self.capabilities.response_create,
        )
        self._connection: RealtimeConnection | None = None
        self._pump: asyncio.Task[None] | None = None
        self._events_ended = asyncio.Event()
        self._status = TransportStatus.DISCONNECTED
        self._muted = False
        self._pending: list[ClientEvent] = []
        self._unacked = Unacknowledged(int(UNACKED_AUDIO_S * self._input_format.bytes_per_second))
        """Sent on the current link, not yet acknowledged: sent again after a reconnect."""
        self._active_response: str | None = None
        self._response_open = False
        self._closing = False
        self._auto_truncate = auto_truncate
        self._spoken = False  # the model has spoken on this link (VoiceChange "before_audio")
        self._interrupted_response: str | None = None
        self._reconnect = reconnect if reconnect is not None else ReconnectPolicy()
        self._reconnecting: asyncio.Task[None] | None = None
        self._lost: SessionError | None = None  # the link's last words, held while reconnecting
        self._final_close = False  # the link ended with a fatal error a reconnect cannot undo
        self._gave_up = False  # the link dropped for good: sending refuses until connect()
        # Not derived from the status: it holds while the fatal error is told (the status still
        # reconnecting) and after close(). tests/session/test_session_gave_up_state.py
        self.reconnects = 0
        """Links brought back after a drop."""
        self.audio_dropped_while_muted = 0
        """Bytes of input audio the mute gate kept from the model."""
        self.audio_dropped_while_disconnected = 0
        """Bytes of input audio dropped because the session had given up its link (see
        :meth:`connect`)."""

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def status(self) -> TransportStatus:
        return self._status

    @property
    def session_id(self) -> str | None:
        return self._connection.session_id if self._connection else None

    @property
    def turn_detection(self) -> TurnDetection:
        """What ends the user's turn: the config's turn detection, or the model's default
        (``capabilities.default_turn_detection``, ``server_vad`` when it says none) when the
        config names none (``semantic_vad`` on the local model with Smart Turn installed);
        :attr:`config` keeps ``None`` then, so a provider is sent nothing about it."""
        return self._turn_detection

    async def connect(self) -> None:
        """Connect to the model; a no-op while connected or connecting.

        After the link dropped for good (the reconnect attempts failed, or the policy allows
        none), ``connect()`` brings the same conversation back as a reconnect would: the new
        link hears the history first, then what was said while reconnecting. Until then the
        session refuses to send (:class:`ConnectionClosedError`) and drops input audio.
        """
        if self._status in (TransportStatus.CONNECTED, TransportStatus.CONNECTING):
            return
        if self._status is TransportStatus.CLOSED:
            raise ConnectionClosedError("this session was closed; create a new one")
        resuming, gave_up = self._connection is not None, self._gave_up
        self._gave_up = False  # what is said while connecting is queued again
        self._set_status(TransportStatus.CONNECTING)
        try:
            if not resuming:  # a resumed session keeps the config it had, updates included
                self.config = await self._build_config()
            connection = await self._open()
        except BaseException:
            self._gave_up = gave_up
            self._set_status(TransportStatus.DISCONNECTED)
            raise
        self._attach(connection, self._catch_up())
        if self.channel is not None and not resuming:
            await self.channel.start(self)

    async def close(self) -> None:
        if self._status is TransportStatus.CLOSED or self._closing:
            return
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            await asyncio.gather(self._reconnecting, return_exceptions=True)
        await self._tools.aclose()
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await self.channel.close()
        if self._connection is not None:
            await self._connection.close()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._events_ended.wait(), timeout=2.0)
        self._set_status(TransportStatus.CLOSED)
        self._hub.close()

    async def __aenter__(self) -> RealtimeSession:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- events ------------------------------------------------------------------------------

    def on(self, kind: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler(event)`` for events of ``kind`` (an event kind, ``"*"``, or an alias:
        transcript, audio, text, error, status, tool, interrupted). Returns an unsubscribe."""
        return self._hub.on(kind, handler)

    def __aiter__(self) -> AsyncIterator[SessionEvent]:
        return self._hub.iterate()

    # -- AudioSink (what channels feed) --------------------------------------------------------

    @property
    def input_format(self) -> AudioFormat:
        return self._input_format

    @property
    def output_format(self) -> AudioFormat:
        return self._output_format

    def send_audio(self, audio: bytes) -> None:
        """Stream user audio (in :attr:`input_format`). Dropped, not queued, while muted."""
        if self._muted:
            self.audio_dropped_while_muted += len(audio)
            return
        if self._gave_up:  # a channel keeps capturing; queueing it all would grow without end
            self.audio_dropped_while_disconnected += len(audio)
            return
        if not audio:
            return
        event = AudioInputAppend(audio)
        connection = self._connection
        if self._status is TransportStatus.CONNECTED and connection is not None:
            # The hot path (50 frames a second): what _send does, less what cannot apply to a
            # connected link or to an append (every model takes it; it names no item).
            connection.send(event)
            self._unacked.sent(event)
        else:
            self._send(event)  # queued, refused or failed as _send decides

    def commit(self) -> None:
        """End the user's audio turn. Under manual turn detection also asks for a response."""
        self._send(AudioInputCommit())
        if self._turn_detection.mode == "manual":
            self._send(ResponseCreate())

    def clear_audio(self) -> None:
        self._send(AudioInputClear())

    # -- talking -----------------------------------------------------------------------------

    @property
    def muted(self) -> bool:
        return self._muted

    def mute(self) -> None:
        self._muted = True

    def unmute(self) -> None:
        self._muted = False

    def send_message(self, text: str) -> None:
        """Say ``text`` as the user and ask for a reply (a model without ``response.create``,
        such as an ElevenLabs agent, answers a typed message by itself)."""
        if not text.strip():
            raise ValueError("send_message needs non-empty text")
        self._send(ItemCreate(user_text(text)))
        if self.capabilities.response_create:
            self._send(ResponseCreate())

    def add_item(self, item: Item, previous_item_id: str | None = None) -> None:
        self._send(ItemCreate(item, previous_item_id))

    def create_response(self) -> None:
        self._send(ResponseCreate())

    def interrupt(self) -> None:
        """Stop the assistant now: cancel the response, stop playback, cut the item where the
        listener was, cancel running tools."""
        if self._response_open and self.capabilities.response_cancel:
            self._send(ResponseCancel(self._active_response))
        self._cut_assistant()

    def send(self, event: ClientEvent) -> None:
        """Send any neutral client event to the model as is (queued while connecting).

        For what the methods above do not cover: deleting or truncating items, a commit without
        the automatic reply of manual mode, a response with per-response settings."""
        self._send(event)
        if isinstance(event, SessionUpdate):  # the config a reconnect opens with
            self.config = event.config
            self._apply_formats(event.config)

    def report_playback(self, item_id: str, audio_end_ms: int) -> None:
        """For apps that play audio themselves (no channel): how much of ``item_id`` was heard."""
        self.playback.report_played(item_id, audio_end_ms)

    def update(
        self,
        *,
        instructions: str | None = None,
        tools: Sequence[ToolDefinition] | None = None,
        voice: VoiceConfig | None = None,
        turn_detection: TurnDetection | None = None,
        **changes: Any,
    ) -> None:
        """Change the live session; any :class:`SessionConfig` field may be given (``None``
        leaves a field as it is; ``TurnDetection("manual")`` turns voice detection off).

        What only restates the session for this model is no change (see
        :meth:`~voicewire.protocol.RealtimeCapabilities.settle_update`: ``["audio"]`` output
        where audio is the default, a transcription model the provider cannot choose); an update
        that changes nothing sends nothing. A change the model cannot make live raises
        :class:`ConfigurationError` naming the field."""
        if instructions is not None:
            changes["instructions"] = instructions
        if tools is not None:
            changes["tools"] = tuple(tools)
        if voice is not None:
            changes["voice"] = voice
        if turn_detection is not None:
            changes["turn_detection"] = turn_detection
        try:
            asked = replace(self.config, **changes)
        except TypeError as exc:
            raise ConfigurationError(f"update(): {exc}") from None
        config = self.capabilities.settle_update(self.config, asked)
        if config != asked:
            log.debug(
                "update(): the %s model %r already does what part of it asks (or cannot choose "
                "the transcription model); that part is no change",
                self.model.provider,
                self.model.model_id,
            )
        if config == self.config:
            return  # nothing changes: nothing to tell the model
        refused = self.capabilities.refuse_update(self.config, config, spoken=self._spoken)
        if refused is not None:
            field, reason = refused
            raise ConfigurationError(
                f"update(): {field}: the {self.model.provider} model {self.model.model_id!r} "
                f"{reason}"
            )
        self._send(SessionUpdate(config))  # first: if it cannot be sent, nothing changes
        self.config = config
        self._apply_formats(config)

    # -- internals ---------------------------------------------------------------------------

    async def _build_config(self) -> SessionConfig:
        base = self._options.session_config or SessionConfig()
        instructions = await self.agent.resolve_instructions(self.context)
        agent_tools = self.agent.tool_definitions()
        names = {t.name for t in agent_tools}
        extra = [t for t in base.tools if t.name not in names]
        return replace(
            base,
            instructions=instructions or base.instructions,
            tools=(*agent_tools, *extra),
            voice=self.agent.voice or base.voice,
        )

    def _apply_formats(self, config: SessionConfig) -> None:
        self._input_format = config.input_audio_format or self._input_format
        self._output_format = config.output_audio_format or self._output_format
        self._turn_detection = config.turn_detection or self._turn_detection
        self.playback.set_format(self._output_format)

    def _send(self, event: ClientEvent) -> None:
        if self._status is TransportStatus.CLOSED:
            raise ConnectionClosedError(f"cannot send {event.kind}: the session is closed")
        if self._gave_up:
            raise ConnectionClosedError(
                f"cannot send {event.kind}: the session lost its link to the model and stopped "
                "reconnecting (see its connection_lost error); await connect() to resume the "
                "conversation (its history is replayed), or close() it"
            )
        if event.kind in self._refused_kinds:
            raise UnsupportedEventError(
                f"cannot send {event.kind}: the {self.model.provider} model "
                f"{self.model.model_id!r} cannot take it (see its capabilities)"
            )
        event = with_item_id(event)  # so that the model's item.created acknowledges it
        connection = self._connection
        if connection is None or self._status is not TransportStatus.CONNECTED:
            self._pending.append(event)  # delivered on connect: nothing the user says is lost
            return
        connection.send(event)
        self._unacked.sent(event)

    def _set_status(self, status: TransportStatus) -> None:
        if status is not self._status:
            self._status = status
            self._hub.emit(StatusChanged(status))

    def _on_event(self, event: ServerEvent) -> None:
        try:
            self._handle(event)
        except Exception as exc:
            log.exception("handling %s failed", event.kind)
            self._hub.emit(SessionError("internal_error", f"{event.kind}: {exc}"))

    def _handle(self, event: ServerEvent) -> None:
        if isinstance(event, AudioOutputDelta):
            self._on_audio(event)
            return
        self._unacked.acknowledge(event)
        if isinstance(event, SessionError) and event.fatal and not _is_link_lost(event):
            self._final_close = True  # not worth reconnecting (see _on_events_end)
        if self._reconnect.attempts and _is_link_lost(event) and not self._closing:
            self._lost = event  # told only if the link cannot be brought back
            return
        if isinstance(event, SpeechStarted):
            if self._turn_detection.interrupt_response:
                self._cut_assistant()
        elif isinstance(event, ResponseInterrupted):
            # Providers that report interruptions themselves (local, Gemini) would otherwise
            # double the session's own report: one response.interrupted per interruption.
            if event.response_id is None or event.response_id != self._interrupted_response:
                self._cut_assistant()
            return
        elif isinstance(event, ResponseCreated):
            self._active_response = event.response_id
            self._response_open = True
            self._tools.response_started(event.response_id)
        elif isinstance(event, ResponseDone):
            self.playback.response_done(event.response_id)
            if event.response_id == self._active_response or self._active_response is None:
                self._response_open = False
            self._tools.response_done(event.response_id)
        elif isinstance(event, AudioOutputDone):
            # Channels with a jitter buffer start playing a short item's tail at once when told
            # the item is complete (the optional hook MarksItemEnd).
            if event.item_id is not None:
                self.playback.item_done(event.item_id)
                if isinstance(self.channel, MarksItemEnd):
                    self.channel.mark_end(event.item_id)
        elif isinstance(event, ToolCall):
            self._hub.emit(event)
            self._tools.start(event)
            return
        elif isinstance(event, ToolCancelled) and self._tools.withdraw(event.call_id):
            return  # the runner says tool.cancelled once the tool has stopped
        elif isinstance(event, ItemCreated):
            self.history.upsert(event.item, event.previous_item_id)
        elif isinstance(event, ItemDeleted):
            self.history.delete(event.item_id)
        elif isinstance(event, ItemTruncated):
            received = self.playback.received_ms(event.item_id)
            self.history.truncate(event.item_id, event.audio_end_ms, received)
        elif isinstance(event, TranscriptInput):
            self.history.set_transcript(event.item_id, "user", event.text)
        elif isinstance(event, TranscriptOutput):
            self.history.set_transcript(event.item_id, "assistant", event.text)
        elif isinstance(event, TextOutput):
            self.history.set_text(event.item_id, event.text)
        self._hub.emit(event)

    def _on_audio(self, event: AudioOutputDelta) -> None:
        try:
            audio = event.audio
        except ProtocolError as exc:
            self._hub.emit(SessionError(exc.code, exc.message))
            return
        self._spoken = True
        if event.item_id is not None:
            self.playback.received(
                event.item_id, len(audio), event.content_index, event.response_id
            )
            if self.channel is not None and audio:
                self.channel.play(event.item_id, audio, event.content_index)
        self._hub.emit(event)

    def _cut_assistant(self) -> None:
        """Barge-in or interrupt(): stop what the listener hears and make history match it."""
        position = self.channel.playback_position() if self.channel is not None else None
        speaking = self._response_open or self.playback.still_playing(position)
        self._tools.cancel_all()
        if not speaking:
            return
        if self.channel is not None:
            self.channel.interrupt()
        # The item the listener was hearing first, then any queued behind it (cut at 0).
        points = self.playback.truncate_points(position)
        for point in points:
            # History only when there is no link to tell or the model has no truncation.
            if self._auto_truncate and not self._gave_up and self.capabilities.item_truncate:
                self._send(ItemTruncate(point.item_id, point.audio_end_ms, point.content_index))
            received = self.playback.received_ms(point.item_id)
            self.history.truncate(point.item_id, point.audio_end_ms, received)
        if points:
            self.playback.finish(points)
        heard = points[0] if points else None  # the one response.interrupted names
        self._interrupted_response = self._active_response
        self._hub.emit(
            ResponseInterrupted(
                self._active_response,
                heard.item_id if heard else None,
                heard.audio_end_ms if heard else None,
            )
        )


def _capabilities_of(model: RealtimeModel) -> RealtimeCapabilities:
    """``model.capabilities``; a model written before models declared them is taken to take
    everything (the defaults), which is how the session treated every model then."""
    try:
        return model.capabilities
    except AttributeError:
        return RealtimeCapabilities()


def _is_link_lost(event: ServerEvent) -> TypeGuard[SessionError]:
    return isinstance(event, SessionError) and event.fatal and event.code == "connection_lost"
