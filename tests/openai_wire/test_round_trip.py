"""Both sides of the OpenAI wire agree: what one side writes, the other reads back.

* Client events: the server's :func:`decode_client` of the client codec's ``encode_client(e)``
  is ``e`` again, for every neutral client event a dialect can express.
* Server events: the client codec's ``decode_server`` of what the server's
  :class:`ServerEventEncoder` writes for ``e`` carries ``e``, for every neutral server event the
  server shows a client (the encoder adds bookkeeping events around it, which decode too).

Both dialects are held to it: the server speaks OpenAI GA, and the xAI dialect's client must
still read everything it writes. Where xAI writes a session setting elsewhere than GA (voice and
turn detection at the top of the session), the test says so instead of skipping it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from voicewire.openai_wire import (
    OPENAI,
    XAI,
    Dialect,
    OpenAIProtocolCodec,
    ServerEventEncoder,
    decode_client,
)
from voicewire.protocol import (
    ActivityEnd,
    ActivityStart,
    AudioFormat,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCleared,
    AudioInputCommit,
    AudioInputCommitted,
    AudioOutputDelta,
    AudioOutputDone,
    AudioPart,
    ClientEvent,
    ItemCreate,
    ItemCreated,
    ItemDelete,
    ItemDeleted,
    ItemTruncate,
    ItemTruncated,
    MessageItem,
    ResponseCancel,
    ResponseConfig,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ServerEvent,
    SessionConfig,
    SessionCreated,
    SessionError,
    SessionUpdate,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TextOutput,
    TextOutputDelta,
    TextPart,
    ToolCallItem,
    ToolDefinition,
    ToolResult,
    ToolResultItem,
    TranscriptInput,
    TranscriptInputDelta,
    TranscriptionConfig,
    TranscriptOutput,
    TranscriptOutputDelta,
    TurnDetection,
    Usage,
    VoiceConfig,
)

DIALECTS = pytest.mark.parametrize("dialect", [OPENAI, XAI], ids=lambda d: d.name)

TOOL = ToolDefinition(
    "get_weather",
    "Current weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)

SESSION = SessionConfig(
    instructions="You are a concise phone assistant.",
    tools=(TOOL,),
    tool_choice="get_weather",
    modalities=("audio",),
    input_audio_format=AudioFormat.pcm16(24000),
    output_audio_format=AudioFormat.pcmu(),
    transcription=TranscriptionConfig(model="gpt-4o-mini-transcribe", language="en", prompt="w"),
    max_output_tokens=1024,
)
"""Every setting both dialects place where GA does."""

PLACED_BY_DIALECT = SessionConfig(
    voice=VoiceConfig(voice_id="marin", speed=1.2),
    turn_detection=TurnDetection(
        mode="server_vad",
        threshold=0.6,
        silence_duration_ms=450,
        prefix_padding_ms=250,
        create_response=True,
        interrupt_response=False,
    ),
)
"""Voice and turn detection: under ``audio`` in GA, at the top of the session for xAI."""

GA_PLACED_EVENTS: dict[str, ClientEvent] = {
    "voice and server vad": SessionUpdate(PLACED_BY_DIALECT),
    "manual turns": SessionUpdate(SessionConfig(turn_detection=TurnDetection("manual"))),
    "semantic vad": SessionUpdate(
        SessionConfig(
            turn_detection=TurnDetection(
                "semantic_vad", eagerness="high", create_response=False, interrupt_response=True
            )
        )
    ),
}
"""Session updates the GA server reads back from a GA client only (see the xAI test below)."""

CLIENT_EVENTS: dict[str, ClientEvent] = {
    "session.update": SessionUpdate(SESSION),
    "item.create user text": ItemCreate(MessageItem("item_1", "user", (TextPart("hello"),))),
    "item.create user audio": ItemCreate(
        MessageItem(None, "user", (AudioPart("hi there", b"\x01\x00\x02\x00"),)), "item_1"
    ),
    "item.create assistant": ItemCreate(
        MessageItem("item_2", "assistant", (TextPart("Sunny."), AudioPart("It is sunny.")))
    ),
    "item.create system": ItemCreate(MessageItem(None, "system", (TextPart("Be brief."),))),
    "item.create tool call": ItemCreate(
        ToolCallItem("item_3", "call_1", "get_weather", '{"city": "Paris"}')
    ),
    "item.create tool result": ItemCreate(ToolResultItem("item_4", "call_1", '{"temp": 21}')),
    "item.delete": ItemDelete("item_1"),
    "item.truncate": ItemTruncate("item_2", 1500, 1),
    "audio.input.append": AudioInputAppend(bytes(range(256)) * 4),
    "audio.input.commit": AudioInputCommit(),
    "audio.input.clear": AudioInputClear(),
    "response.create": ResponseCreate(),
    "response.create with config": ResponseCreate(
        ResponseConfig(
            instructions="Answer in French.",
            modalities=("text",),
            tool_choice="none",
            max_output_tokens=200,
            metadata={"topic": "weather"},
        )
    ),
    "response.cancel": ResponseCancel(),
    "response.cancel by id": ResponseCancel("resp_1"),
}


def _over_the_wire(message: dict[str, Any] | None) -> dict[str, Any]:
    """The message as the other side parses it: through JSON text, as on a socket."""
    assert message is not None
    parsed: dict[str, Any] = json.loads(json.dumps(message))
    return parsed


def _client_round_trip(dialect: Dialect, event: ClientEvent) -> list[object]:
    codec = OpenAIProtocolCodec(dialect)
    return list(decode_client(_over_the_wire(codec.encode_client(event))))


def _expressible(dialect: Dialect, name: str) -> bool:
    kind = CLIENT_EVENTS[name].kind
    return kind not in dialect.unsupported_client_events


@DIALECTS
@pytest.mark.parametrize("name", list(CLIENT_EVENTS))
def test_server_reads_back_every_client_event(dialect: Dialect, name: str) -> None:
    if not _expressible(dialect, name):
        assert OpenAIProtocolCodec(dialect).encode_client(CLIENT_EVENTS[name]) is None
        return
    assert _client_round_trip(dialect, CLIENT_EVENTS[name]) == [CLIENT_EVENTS[name]]


def test_xai_cannot_express_a_truncate() -> None:
    """The one client event above that xAI has no name for (its capabilities say so)."""
    assert not _expressible(XAI, "item.truncate")
    assert _expressible(OPENAI, "item.truncate")


@DIALECTS
def test_a_tool_result_is_read_back_as_the_item_it_is_on_the_wire(dialect: Dialect) -> None:
    """GA has no tool-result event: the client writes a ``function_call_output`` item, so the
    server reads the same result as an ``item.create`` of that item."""
    decoded = _client_round_trip(dialect, ToolResult("call_1", '{"temp": 21}'))
    assert decoded == [ItemCreate(ToolResultItem(None, "call_1", '{"temp": 21}'))]


@pytest.mark.parametrize("event", [ActivityStart(), ActivityEnd()], ids=lambda e: e.kind)
@DIALECTS
def test_activity_signals_have_no_ga_spelling(dialect: Dialect, event: ClientEvent) -> None:
    """Neither dialect declares activity signals, so neither writes them for the server."""
    assert event.kind in dialect.unsupported_client_events
    assert OpenAIProtocolCodec(dialect).encode_client(event) is None


@pytest.mark.parametrize("name", list(GA_PLACED_EVENTS))
def test_voice_and_turn_detection_round_trip_in_ga(name: str) -> None:
    event = GA_PLACED_EVENTS[name]
    assert _client_round_trip(OPENAI, event) == [event]


def test_xai_places_voice_and_turn_detection_where_the_ga_server_does_not_read_them() -> None:
    """The server speaks GA: an xAI-dialect client's voice and turn detection (top of the
    session) are not where it reads them, so they arrive unset (the speed stays under audio)."""
    decoded = _client_round_trip(XAI, SessionUpdate(PLACED_BY_DIALECT))
    assert decoded == [SessionUpdate(SessionConfig(voice=VoiceConfig(speed=1.2)))]


# --- server events ------------------------------------------------------------------------------

USAGE = Usage(120, 80, 200, 70, 50, 10, 60, 20)

SERVER_SCRIPT: list[ServerEvent] = [
    SessionCreated(),
    SessionUpdated(),
    ItemCreated(MessageItem("item_u1", "user", (TextPart("What's the weather?"),), "completed")),
    SpeechStarted("item_u2", 1200),
    SpeechStopped("item_u2", 2400),
    AudioInputCommitted("item_u2", "item_u1"),
    TranscriptInputDelta("item_u2", "In Par"),
    TranscriptInput("item_u2", "In Paris?"),
    ResponseCreated("resp_1"),
    # previous_item_id: the last item the client was shown as an item (committed audio is not).
    ItemCreated(MessageItem("item_a1", "assistant", (), "in_progress"), "item_u1"),
    AudioOutputDelta("resp_1", "item_a1", "AAECAw==", 0),
    TranscriptOutputDelta("resp_1", "item_a1", "It is "),
    AudioOutputDone("resp_1", "item_a1"),
    TranscriptOutput("resp_1", "item_a1", "It is sunny."),
    TextOutputDelta("resp_1", "item_a1", "Sun"),
    TextOutput("resp_1", "item_a1", "Sunny."),
    ResponseDone("resp_1", "completed", USAGE),
    ResponseCreated("resp_2"),
    TextOutputDelta("resp_2", "item_a2", "Let me"),
    ResponseDone("resp_2", "cancelled", None, "turn_detected"),
    ItemTruncated("item_a1", 800, 0),
    ItemDeleted("item_u1"),
    AudioInputCleared(),
    SessionError("invalid_value", "bad audio", "evt_7", "audio"),
]
"""One conversation's server events, each with the ids a model gives them."""

