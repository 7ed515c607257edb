"""ElevenLabs wire messages as the AsyncAPI spells them, for the codec and connection tests.

Every server message a test feeds the codec goes through :func:`decode`, which first checks it
against the official AsyncAPI (:func:`validate_elevenlabs_server`): the fixtures are the
provider's shapes, not the codec's expectations. Every client message the codec writes is checked
the same way, strictly (unknown keys are errors), by :func:`encode`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from voicewire.protocol import ClientEvent, ServerEvent
from voicewire.providers.codec_connection import Reply
from voicewire.providers.elevenlabs import ElevenLabsCodec
from voicewire.testing.elevenlabs_validation import (
    validate_elevenlabs_client,
    validate_elevenlabs_server,
)


def decode(codec: ElevenLabsCodec, message: dict[str, Any]) -> Sequence[ServerEvent | Reply]:
    """Validate ``message`` against the spec, then decode it (from its JSON text)."""
    assert validate_elevenlabs_server(message) == [], message
    return codec.decode_server_text(json.dumps(message))


def events(codec: ElevenLabsCodec, *messages: dict[str, Any]) -> list[ServerEvent]:
    """The events (not replies) of ``messages``, in order."""
    out: list[ServerEvent] = []
    for message in messages:
        out += [e for e in decode(codec, message) if not isinstance(e, Reply)]
    return out


def kinds(decoded: Sequence[object]) -> list[str]:
    return [getattr(e, "kind", type(e).__name__) for e in decoded]


def encode(codec: ElevenLabsCodec, event: ClientEvent) -> dict[str, Any]:
    """Encode ``event`` and check the message strictly against the spec."""
    message = codec.encode_client(event)
    assert message is not None, event
    assert validate_elevenlabs_client(message) == [], message
    return message


def b64(audio: bytes) -> str:
    return base64.b64encode(audio).decode()


def metadata(
    conversation_id: str = "conv_1",
    *,
    output_format: str = "pcm_24000",
    input_format: str = "pcm_16000",
) -> dict[str, Any]:
    return {
        "type": "conversation_initiation_metadata",
        "conversation_initiation_metadata_event": {
            "conversation_id": conversation_id,
            "agent_output_audio_format": output_format,
            "user_input_audio_format": input_format,
        },
    }


def audio(event_id: int, data: bytes = b"\x01\x00" * 240) -> dict[str, Any]:
    return {"type": "audio", "audio_event": {"audio_base_64": b64(data), "event_id": event_id}}


def agent_response(text: str, event_id: int) -> dict[str, Any]:
    return {
        "type": "agent_response",
        "agent_response_event": {"agent_response": text, "event_id": event_id},
    }


def response_part(kind: str, text: str, event_id: int) -> dict[str, Any]:
    return {
        "type": "agent_chat_response_part",
        "text_response_part": {"text": text, "type": kind, "event_id": event_id},
    }


def correction(original: str, corrected: str, event_id: int) -> dict[str, Any]:
    return {
        "type": "agent_response_correction",
        "agent_response_correction_event": {
            "original_agent_response": original,
            "corrected_agent_response": corrected,
            "event_id": event_id,
        },
    }


def user_transcript(text: str, event_id: int) -> dict[str, Any]:
    return {
        "type": "user_transcript",
        "user_transcription_event": {"user_transcript": text, "event_id": event_id},
    }


def tentative(text: str, event_id: int) -> dict[str, Any]:
    return {
        "type": "tentative_user_transcript",
        "tentative_user_transcription_event": {"user_transcript": text, "event_id": event_id},
    }


def interruption(event_id: int) -> dict[str, Any]:
    return {"type": "interruption", "interruption_event": {"event_id": event_id}}


def ping(event_id: int, ping_ms: int | None = None) -> dict[str, Any]:
    return {"type": "ping", "ping_event": {"event_id": event_id, "ping_ms": ping_ms}}


def tool_call(name: str, call_id: str, parameters: dict[str, Any], event_id: int) -> dict[str, Any]:
    return {
        "type": "client_tool_call",
        "client_tool_call": {
            "tool_name": name,
            "tool_call_id": call_id,
            "parameters": parameters,
            "event_id": event_id,
        },
    }


def error(code: int, message: str, error_type: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"code": code, "message": message}
    if error_type is not None:
        event["error_type"] = error_type
    return {"type": "error", "error_event": event}
