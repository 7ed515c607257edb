"""The fake ElevenLabs agent's turns: audio in each announced format, event ids, replies,
interruption with its correction, client tool calls and contextual updates. Driven by a raw
WebSocket client, independent of voicewire's codec."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from voicewire.testing import (
    AudioReply,
    FakeElevenLabsServer,
    TextReply,
    ToolCallReply,
    silence,
    tone,
)
from voicewire.testing.fake_elevenlabs import AgentConfig
from voicewire.testing.tones import mulaw_to_pcm16, pcm16_to_mulaw

from .elevenlabs_client import Message, audio_of, open_client


@pytest.fixture
async def server() -> AsyncIterator[FakeElevenLabsServer]:
    agent = AgentConfig(client_tools=frozenset({"get_weather"}))
    async with FakeElevenLabsServer(agent=agent) as fake:
        yield fake
        assert fake.sent_violations == []


def speech(rate: int = 16000, ms: int = 300) -> bytes:
    return tone(ms, sample_rate=rate) + silence(400, sample_rate=rate)


def event_id(message: Message) -> int:
    body = next(v for k, v in message.items() if k != "type")
    value: int = body["event_id"]
    return value


def agent_kinds(messages: list[Message]) -> list[str]:
    kinds = []
    for m in messages:
        if m["type"] == "agent_chat_response_part":
            kinds.append(f"part.{m['text_response_part']['type']}")
        elif m["type"] not in ("ping", "vad_score"):
            kinds.append(m["type"])
    return kinds


async def test_a_typed_message_gets_a_text_reply_under_one_id(
    server: FakeElevenLabsServer,
) -> None:
    server.script.on("hours", TextReply("We open at nine."))
    async with open_client(server) as client:
        await client.start()
        await client.send({"type": "user_message", "text": "what are your hours"})
        await client.until(
            "agent_chat_response_part", lambda m: m["text_response_part"]["type"] == "stop"
        )
    reply = client.messages[1:]
    assert agent_kinds(reply) == [
        "part.start",
        "agent_response",
        "part.delta",
        "part.delta",
        "part.delta",
        "part.delta",
        "part.stop",
    ]
    assert {event_id(m) for m in reply} == {1}
    assert "".join(
        m["text_response_part"]["text"] for m in client.of("agent_chat_response_part")
    ) == ("We open at nine.")
    assert server.conversation == [
        {"role": "user", "text": "what are your hours", "event_id": 1},
        {"role": "agent", "text": "We open at nine.", "event_id": 1},
    ]


@pytest.mark.parametrize(
    ("output", "rate", "width"),
    [("pcm_16000", 16000, 2), ("pcm_44100", 44100, 2), ("ulaw_8000", 8000, 1)],
)
async def test_spoken_turn_in_the_announced_formats(output: str, rate: int, width: int) -> None:
    agent = AgentConfig(agent_output_audio_format=output, first_message="")
    async with FakeElevenLabsServer(agent=agent) as server, open_client(server) as client:
        server.script.hear("is it raining")
        server.script.default = AudioReply("No, it is dry.", duration_ms=400, chunk_ms=20)
        await client.start()
        sent = speech(16000)
        await client.audio(sent)
        await client.until(
            "agent_chat_response_part", lambda m: m["text_response_part"]["type"] == "stop"
        )
        assert server.sent_violations == []
    assert server.input_audio == sent
    kinds = agent_kinds(client.messages[1:])
    assert kinds[:4] == ["tentative_user_transcript"] * 2 + ["user_transcript", "part.start"]
    assert kinds[4] == "agent_response"
    assert [m["vad_score_event"]["vad_score"] for m in client.of("vad_score")] == [1.0, 0.0]
    assert client.of("user_transcript")[0]["user_transcription_event"] == {
        "user_transcript": "is it raining",
        "event_id": 1,
    }
    audio = client.of("audio")
    assert {event_id(m) for m in audio} == {1}
    assert len(audio_of(audio)) == rate * 400 // 1000 * width
    assert len(audio_of(audio[:1])) == rate * 20 // 1000 * width


async def test_ulaw_input_is_decoded_as_ulaw() -> None:
    agent = AgentConfig(user_input_audio_format="ulaw_8000")
    async with FakeElevenLabsServer(agent=agent) as server, open_client(server) as client:
        await client.start()
        wire = pcm16_to_mulaw(speech(8000))
        await client.audio(wire, chunk_bytes=160)
        await client.until("user_transcript")
    assert server.input_audio == mulaw_to_pcm16(wire)


async def test_barge_in_interrupts_with_the_new_turns_id_and_corrects_the_text(
    server: FakeElevenLabsServer,
) -> None:
    long = AudioReply("one two three four five six seven eight", duration_ms=4000, pace=0.02)
    server.script.on("story", long)
    server.script.default = TextReply("Sure.")
    server.script.hear("stop please")
    async with open_client(server) as client:
        await client.start()
        await client.send({"type": "user_message", "text": "tell me a story"})
        for _ in range(3):
            await client.until("audio")
        await client.audio(speech())
        interruption = await client.until("interruption")
        correction = await client.until("agent_response_correction")
        reply = await client.until("agent_response", lambda m: event_id(m) == 2)
        await client.until(
            "agent_chat_response_part",
            lambda m: m["text_response_part"]["type"] == "stop" and event_id(m) == 2,
        )
    assert interruption["interruption_event"] == {"event_id": 2}
    body = correction["agent_response_correction_event"]
    assert body["event_id"] == 1
    assert body["original_agent_response"] == "one two three four five six seven eight"
    said = body["corrected_agent_response"]
    assert (
        said
        and body["original_agent_response"].startswith(said)
        and said != body["original_agent_response"]
    )
    # Nothing of the cut reply after the interruption; the reply to the new turn has its id.
    after = client.messages[client.messages.index(interruption) + 1 :]
    assert all(
        event_id(m) == 2 for m in after if m["type"] in ("audio", "agent_chat_response_part")
    )
    assert reply["agent_response_event"]["agent_response"] == "Sure."
    # The audio sent carried exactly the words the correction keeps.
    deltas = [
        m["text_response_part"]["text"]
        for m in client.of("agent_chat_response_part")
        if event_id(m) == 1 and m["text_response_part"]["type"] == "delta"
    ]
    assert "".join(deltas) == said
    assert server.conversation[:3] == [
        {"role": "user", "text": "tell me a story", "event_id": 1},
        {"role": "agent", "text": said, "event_id": 1, "interrupted": True},
        {"role": "user", "text": "stop please", "event_id": 2},
    ]


async def test_speech_without_a_reply_in_progress_is_not_an_interruption(
    server: FakeElevenLabsServer,
) -> None:
    async with open_client(server) as client:
        await client.start()
        await client.audio(speech())
        await client.until("agent_response")
    assert client.of("interruption") == []


async def test_the_first_message_has_its_own_id_and_can_be_interrupted() -> None:
    agent = AgentConfig(
        first_message="Welcome to the shop, how can I help", first_message_pace=0.02
    )
    async with FakeElevenLabsServer(agent=agent) as server, open_client(server) as client:
        server.script.default = TextReply("Okay.")
        await client.start()
        first = await client.until("agent_response")
        assert first["agent_response_event"] == {
            "agent_response": agent.first_message,
            "event_id": 1,
        }
        await client.until("audio")
        await client.audio(speech())
        interruption = await client.until("interruption")
        correction = await client.until("agent_response_correction")
        transcript = await client.until("user_transcript")
    assert interruption["interruption_event"]["event_id"] == 2
    assert event_id(correction) == 1
    assert event_id(transcript) == 2


async def test_a_client_tool_call_waits_for_its_string_result(
    server: FakeElevenLabsServer,
) -> None:
    server.script.on(
        "weather",
        ToolCallReply("get_weather", {"city": "Paris"}, then=TextReply("It is sunny in Paris.")),
    )
    async with open_client(server) as client:
        await client.start()
        await client.send({"type": "user_message", "text": "weather in paris?"})
        call = await client.until("client_tool_call")
        body = call["client_tool_call"]
        assert body["tool_name"] == "get_weather"
        assert body["parameters"] == {"city": "Paris"}
        assert body["event_id"] == 1
        await asyncio.sleep(0.1)
        assert server.sent[-1]["type"] == "client_tool_call"  # the agent waits
        await client.send(
            {
                "type": "client_tool_result",
                "tool_call_id": body["tool_call_id"],
                "result": '{"sky": "clear"}',
                "is_error": False,
            }
        )
        reply = await client.until("agent_response")
    assert reply["agent_response_event"] == {
        "agent_response": "It is sunny in Paris.",
        "event_id": 1,
    }
    assert [e["role"] for e in server.conversation] == ["user", "tool_call", "tool_result", "agent"]
    assert server.conversation[2]["result"] == '{"sky": "clear"}'
    assert server.violations == [] and server.undeclared_tool_calls == []


async def test_tool_call_problems_are_recorded() -> None:
    agent = AgentConfig(tool_response_timeout_s=0.05)
    async with FakeElevenLabsServer(agent=agent) as server, open_client(server) as client:
        server.script.default = ToolCallReply("lookup", {"q": "x"}, call_id="call_fixed")
        await client.start()
        await client.send({"type": "user_message", "text": "go"})
        await client.until("client_tool_call")
        await client.send(
            {
                "type": "client_tool_result",
                "tool_call_id": "call_other",
                "result": "",
                "is_error": True,
            }
        )
        await server.wait_for_received("client_tool_result")
        for _ in range(100):
            if len(server.violations) == 2:
                break
            await asyncio.sleep(0.01)
    assert server.undeclared_tool_calls == ["lookup"]
    assert sorted(server.violations) == [
        "client_tool_call call_fixed: no client_tool_result within 0.05 s",
        "client_tool_result: unknown tool_call_id 'call_other'",
    ]


async def test_a_typed_message_interrupts_a_reply_and_context_is_kept_once(
    server: FakeElevenLabsServer,
) -> None:
    server.script.on("long", AudioReply("a b c d e f g h", duration_ms=4000, pace=0.02))
    server.script.default = TextReply("Noted.")
    async with open_client(server) as client:
        await client.start()
        await client.send(
            {"type": "contextual_update", "text": "cart: 1 item", "context_id": "cart"}
        )
        await client.send(
            {"type": "contextual_update", "text": "cart: 2 items", "context_id": "cart"}
        )
        await client.send({"type": "contextual_update", "text": "user is on mobile"})
        await client.send({"type": "user_message", "text": "long answer please"})
        await client.until("audio")
        await client.send({"type": "user_message", "text": "actually, never mind"})
        interruption = await client.until("interruption")
        await client.until("agent_response", lambda m: event_id(m) == 2)
    assert interruption["interruption_event"]["event_id"] == 2
    contexts = [e["text"] for e in server.conversation if e["role"] == "context"]
    assert contexts == ["cart: 2 items", "user is on mobile"]
    assert server.conversation[-1] == {"role": "agent", "text": "Noted.", "event_id": 2}


async def test_pings_flow_while_audio_streams() -> None:
    async with FakeElevenLabsServer(ping_interval=0.02, strict_pongs=True) as server:
        server.script.default = AudioReply("la la la", duration_ms=1000, pace=0.02)
        async with open_client(server) as client:
            await client.start()
            await client.send({"type": "user_message", "text": "sing"})
            await client.until(
                "agent_chat_response_part", lambda m: m["text_response_part"]["type"] == "stop"
            )
        assert len(client.of("audio")) == 50
        assert len(server.pongs) >= 3
        assert all(p.answered for p in server.pongs[:-1])
        assert server.violations == []
        assert server.sent_violations == []