NOT_SHOWN = {"response.interrupted", "tool.start", "tool.delta", "tool.call", "tool.cancelled"}
"""Server events the server does not show a client: no GA counterpart, or the agent's tools
(see :mod:`voicewire.openai_wire.server_encoder`)."""


@DIALECTS
def test_client_reads_back_every_server_event_the_server_shows(dialect: Dialect) -> None:
    """Each event comes back, in order, among the bookkeeping the encoder adds. The encoder
    holds ``response.created`` back until the response shows something (a response that only
    calls tools stays hidden), so the whole stream is compared, not each event's own output."""
    encoder = ServerEventEncoder(SESSION, model="voicewire")
    codec = OpenAIProtocolCodec(dialect)
    decoded = iter(
        [
            neutral
            for event in SERVER_SCRIPT
            for message in encoder.encode(event)
            for neutral in codec.decode_server(_over_the_wire(message))
        ]
    )
    for event in SERVER_SCRIPT:
        assert event.kind not in NOT_SHOWN
        assert any(neutral == event for neutral in decoded), f"{event!r} missing or out of order"


def test_the_script_covers_every_server_event_the_server_shows() -> None:
    from voicewire.protocol.events import SERVER_EVENT_TYPES

    shown = {cls.kind for cls in SERVER_EVENT_TYPES} - NOT_SHOWN
    assert {event.kind for event in SERVER_SCRIPT} == shown
