"""The strict Gemini Live validator: valid frames pass, and each rule broken once is reported."""

from __future__ import annotations

import base64
import sys
from typing import Any

import pytest

from voicewire.testing.gemini_validation import (
    check_gemini_client,
    validate_gemini_client,
    validate_gemini_server,
)

AUDIO = base64.b64encode(b"\x01\x00" * 160).decode()

SETUP: dict[str, Any] = {
    "setup": {
        "model": "models/gemini-2.5-flash-native-audio-preview-12-2025",
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
        },
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather for a city.",
                        "parameters": {
                            "type": "object",
                            "properties": {"city_name": {"type": "string"}},
                            "required": ["city_name"],
                        },
                    }
                ]
            }
        ],
        "realtimeInputConfig": {
            "automaticActivityDetection": {
                "disabled": False,
                "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
                "silenceDurationMs": 500,
            },
            "activityHandling": "START_OF_ACTIVITY_INTERRUPTS",
        },
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
        "sessionResumption": {"handle": "h-1"},
        "contextWindowCompression": {
            "triggerTokens": 25600,
            "slidingWindow": {"targetTokens": 12800},
        },
    }
}

VALID_CLIENT: list[dict[str, Any]] = [
    SETUP,
    {"setup": {"model": "models/m"}},
    {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": AUDIO}}},
    {"realtimeInput": {"activityStart": {}}},
    {"realtimeInput": {"activityEnd": {}}},
    {"realtimeInput": {"audioStreamEnd": True}},
    {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "-_-_"}}},
    {"realtimeInput": {"text": "hello"}},
    {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": "hi"}]}],
            "turnComplete": True,
        }
    },
    {"clientContent": {"turnComplete": True}},
    {
        "toolResponse": {
            "functionResponses": [
                {"id": "call-1", "name": "get_weather", "response": {"output": {"temp_c": 21}}}
            ]
        }
    },
]


@pytest.mark.parametrize("frame", VALID_CLIENT, ids=lambda f: next(iter(f)))
def test_valid_client_frames_pass_even_in_pure_camel_case(frame: dict[str, Any]) -> None:
    assert validate_gemini_client(frame, camel_case=True) == []


def test_the_sdks_mixed_casing_passes_unless_camel_case_is_required() -> None:
    frame = {
        "realtime_input": {"audio": {"data": AUDIO, "mime_type": "audio/pcm;rate=16000"}},
    }
    assert validate_gemini_client(frame) == []
    problems, casing = check_gemini_client(frame)
    assert problems == []
    assert casing == [
        "realtime_input: not camelCase (realtimeInput)",
        "realtime_input.audio.mime_type: not camelCase (mimeType)",
    ]
    assert validate_gemini_client(frame, camel_case=True) == casing


def test_snake_case_realtime_input_config_is_a_casing_problem_only() -> None:
    frame = {
        "setup": {
            "model": "models/m",
            "realtime_input_config": {"automatic_activity_detection": {"disabled": True}},
        }
    }
    problems, casing = check_gemini_client(frame)
    assert problems == []
    assert "setup.realtime_input_config: not camelCase (realtimeInputConfig)" in casing


def test_data_keys_are_never_casing_problems() -> None:
    """Function arguments, responses and Schema property names belong to the app."""
    problems, casing = check_gemini_client(
        {
            "toolResponse": {
                "functionResponses": [
                    {"id": "c", "name": "f", "response": {"output": {"snake_key": 1}}}
                ]
            }
        }
    )
    assert (problems, casing) == ([], [])
    assert check_gemini_client(SETUP) == ([], [])  # 'city_name' is a property name


def mutated(path: str, value: Any, base: dict[str, Any] = SETUP) -> dict[str, Any]:
    import copy

    frame = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = frame
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return frame


BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("two kinds", {"setup": {"model": "models/m"}, "realtimeInput": {"text": "x"}}, "<frame>"),
    ("no kind", {}, "<frame>"),
    ("unknown kind", {"bogus": {}}, "<frame>"),
    ("unknown key", mutated("setup.voice", "Kore"), "setup.voice: unknown key"),
    (
        "nested unknown key",
        mutated("setup.generationConfig.voice", "Kore"),
        "setup.generationConfig.voice: unknown key",
    ),
    (
        "unknown key in realtimeInputConfig",
        mutated("setup.realtimeInputConfig.vad", True),
        "setup.realtimeInputConfig.vad: unknown key",
    ),
    (
        "unknown enum value in realtimeInputConfig",
        mutated("setup.realtimeInputConfig.activityHandling", "INTERRUPT_ALWAYS"),
        "not a valid ActivityHandling",
    ),
    (
        "unknown enum value",
        mutated("setup.generationConfig.responseModalities", ["SPEECH"]),
        "not a valid Modality",
    ),
    (
        "enum spelled in lower case",
        mutated("setup.generationConfig.responseModalities", ["audio"]),
        "setup.generationConfig.responseModalities[0]: enum value 'audio' must be spelled",
    ),
    (
        "string for a boolean",
        {"realtimeInput": {"audioStreamEnd": "true"}},
        "realtimeInput.audioStreamEnd: a boolean must be JSON true/false",
    ),
    (
        "wrong scalar type",
        mutated("setup.realtimeInputConfig.automaticActivityDetection.silenceDurationMs", "soon"),
        "silenceDurationMs",
    ),
    (
        "unpadded base64",
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "AAA"}}},
        "realtimeInput.audio.data: not padded base64",
    ),
    (
        "mixed base64 alphabets",
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "A+A_"}}},
        "realtimeInput.audio.data",
    ),
    (
        "invalid base64",
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "!!!!"}}},
        "realtimeInput.audio.data",
    ),
    (
        "two realtime inputs",
        {"realtimeInput": {"text": "a", "activityStart": {}}},
        "realtimeInput: exactly one input per frame",
    ),
    ("empty realtime input", {"realtimeInput": {}}, "realtimeInput: exactly one input per frame"),
    ("model without prefix", mutated("setup.model", "gemini-2.5"), "setup.model"),
    (
        "transparent resumption",
        mutated("setup.sessionResumption.transparent", True),
        "setup.sessionResumption.transparent: Vertex AI only",
    ),
    (
        "system role",
        {"clientContent": {"turns": [{"role": "system", "parts": [{"text": "x"}]}]}},
        "clientContent.turns[0].role",
    ),
    (
        "function response without id",
        {"toolResponse": {"functionResponses": [{"name": "f", "response": {}}]}},
        "toolResponse.functionResponses[0].id: required",
    ),
    (
        "function response without name",
        {"toolResponse": {"functionResponses": [{"id": "c", "response": {}}]}},
        "toolResponse.functionResponses[0].name: required",
    ),
    (
        "function response without response",
        {"toolResponse": {"functionResponses": [{"id": "c", "name": "f"}]}},
        "toolResponse.functionResponses[0].response: required",
    ),
    (
        "function response not an object",
        {"toolResponse": {"functionResponses": [{"id": "c", "name": "f", "response": "ok"}]}},
        "toolResponse.functionResponses[0].response: Input should be an object",
    ),
    ("no function responses", {"toolResponse": {}}, "toolResponse.functionResponses"),
    ("null body", {"setup": None}, "setup: must be an object"),
]


@pytest.mark.parametrize(("frame", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_each_broken_rule_is_reported(frame: dict[str, Any], expected: str) -> None:
    problems = validate_gemini_client(frame)
    assert any(expected in p for p in problems), problems


def test_a_frame_that_is_not_an_object_is_a_problem() -> None:
    assert validate_gemini_client(["setup"]) != []  # type: ignore[arg-type]
    assert validate_gemini_server("x") != []  # type: ignore[arg-type]


VALID_SERVER: list[dict[str, Any]] = [
    {"setupComplete": {}},
    {
        "serverContent": {
            "modelTurn": {
                "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": AUDIO}}]
            }
        }
    },
    {"serverContent": {"outputTranscription": {"text": " Hello"}}},
    {"serverContent": {"inputTranscription": {"text": "hi", "finished": True}}},
    {"serverContent": {"interrupted": True}},
    {"serverContent": {"generationComplete": True}},
    {
        "serverContent": {"turnComplete": True},
        "usageMetadata": {
            "promptTokenCount": 10,
            "responseTokenCount": 5,
            "totalTokenCount": 15,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 10}],
        },
    },
    {"toolCall": {"functionCalls": [{"id": "c1", "name": "f", "args": {"a_b": 1}}]}},
    {"toolCallCancellation": {"ids": ["c1"]}},
    {"goAway": {"timeLeft": "2s"}},
    {"sessionResumptionUpdate": {"newHandle": "h", "resumable": True}},
    {"usageMetadata": {"totalTokenCount": 1}},
]


@pytest.mark.parametrize("frame", VALID_SERVER, ids=lambda f: next(iter(f)))
def test_valid_server_frames_pass(frame: dict[str, Any]) -> None:
    assert validate_gemini_server(frame) == []


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"serverContent": {"turnComplete": True}, "goAway": {}}, "<frame>: at most one"),
        ({}, "<frame>: at most one"),
        ({"serverContent": {"done": True}}, "serverContent.done: unknown key"),
        ({"server_content": {"turn_complete": True}}, "server_content: not camelCase"),
        ({"serverContent": {"turnComplete": "yes"}}, "serverContent.turnComplete"),
        (
            {"usageMetadata": {"promptTokensDetails": [{"modality": "SMELL"}]}},
            "not a valid MediaModality",
        ),
    ],
)
def test_broken_server_frames_are_reported(frame: dict[str, Any], expected: str) -> None:
    problems = validate_gemini_server(frame)
    assert any(expected in p for p in problems), problems


def test_server_casing_can_be_relaxed() -> None:
    assert (
        validate_gemini_server({"server_content": {"turn_complete": True}}, camel_case=False) == []
    )


def test_without_google_genai_the_error_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from voicewire.testing import gemini_validation

    gemini_validation._types.cache_clear()
    monkeypatch.setitem(sys.modules, "google.genai", None)  # as if not installed
    try:
        with pytest.raises(RuntimeError, match="pip install google-genai"):
            validate_gemini_client({"setup": {"model": "models/m"}})
    finally:
        monkeypatch.undo()
        gemini_validation._types.cache_clear()
    assert validate_gemini_client({"setup": {"model": "models/m"}}) == []
