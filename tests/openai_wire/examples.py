"""Neutral client events used by the OpenAI and xAI encoding tests: realistic and maximal."""

from __future__ import annotations

from tests.openai_wire.support import AUDIO
from voicewire.protocol import (
    ActivityEnd,
    ActivityStart,
    AudioFormat,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCommit,
    AudioPart,
    ClientEvent,
    ItemCreate,
    ItemDelete,
    ItemTruncate,
    MessageItem,
    ResponseCancel,
    ResponseConfig,
    ResponseCreate,
    SessionConfig,
    SessionUpdate,
    TextPart,
    ToolCallItem,
    ToolDefinition,
    ToolResult,
    ToolResultItem,
    TranscriptionConfig,
    TurnDetection,
    VoiceConfig,
    user_text,
)

WEATHER = ToolDefinition(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
)
HANG_UP = ToolDefinition("hang_up", "End the call.", {"type": "object", "properties": {}})

FULL_PCM = SessionConfig(
    instructions="You are a concise phone assistant.",
    tools=(WEATHER, HANG_UP),
    tool_choice="get_weather",
    modalities=("audio",),
    voice=VoiceConfig(voice_id="marin", speed=1.2),
    input_audio_format=AudioFormat.pcm16(24000),
    output_audio_format=AudioFormat.pcm16(24000),
    turn_detection=TurnDetection(
        mode="server_vad",
        threshold=0.6,
        silence_duration_ms=450,
        prefix_padding_ms=250,
        create_response=True,
        interrupt_response=False,
    ),
    transcription=TranscriptionConfig(
        model="gpt-4o-mini-transcribe", language="en", prompt="weather, cities"
    ),
    max_output_tokens=1024,
    provider_options={
        "audio": {"input": {"noise_reduction": {"type": "near_field"}}},
        "tracing": "auto",
        "truncation": "auto",
    },
)
FULL_G711 = SessionConfig(
    instructions="Telephony agent.",
    tools=(WEATHER,),
    tool_choice="required",
    modalities=("text",),
    voice=VoiceConfig(voice_id="cedar", speed=0.9),
    input_audio_format=AudioFormat.pcmu(),
    output_audio_format=AudioFormat.pcma(),
    turn_detection=TurnDetection(
        mode="semantic_vad", eagerness="high", create_response=False, interrupt_response=True
    ),
    transcription=TranscriptionConfig(model="whisper-1"),
    max_output_tokens=300,
)
MANUAL = SessionConfig(
    instructions="Push to talk.",
    tool_choice="none",
    input_audio_format=AudioFormat.pcmu(),
    output_audio_format=AudioFormat.pcmu(),
    turn_detection=TurnDetection(mode="manual"),
    voice=VoiceConfig(speed=1.0),
)

CLIENT_EXAMPLES: dict[str, ClientEvent] = {
    "session.update minimal": SessionUpdate(SessionConfig()),
    "session.update full pcm + server_vad": SessionUpdate(FULL_PCM),
    "session.update full g711 + semantic_vad": SessionUpdate(FULL_G711),
    "session.update manual turns": SessionUpdate(MANUAL),
    "session.update instructions only": SessionUpdate(SessionConfig(instructions="Hi")),
    "item.create user text": ItemCreate(user_text("Hello!")),
    "item.create user audio": ItemCreate(
        MessageItem("item_u1", "user", (AudioPart(transcript="hello", audio=AUDIO),)),
        previous_item_id="item_prev",
    ),
    "item.create user text+audio": ItemCreate(
        MessageItem(None, "user", (TextPart("look:"), AudioPart(audio=AUDIO)))
    ),
    "item.create assistant": ItemCreate(
        MessageItem(
            "item_a1",
            "assistant",
            (AudioPart(transcript="It is sunny."), TextPart(" 21 degrees.")),
            status="completed",
        )
    ),
    "item.create system": ItemCreate(
        MessageItem(None, "system", (TextPart("The user is on a train."), AudioPart("noisy")))
    ),
    "item.create tool call": ItemCreate(
        ToolCallItem("item_fc1", "call_1", "get_weather", '{"city": "Paris"}', "completed")
    ),
    "item.create tool result": ItemCreate(
        ToolResultItem("item_fo1", "call_1", '{"sky": "clear"}', name="get_weather")
    ),
    "item.delete": ItemDelete("item_a1"),
    "item.truncate": ItemTruncate("item_a1", audio_end_ms=1830, content_index=0),
    "audio.input.append": AudioInputAppend(AUDIO),
    "audio.input.append empty": AudioInputAppend(b""),
    "audio.input.commit": AudioInputCommit(),
    "audio.input.clear": AudioInputClear(),
    "response.create bare": ResponseCreate(),
    "response.create empty config": ResponseCreate(ResponseConfig()),
    "response.create full": ResponseCreate(
        ResponseConfig(
            instructions="Answer in one sentence.",
            modalities=("audio", "text"),
            tool_choice="auto",
            tools=(WEATHER,),
            max_output_tokens=200,
            metadata={"turn": "7", "purpose": "greeting"},
        )
    ),
    "response.create forced tool": ResponseCreate(
        ResponseConfig(tool_choice="hang_up", tools=(HANG_UP,), modalities=("text",))
    ),
    "response.cancel": ResponseCancel(),
    "response.cancel with id": ResponseCancel("resp_123"),
    "tool.result": ToolResult("call_1", '{"sky": "clear"}', name="get_weather"),
    "tool.result error": ToolResult("call_2", "error: city not found", is_error=True),
    "activity.start": ActivityStart(),
    "activity.end": ActivityEnd(),
}
