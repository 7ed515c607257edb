"""Test helpers: a scripted fake realtime server speaking the OpenAI Realtime GA protocol (or
xAI's dialect) over a real WebSocket, deterministic test audio, and strict wire validation.

::

    from voicewire.testing import AudioReply, FakeRealtimeServer, TextReply, ToolCallReply

    async with FakeRealtimeServer(dialect="openai", api_key="sk-test") as server:
        server.script.on("weather", ToolCallReply("get_weather", {"city": "Paris"},
                                                  then=AudioReply("It is sunny.")))
        server.script.default = TextReply("ok")
        server.script.input_transcript = "what's the weather in paris"
        url = f"{server.base_url}/realtime?model=gpt-realtime"
        ...
        assert server.violations == []

See :mod:`voicewire.testing.fake_server` for the exact behaviour and event order.
:class:`FakeElevenLabsServer` (:mod:`voicewire.testing.fake_elevenlabs`) speaks the ElevenLabs
Agents protocol the same way, scripted by the same :class:`Script`, and checks every frame
against ElevenLabs' AsyncAPI (:mod:`voicewire.testing.elevenlabs_validation`).
:class:`FakeGeminiServer` (:mod:`voicewire.testing.fake_gemini`) speaks Gemini Live, with its
resumption handles, goAway, ephemeral tokens and close codes, and checks every frame against
google-genai's types (:mod:`voicewire.testing.gemini_validation`).
:func:`die_with_parent` (:mod:`voicewire.testing.parent_death`), as a subprocess's
``preexec_fn``, makes a server a test starts die with the test run, however it is killed.
"""

from .elevenlabs_validation import validate_elevenlabs_client, validate_elevenlabs_server
from .fake_elevenlabs import FakeElevenLabsServer
from .fake_gemini import FakeGeminiServer
from .fake_server import FakeRealtimeServer
from .fault_proxy import FaultProxy, ProxyStats
from .gemini_validation import validate_gemini_client, validate_gemini_server
from .parent_death import die_with_parent
from .script import AudioReply, Reply, Script, TextReply, ToolCallReply
from .scripted_model import ScriptedConnection, ScriptedModel
from .tones import rms, silence, tone
from .validation import openai_available, validate_client_event, validate_server_event

__all__ = [
    "AudioReply",
    "FakeElevenLabsServer",
    "FakeGeminiServer",
    "FakeRealtimeServer",
    "FaultProxy",
    "ProxyStats",
    "Reply",
    "Script",
    "ScriptedConnection",
    "ScriptedModel",
    "TextReply",
    "ToolCallReply",
    "die_with_parent",
    "openai_available",
    "rms",
    "silence",
    "tone",
    "validate_client_event",
    "validate_elevenlabs_client",
    "validate_elevenlabs_server",
    "validate_gemini_client",
    "validate_gemini_server",
    "validate_server_event",
]
