"""Each shipped model declares its real capabilities: xAI's follow its published event list, the
OpenAI-protocol codecs refuse exactly what the capabilities say, and the scripted model's
connection handles exactly what it declares (the local model's: tests/providers/local)."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.openai_wire.support import load_spec
from tests.protocol.test_capabilities import ONE_OF_EACH
from voicewire.protocol import (
    AudioFormat,
    ConfigurationError,
    RealtimeCapabilities,
    RealtimeModel,
    SessionConfig,
    SessionError,
)
from voicewire.providers import openai, xai
from voicewire.providers.capability_table import shipped_capabilities
from voicewire.providers.openai import codec as openai_codec
from voicewire.providers.openai_protocol.dialect import OPENAI, XAI, Dialect
from voicewire.providers.xai import codec as xai_codec
from voicewire.testing import ScriptedModel

XAI_SPEC = load_spec("xai_voice_agent_events.json")
WIRE_TYPES = {
    "item.truncate": "conversation.item.truncate",
    "item.delete": "conversation.item.delete",
    "response.create": "response.create",
    "response.cancel": "response.cancel",
    "audio.input.commit": "input_audio_buffer.commit",
    "audio.input.clear": "input_audio_buffer.clear",
}
"""Neutral client events that some provider may lack, and their OpenAI-protocol message."""


def test_xai_takes_what_its_spec_documents_and_nothing_it_lists_as_unsupported() -> None:
    unsupported = set(XAI_SPEC["client_to_server_openai_but_unsupported_per_docs_summary"])
    documented = set(XAI_SPEC["client_to_server_documented"])
    caps = XAI.capabilities
    for kind, wire_type in WIRE_TYPES.items():
        takes = kind not in caps.unsupported_client_events()
        assert takes == (wire_type not in unsupported), kind
        if wire_type in documented:
            assert takes, kind
    assert not caps.item_truncate
    assert not caps.activity_signals  # the OpenAI wire has no activity events
    assert not caps.semantic_vad  # server_vad or none
    assert caps.server_vad and caps.manual_turns and caps.input_transcription
    assert not caps.session_resumption


def test_xai_and_openai_audio_follow_their_specs() -> None:
    assert XAI.pcm_rate_range == (8000, 48000)
    assert OPENAI.pcm_rate_range == (24000, 24000)
    for dialect in (OPENAI, XAI):
        assert dialect.capabilities.input_audio == dialect.capabilities.output_audio
    assert OPENAI.capabilities.live_voice == "before_audio"
    assert XAI.capabilities.live_voice == "any_time"
    assert OPENAI.capabilities.semantic_vad and OPENAI.capabilities.item_truncate


@pytest.mark.parametrize(("dialect", "codec"), [(OPENAI, openai_codec), (XAI, xai_codec)])
def test_the_codec_refuses_exactly_what_the_capabilities_refuse(
    dialect: Dialect, codec: ModuleType
) -> None:
    caps = dialect.capabilities
    for event in ONE_OF_EACH:
        assert (codec.encode_client(event) is None) == (not caps.can_send(event)), event.kind


FORMATS = [
    *(AudioFormat.pcm16(rate) for rate in (8000, 16000, 24000, 44100, 48000, 96000)),
    AudioFormat.pcm16(24000, channels=2),
    AudioFormat.pcmu(),
    AudioFormat.pcma(),
]


@pytest.mark.parametrize(("dialect", "codec"), [(OPENAI, openai_codec), (XAI, xai_codec)])
@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.encoding}-{f.sample_rate}-{f.channels}")
def test_the_codec_takes_exactly_the_declared_audio(
    dialect: Dialect, codec: ModuleType, fmt: AudioFormat
) -> None:
    for field, ranges in (
        ("input_audio_format", dialect.capabilities.input_audio),
        ("output_audio_format", dialect.capabilities.output_audio),
    ):
        declared = any(r.covers(fmt) for r in ranges)
        try:
            codec.encode_session(SessionConfig(**{field: fmt}))  # type: ignore[arg-type]
        except ConfigurationError:
            assert not declared, (field, fmt)
        else:
            assert declared, (field, fmt)


def test_models_expose_their_dialects_capabilities() -> None:
    models: list[RealtimeModel] = [openai.realtime(api_key="k"), xai.realtime(api_key="k")]
    assert [m.capabilities for m in models] == [OPENAI.capabilities, XAI.capabilities]
    assert all(isinstance(m, RealtimeModel) for m in [*models, ScriptedModel()])


async def test_the_scripted_model_handles_exactly_what_it_declares() -> None:
    model = ScriptedModel()
    refused: set[str] = set()
    for event in ONE_OF_EACH:
        connection = await model.connect()
        connection.send(event)
        await connection.close()
        errors = [e async for e in connection if isinstance(e, SessionError)]
        if any(e.code == "unsupported_event" for e in errors):
            refused.add(event.kind)
    assert refused == model.capabilities.unsupported_client_events()
    assert refused == {"activity.start", "activity.end"}
    assert model.capabilities.input_audio[0].covers(AudioFormat.pcm16(16000))
    assert model.capabilities != RealtimeCapabilities()


def test_every_shipped_model_states_the_turn_detection_it_uses_when_none_is_named() -> None:
    defaults = {name: caps.default_turn_detection for name, caps in shipped_capabilities().items()}
    local = defaults.pop("local")
    assert defaults == {
        "openai": "server_vad",
        "xai": "server_vad",
        "gemini": "server_vad",  # automatic activity detection
        "elevenlabs": "semantic_vad",  # the agent's turn model
    }
    assert local in ("server_vad", "semantic_vad")
    for name, caps in shipped_capabilities().items():
        assert getattr(caps, str(caps.default_turn_detection)), name  # a mode it declares
