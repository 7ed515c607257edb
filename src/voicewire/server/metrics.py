"""Prometheus metrics of a voicewire server, served at ``GET /metrics``.

Each app has its own :class:`~prometheus_client.CollectorRegistry` (never the library's global
one), so two apps in one process (tests, an app serving two agents) keep separate figures.

What is measured, and where it is taken, so that the audio path pays nothing per frame:

==================================================== ============================================
metric                                               taken from
==================================================== ============================================
``voicewire_sessions_active``                        each connection served (gauge)
``voicewire_sessions_closed_total{reason}``          how the relay ended (see :func:`close_label`)
``voicewire_frames_total{direction="in"|"out"}``     the relay's plain ``int`` counts, added to the
                                                     counter at each scrape and at session end
``voicewire_model_reconnects_total{outcome}``        the session's ``status.changed`` events
``voicewire_sessions_resumed_total{outcome}``        :meth:`ServerMetrics.session_resumed`
``voicewire_tool_call_duration_seconds{tool,outcome}`` ``tool.call`` to ``tool.output``
``voicewire_errors_total{source,code}``              refused client frames (``source="client"``),
                                                     ``session.error`` events (``"session"``),
                                                     requests refused for a rate limit, an
                                                     unreachable state backend, capacity or a
                                                     drain (``"refusal"``)
``voicewire_model_connect_seconds{phase}``           ``connecting``/``reconnecting`` to
                                                     ``connected``
``voicewire_speech_end_to_first_audio_seconds``      ``speech.stopped`` to the first audio delta
                                                     of a response started after it
==================================================== ============================================

The session's events are watched through ``session.on()`` handlers for the few kinds that matter;
audio deltas are watched only between the end of the user's speech and the first answering delta.
Frames are counted by the relay as plain integers (a Prometheus counter takes a lock on every
``inc()``), and moved into the counter when ``/metrics`` is scraped and when a session ends.

Label values stay bounded: tool names are the agent's (any other is ``unknown``), error codes are
kept to :data:`MAX_ERROR_CODES` distinct well-formed codes (``other`` beyond), close reasons are a
fixed set.

**Several worker processes** (``voicewire serve --workers N``): each worker counts its own, and a
scrape of the shared port reaches whichever worker the kernel picks. Set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory in the environment that starts the server
(before Python imports ``prometheus_client``, as that library requires): every worker then writes
its values there and ``/metrics`` answers with all workers' figures summed
(:class:`~prometheus_client.multiprocess.MultiProcessCollector`; ``voicewire_sessions_active``
counts the live workers' sessions). Empty the directory before each start. In that mode the
frames of a session still running in another worker appear once that worker is scraped or the
session ends.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from voicewire.protocol import (
    AudioOutputDelta,
    ResponseCreated,
    ResponseDone,
    SessionError,
    SpeechStopped,
    ToolCall,
    ToolCancelled,
    TransportStatus,
)
from voicewire.session import StatusChanged, ToolOutput

if TYPE_CHECKING:
    from voicewire.session import RealtimeSession

__all__ = ["CONTENT_TYPE_LATEST", "MAX_ERROR_CODES", "ServerMetrics", "close_label"]

MAX_ERROR_CODES: Final = 64
"""Distinct error codes given their own label value; later ones count as ``other``."""
_CODE: Final = re.compile(r"[a-z0-9_.\-]{1,64}")
_LATENCY_BUCKETS: Final = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_TOOL_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_CLOSE_REASONS: Final = {
    "model unavailable": "model_unavailable",
    "the model connection was lost": "model_lost",
    "session closed": "session_closed",
}
_CLOSE_CODES: Final = {
    1000: "normal",
    1001: "going_away",
    1008: "policy_violation",
    1011: "server_error",
    1012: "service_restart",
    1013: "try_again_later",
}


class Counted(Protocol):
    """What the metrics read of a relay: its frame counts and the close it sent."""

    @property
    def frames_in(self) -> int: ...
    @property
    def frames_out(self) -> int: ...
    @property
    def close_sent(self) -> tuple[int, str] | None: ...


def close_label(close_sent: tuple[int, str] | None, *, failed: bool = False) -> str:
    """The ``reason`` label of a closed session: ``client_closed`` when the server sent no close
    (the client left), ``error`` when serving it raised, else what the server's close says
    (``model_unavailable``, ``model_lost``, ``session_closed``, ``client_too_slow``, or the close
    code's name: ``service_restart``, ``try_again_later``, ...)."""
    if failed:
        return "error"
    if close_sent is None:
        return "client_closed"
    code, reason = close_sent
    if reason.startswith("client too slow"):
        return "client_too_slow"
    return _CLOSE_REASONS.get(reason) or _CLOSE_CODES.get(code, "other")


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multiprocess mode, when that mode is on (the
    environment variable was set before ``prometheus_client`` was imported)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and values.ValueClass is not values.MutexValue else None


class ServerMetrics:
    """The metrics of one app (``app.state.voicewire.metrics``); see the module docstring.

    Args:
        tools: the agent's tool names (the ``tool`` label's values; others are ``unknown``).
    """

    def __init__(self, tools: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tools = frozenset(tools)
        self.multiprocess_dir = multiprocess_dir()
        registry = self.registry
        self.sessions_active = Gauge(
            "voicewire_sessions_active",
            "Client sessions being served.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.sessions_closed = Counter(
            "voicewire_sessions_closed",
            "Client sessions ended, by reason.",
            ["reason"],
            registry=registry,
        )
        self.frames = Counter(
            "voicewire_frames",
            "WebSocket messages from clients (in) and to clients (out).",
            ["direction"],
            registry=registry,
        )
        self.reconnects = Counter(
            "voicewire_model_reconnects",
            "Model links that dropped and were brought back (reconnected) or not (failed).",
            ["outcome"],
            registry=registry,
        )
        self.resumes = Counter(
            "voicewire_sessions_resumed",
            "Client sessions resumed with a resume handle, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.tool_calls = Histogram(
            "voicewire_tool_call_duration_seconds",
            "Tool calls, from the model's call to the output sent back.",
            ["tool", "outcome"],
            buckets=_TOOL_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "voicewire_errors",
            "Errors sent to clients: refused client frames (client) and session errors (session).",
            ["source", "code"],
            registry=registry,
        )
        self.model_connect = Histogram(
            "voicewire_model_connect_seconds",
            "Time to connect to the model (connect) or to bring a dropped link back (reconnect).",
            ["phase"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.first_audio = Histogram(
            "voicewire_speech_end_to_first_audio_seconds",
            "From the end of the user's speech to the first audio of the answer.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._codes: set[str] = set()
        self._reported: dict[Counted, tuple[int, int]] = {}

    # -- sessions --------------------------------------------------------------------------------

    def session_opened(self, relay: Counted, session: RealtimeSession) -> Callable[[], None]:
        """Count a session being served and watch its events; returns the unsubscribe."""
        self.sessions_active.inc()
        self._reported[relay] = (0, 0)
        return SessionWatch(self, session).unsubscribe

    def session_closed(self, relay: Counted, *, failed: bool = False) -> None:
        """Count a session's end (its reason: :func:`close_label`) and its last frames."""
        self._add_frames(relay)
        self._reported.pop(relay, None)
        self.sessions_active.dec()
        self.sessions_closed.labels(close_label(relay.close_sent, failed=failed)).inc()

    def session_resumed(self, outcome: str = "resumed") -> None:
        """Count a client session brought back with its resume handle (``resumed``) or a handle
        refused (``refused``)."""
        self.resumes.labels(outcome).inc()

    def error(self, code: str, source: str = "client") -> None:
        """Count an error sent to a client."""
        if code not in self._codes:
            if len(self._codes) >= MAX_ERROR_CODES or not _CODE.fullmatch(code):
                code = "other"
            else:
                self._codes.add(code)
        self.errors.labels(source, code).inc()

    # -- exposition ------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The text exposition of every metric (all workers' in multiprocess mode)."""
        for relay in list(self._reported):
            self._add_frames(relay)
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)

    def _add_frames(self, relay: Counted) -> None:
        seen_in, seen_out = self._reported.get(relay, (0, 0))
        now_in, now_out = relay.frames_in, relay.frames_out
        if now_in > seen_in:
            self.frames.labels("in").inc(now_in - seen_in)
        if now_out > seen_out:
            self.frames.labels("out").inc(now_out - seen_out)
        self._reported[relay] = (now_in, now_out)


class SessionWatch:
    """Watches one session's events for the metrics (the handlers run in the session's task)."""

    def __init__(self, metrics: ServerMetrics, session: RealtimeSession) -> None:
        self.metrics = metrics
        self.session = session
        self._since: tuple[str, float] | None = None  # connect or reconnect, and when
        self._tools: dict[str, tuple[str, float]] = {}  # call id: (tool label, start)
        self._cancelled: set[str] = set()
        self._open: set[str | None] = set()  # responses started and not done
        self._speech_end: float | None = None
        self._stale: frozenset[str | None] = frozenset()  # responses open when speech ended
        self._audio_off: Callable[[], None] | None = None
        self._offs = [
            session.on("status.changed", self._status),
            session.on("tool.call", self._tool_call),
            session.on("tool.cancelled", self._tool_cancelled),
            session.on("tool.output", self._tool_output),
            session.on("session.error", self._error),
            session.on("speech.started", self._speech_started),
            session.on("speech.stopped", self._speech_stopped),
            session.on("response.created", self._response_created),
            session.on("response.done", self._response_done),
        ]

    def unsubscribe(self) -> None:
        """Stop watching."""
        for off in self._offs:
            off()
        self._stop_listening()

    def _status(self, event: StatusChanged) -> None:
        status, metrics = event.status, self.metrics
        if status is TransportStatus.CONNECTING or status is TransportStatus.RECONNECTING:
            phase = "connect" if status is TransportStatus.CONNECTING else "reconnect"
            self._since = (phase, time.perf_counter())
            return
        since, self._since = self._since, None
        if since is None:
            return
        phase, started = since
        if status is TransportStatus.CONNECTED:
            metrics.model_connect.labels(phase).observe(time.perf_counter() - started)
            if phase == "reconnect":
                metrics.reconnects.labels("reconnected").inc()
        elif phase == "reconnect":  # disconnected (given up) or closed meanwhile
            metrics.reconnects.labels("failed").inc()

    def _tool_call(self, event: ToolCall) -> None:
        if event.call_id not in self._tools:
            name = event.name if event.name in self.metrics.tools else "unknown"
            self._tools[event.call_id] = (name, time.perf_counter())

    def _tool_cancelled(self, event: ToolCancelled) -> None:
        self._cancelled.add(event.call_id)

    def _tool_output(self, event: ToolOutput) -> None:
        started = self._tools.pop(event.call_id, None)
        if started is None:
            return
        if event.call_id in self._cancelled:
            self._cancelled.discard(event.call_id)
            outcome = "cancelled"
        else:
            outcome = "error" if event.is_error else "ok"
        name, since = started
        self.metrics.tool_calls.labels(name, outcome).observe(time.perf_counter() - since)

    def _error(self, event: SessionError) -> None:
        self.metrics.error(event.code, "session")

    def _response_created(self, event: ResponseCreated) -> None:
        self._open.add(event.response_id)

    def _response_done(self, event: ResponseDone) -> None:
        self._open.discard(event.response_id)

    def _speech_started(self, event: object) -> None:
        self._speech_end = None  # the user goes on: their turn has not ended yet
        self._stop_listening()

    def _speech_stopped(self, event: SpeechStopped) -> None:
        self._speech_end = time.perf_counter()
        self._stale = frozenset(self._open)  # an answer cut off before is not the reply
        if self._audio_off is None:
            self._audio_off = self.session.on("audio.output.delta", self._audio)

    def _audio(self, event: AudioOutputDelta) -> None:
        ended = self._speech_end
        if ended is None or event.response_id in self._stale:
            return
        self._speech_end = None
        self.metrics.first_audio.observe(time.perf_counter() - ended)
        self._stop_listening()

    def _stop_listening(self) -> None:
        off, self._audio_off = self._audio_off, None
        if off is not None:
            off()
