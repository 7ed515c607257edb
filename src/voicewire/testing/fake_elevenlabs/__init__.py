"""A scripted fake ElevenLabs Agents server over real WebSockets on 127.0.0.1.

::

    from voicewire.testing import AudioReply, FakeElevenLabsServer, ToolCallReply
    from voicewire.testing.fake_elevenlabs import AgentConfig

    agent = AgentConfig(agent_output_audio_format="pcm_44100",
                        client_tools=frozenset({"get_weather"}))
    async with FakeElevenLabsServer(agent_id="agent_x", api_key="xi-test", agent=agent) as server:
        server.script.on("weather", ToolCallReply("get_weather", {"city": "Paris"},
                                                  then=AudioReply("It is sunny.")))
        model = elevenlabs.realtime("agent_x", api_key="xi-test", base_url=server.base_url)
        ...
        assert server.violations == [] and server.sent_violations == []

It is the oracle the ElevenLabs provider is tested against, so it is written from the
platform's documentation and official AsyncAPI, independently of voicewire's codec: every frame
it receives is validated strictly against that spec
(:mod:`voicewire.testing.elevenlabs_validation`), and every frame it sends as well.

What it does, in the order a client meets it:

* HTTP on the WebSocket's port (:mod:`.http`): ``GET /v1/convai/conversation/get-signed-url
  ?agent_id=`` with ``xi-api-key`` mints a signed URL valid 15 minutes (401/404 JSON errors in
  ElevenLabs' ``{"detail": {"status", "message"}}`` shape otherwise). The socket is
  ``/v1/convai/conversation?agent_id=...``; a private agent (``private=True``) refuses it with
  HTTP 403 unless it carries a valid, unexpired ``conversation_signature`` this server minted.
* Start: an optional first frame ``conversation_initiation_client_data``; its
  ``conversation_config_override`` is applied to the agent (:class:`AgentConfig`), and a field
  not enabled on the agent gets an ``error`` event (``override_error``, code 1008) and close
  1008, as the platform does. Then ``conversation_initiation_metadata`` with the agent's audio
  formats, and the agent's first message (if any). Without initiation data the conversation
  starts after ``initiation_timeout``, or at the first other frame.
* ``user_audio_chunk``: decoded in the announced input format (``pcm_<rate>`` or ``ulaw_8000``)
  into :attr:`~FakeElevenLabsServer.input_audio` and fed to the energy VAD shared with the other
  fakes (:mod:`voicewire.testing.energy_vad`): ``vad_score`` 1.0 when speech starts, 0.0 when
  it ends. Speech during a reply interrupts it; the end of a user turn sends
  ``tentative_user_transcript`` (growing prefixes) and ``user_transcript`` (the script's
  :meth:`~voicewire.testing.Script.next_transcript`) and the agent answers. See :mod:`.turns`
  for replies, event ids, tool calls, ``interruption`` and ``agent_response_correction``.
* ``user_message`` (and a ``multimodal_message``'s text) is a user turn: it interrupts a reply in
  progress and the agent answers; no transcript is echoed. ``contextual_update`` is recorded in
  the conversation (the latest per ``context_id``), ``user_activity`` counted, ``feedback``
  recorded in ``received`` only. ``client_tool_result`` resumes the waiting turn.
* Pings: every ``ping_interval`` seconds (off by default) and on :meth:`ping`, ``ping`` with an
  increasing ``event_id`` (a counter of its own) and the previous latency as ``ping_ms``;
  ``pong`` is matched by ``event_id`` into :attr:`~FakeElevenLabsServer.pongs`. With
  ``strict_pongs`` a ping still unanswered when the next is due closes the conversation (1002).
* Server messages are filtered by the agent's ``client_events`` (``error`` and the metadata
  always go out), as the platform filters them.

Invalid client frames, the way ElevenLabs treats them: a binary frame, malformed JSON, a
non-object, an unknown type, a wrong type or a missing required field is recorded in
``violations`` and answered with an ``error`` event (``invalid_message`` or
``missing_fields``, code 1008) and close 1008. Unknown *keys* in an otherwise valid message are
recorded in ``violations`` but the message is served (the platform's models ignore extras), so a
test still fails on them while the conversation goes on.

Controls: :meth:`~FakeElevenLabsServer.ping`, :meth:`~FakeElevenLabsServer.send_event`,
:meth:`~FakeElevenLabsServer.send_error` (``error`` event then close with its code),
:meth:`~FakeElevenLabsServer.close_with` (close code only),
:meth:`~FakeElevenLabsServer.drop_connections` (no close frame: 1006).
"""

from .agent import AgentConfig, AudioFormat, OverrideError, parse_audio_format
from .server import FakeElevenLabsServer
from .state import Conversation, PingRecord

__all__ = [
    "AgentConfig",
    "AudioFormat",
    "Conversation",
    "FakeElevenLabsServer",
    "OverrideError",
    "PingRecord",
    "parse_audio_format",
]
