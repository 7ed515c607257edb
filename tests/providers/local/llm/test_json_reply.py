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


def test_an_emoji_escape_split_anywhere_streams_as_one_character() -> None:
    raw = '{"answer": "ok \\ud83d\\ude00 yes"}'
    for cut in range(len(raw) + 1):
        parser = JsonReplyParser()
        pieces = [parser.feed(raw[:cut]), parser.feed(raw[cut:])]
        for piece in pieces:
            piece.encode("utf-8")  # no lone surrogate in any piece
        assert "".join(pieces) == "ok \U0001f600 yes", cut


def test_an_emoji_escape_fed_character_by_character() -> None:
    raw = '{"answer": "\\ud83d\\ude00\\u00e9"}'
    parser = JsonReplyParser()
    pieces = [parser.feed(ch) for ch in raw]
    assert [p for p in pieces if p] == ["\U0001f600", "é"]


def test_a_lone_surrogate_ends_the_answer_with_text_that_encodes() -> None:
    raw = '{"answer": "hi \\ud83d there"}'
    parser = JsonReplyParser()
    text = "".join(parser.feed(ch) for ch in raw)
    text.encode("utf-8")
    assert text == "hi "


def test_a_non_string_answer_says_nothing() -> None:
    parser = JsonReplyParser()
    assert parser.feed('{"answer": ') == ""
    assert parser.feed("5}") == ""
    assert parser.finish() is None
