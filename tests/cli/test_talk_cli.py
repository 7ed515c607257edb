from __future__ import annotations

import os

import pytest

from tests.cli.test_converse_cli import run_cli
from voicewire.cli.talk import TalkView
from voicewire.protocol import (
    AudioOutputDelta,
    ResponseCreated,
    ResponseDone,
    SessionError,
    SpeechStarted,
    TranscriptInput,
    TranscriptOutput,
    TransportStatus,
)
from voicewire.session import StatusChanged


async def test_talk_without_a_sound_card_is_a_clear_error() -> None:
    code, out, err = await run_cli("talk", "--model", "openai", env={"OPENAI_API_KEY": "sk-x"})
    assert code == 2
    assert "error:" in err and "device" in err
    assert "Traceback" not in out + err


def test_the_view_follows_the_conversation() -> None:
    view = TalkView()
    view.note(StatusChanged(TransportStatus.CONNECTED))
    view.note(SpeechStarted("u1"))
    view.note(TranscriptInput("u1", "hello"))
    view.note(ResponseCreated("r1"))
    assert (view.status, view.state) == ("connected", "thinking")
    view.note(AudioOutputDelta.from_bytes("r1", "a1", b"\x00\x00"))
    assert view.state == "speaking"
    view.note(TranscriptOutput("r1", "a1", "hi there"))
    view.note(ResponseDone("r1"))
    view.note(SessionError("oops", "something broke"))
    assert view.state == "listening"
    assert [line.plain for line in view.lines] == [
        "you: hello",
        "agent: hi there",
        "error: something broke",
    ]


@pytest.mark.parametrize(("level", "bars"), [(0.0, 0), (0.1, 12), (1.0, 30)])
def test_the_level_meter(level: float, bars: int) -> None:
    from rich.console import Console

    console = Console(width=80, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(TalkView().render(level))
    assert console.export_text().count("█") == bars
