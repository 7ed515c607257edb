"""``ScriptedModel``: a deterministic, in-process :class:`~voicewire.protocol.RealtimeModel`.

No sockets, no keys, no provider: :meth:`ScriptedModel.connect` returns a connection that answers
neutral client events with neutral server events, in the order a real provider would, following a
:class:`~voicewire.testing.script.Script` (the same rules as the fake WebSocket server)::

    model = ScriptedModel()
    model.script.on("weather", ToolCallReply("get_weather", {"city": "Paris"},
                                             then=TextReply("It is sunny.")))
    model.script.default = AudioReply("Okay.")
    session = RealtimeSession(agent, model=model)

Behaviour, per connection:

* ``session.created`` (and ``session.updated`` for the connect options' config) first.
* ``item.create`` adds the item (``item.created``); ``item.delete`` / ``item.truncate`` answer
  ``item.deleted`` / ``item.truncated``; ``tool.result`` adds the call's output item.
* Input audio collects in a buffer. ``audio.input.commit`` (or the energy VAD below) commits it:
  ``audio.input.committed``, the user item, and — always, unlike OpenAI, so the session history
  has the user's words — its transcript, :meth:`Script.next_transcript`, as ``transcript.input``
  deltas and the final ``transcript.input``.
* Turn detection: unless the session's turn detection is ``manual``, 10 ms frames at or above
  ``vad_rms_threshold`` (RMS, fraction of full scale) are speech: ``speech.started`` (cancelling
  an active response when ``interrupt_response``), and ``silence_duration_ms`` (default 200) of
  quiet frames ``speech.stopped``, a commit and, when ``create_response``, a response. This is
  the fake realtime server's detector (:mod:`voicewire.testing.energy_vad`): positions count
  all input audio, the padded start (``prefix_padding_ms``, default 300) stays within the
  uncommitted buffer, and a commit ends the speech it took.
* ``response.create`` answers with the script's reply for the latest user words (or, after a tool
  result, the issuing :class:`ToolCallReply`'s ``then``): ``response.created``, an assistant item,
  text deltas, or audio deltas (a deterministic tone in the output format) with transcript deltas,
  or a tool call (``tool.start``, ``tool.delta``, ``tool.call``), then ``response.done`` with
  usage. ``response.cancel`` (or barge-in) stops it: ``response.done`` with status
  ``cancelled``. One response at a time, as at OpenAI.
* ``echo=True``: every input audio chunk is sent straight back as an output audio delta of an
  ongoing response, which ``audio.input.commit`` closes; there is no VAD and no transcription.
  Input and output formats are assumed equal. This is the load benchmark's model.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from datetime import UTC, datetime, timedelta

from voicewire.protocol import (
    ClientEvent,
    ConnectAbortedError,
    ConnectOptions,
    RealtimeCapabilities,
    TokenCredential,
)
from voicewire.protocol.capabilities import telephony_and_pcm
from voicewire.protocol.config import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

from .script import Script
from .scripted_connection import ScriptedConnection

__all__ = ["SCRIPTED_CAPABILITIES", "ScriptedConnection", "ScriptedModel"]

_RECORD_LIMIT = 10_000

SCRIPTED_CAPABILITIES = RealtimeCapabilities(
    activity_signals=False,  # no activity.start / activity.end: commit instead
    semantic_vad=False,  # any turn detection but manual is the energy VAD
    input_audio=telephony_and_pcm(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE),  # mono, any PCM rate
    output_audio=telephony_and_pcm(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE),
)
"""What :class:`ScriptedModel` takes: every neutral client event but the activity signals."""


class ScriptedModel:
    """A realtime model that follows a script; see the module docstring.

    Args:
        script: the replies (a fresh :class:`Script` by default; shared by all connections).
        echo: send input audio straight back as output audio (for load tests).
        model_id: the model's name.
        api_key: a pretend provider key. It is never sent, shown or used: tests give one to check
            that a server never leaks its model's key.
        vad_rms_threshold: frame RMS at or above which the energy VAD hears speech.
        token_ttl: lifetime of the pretend ephemeral tokens :meth:`authenticate` mints.
        connect_delay: seconds :meth:`connect` takes, like a model that is slow to start a
            session (the local model takes ~2 s).

    Attributes:
        received: client events received over all connections, except audio appends (counted in
            :attr:`input_audio_bytes`); the latest 10 000 are kept.
        connections: the live connections.
        connect_count: connections opened so far.
    """

    def __init__(
        self,
        script: Script | None = None,
        *,
        echo: bool = False,
        model_id: str = "scripted",
        api_key: str | None = None,
        vad_rms_threshold: float = 0.02,
        token_ttl: float = 600,
        connect_delay: float = 0.0,
    ) -> None:
        self.script = script if script is not None else Script()
        self.echo = echo
        self._model_id = model_id
        self._api_key = api_key
        self.vad_rms_threshold = vad_rms_threshold
        self.token_ttl = token_ttl
        self.connect_delay = connect_delay
        self.received: list[ClientEvent] = []
        self.input_audio_bytes = 0
        self.connections: list[ScriptedConnection] = []
        self.connect_count = 0
        self.ids = itertools.count(1)
        """Item, response and call ids: one count for all of the model's sessions, so that ids
        never clash when a reconnecting session replays items under their ids."""

    def __repr__(self) -> str:
        return f"ScriptedModel({self._model_id!r}, echo={self.echo})"

    @property
    def provider(self) -> str:
        return "scripted"

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def capabilities(self) -> RealtimeCapabilities:
        return SCRIPTED_CAPABILITIES

    async def connect(self, options: ConnectOptions | None = None) -> ScriptedConnection:
        options = options or ConnectOptions()
        if self.connect_delay > 0:
            await asyncio.sleep(self.connect_delay)
        if options.abort is not None and options.abort.is_set():
            raise ConnectAbortedError("the connect was aborted")
        self.connect_count += 1
        connection = ScriptedConnection(self, options, f"sess_scripted{self.connect_count:04d}")
        self.connections.append(connection)
        return connection

    async def authenticate(self) -> TokenCredential:
        """A pretend ephemeral token (never the api_key)."""
        expires = datetime.now(UTC) + timedelta(seconds=self.token_ttl)
        return TokenCredential(f"scripted_ek_{secrets.token_urlsafe(16)}", expires)

    def received_kinds(self) -> list[str]:
        return [event.kind for event in self.received]

    def _record(self, event: ClientEvent) -> None:
        if event.kind == "audio.input.append":
            return
        if len(self.received) >= _RECORD_LIMIT:
            del self.received[: _RECORD_LIMIT // 2]
        self.received.append(event)
