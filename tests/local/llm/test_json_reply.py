"""The streamed JSON reply: answers spoken as they arrive, tool calls read at the end."""

from __future__ import annotations

from voicewire.providers.local.llm import JsonReplyParser, ToolCallRequest


def test_json_answer_streams_character_by_character_with_escapes() -> None:
    raw = '{ "answer": "Say \\"hi\\"\\nnow \\u00e9" }'
    parser = JsonReplyParser()
    text = "".join(parser.feed(ch) for ch in raw)
    assert text == 'Say "hi"\nnow é'
    assert parser.finish() is None


def test_json_tool_call_is_returned_at_the_end() -> None:
    raw = '{ "tool": "get_weather", "arguments": { "city": "Paris" } }'
    parser = JsonReplyParser()
    assert "".join(parser.feed(raw[i : i + 4]) for i in range(0, len(raw), 4)) == ""
    assert parser.finish() == ToolCallRequest("get_weather", '{"city":"Paris"}')


def test_broken_tool_json_is_no_call() -> None:
    parser = JsonReplyParser()
    parser.feed('{"tool": "get_weather", "arguments": {"ci')
    assert parser.finish() is None
