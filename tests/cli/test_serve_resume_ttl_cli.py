"""``voicewire serve --resume-ttl SECONDS``: how long a conversation is kept for a resume. The
CLI is called in-process (typer's runner) with the server's start replaced by a capture, so the
app it would serve is inspected without a port or a subprocess."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

import voicewire.cli as cli

Captured = dict[str, Any]


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Captured:
    """What ``serve`` hands to the server it would run: ``app`` (one process) or ``factory``
    (``--workers N``, the app each worker builds)."""
    seen: Captured = {}

    def run_server(server_app: Any, *args: Any, **kwargs: Any) -> None:
        seen["app"] = server_app

    def run_workers(factory: Callable[[], Any], *args: Any, **kwargs: Any) -> None:
        seen["factory"] = factory

    monkeypatch.setattr(cli, "_run_server", run_server)
    monkeypatch.setattr(cli, "_run_workers", run_workers)
    return seen


def serve(*args: str) -> Any:
    return CliRunner().invoke(
        cli.app, ["serve", "--model", "scripted:echo", *args], env={"COLUMNS": "200"}
    )


def resume_ttl_of(app: Any) -> float:
    resumer = app.state.voicewire.resumer
    assert resumer.writer.ttl == resumer.ttl  # what the conversations are written with
    return float(resumer.ttl)


def test_the_resume_ttl_reaches_the_server(captured: Captured) -> None:
    result = serve("--resume-ttl", "90")
    assert result.exit_code == 0, result.output
    assert resume_ttl_of(captured["app"]) == 90.0


def test_the_resume_ttl_reaches_every_worker(captured: Captured) -> None:
    result = serve("--resume-ttl", "2.5", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert resume_ttl_of(captured["factory"]()) == 2.5


def test_without_the_option_a_conversation_is_kept_600_seconds(captured: Captured) -> None:
    assert serve().exit_code == 0
    assert resume_ttl_of(captured["app"]) == 600.0


@pytest.mark.parametrize("bad", ["0", "-30", "nan", "inf"])
def test_a_resume_ttl_that_is_not_positive_seconds_is_refused(bad: str, captured: Captured) -> None:
    result = serve("--resume-ttl", bad)
    assert result.exit_code == 2
    assert "Invalid value for '--resume-ttl'" in result.output
    assert "must be a positive number of seconds" in result.output
    assert captured == {}  # no server was started


@pytest.mark.parametrize("long", ["2592000.5", "1e30"])
def test_a_resume_ttl_past_30_days_is_refused_naming_the_bound(
    long: str, captured: Captured
) -> None:
    """Redis takes no expiry past 64-bit milliseconds: 1e30 s would fail every write later."""
    result = serve("--resume-ttl", long)
    assert result.exit_code == 2
    assert "Invalid value for '--resume-ttl'" in result.output
    assert "at most 2592000 (30 days)" in result.output
    assert captured == {}


def test_a_resume_ttl_of_30_days_is_taken(captured: Captured) -> None:
    result = serve("--resume-ttl", "2592000", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert resume_ttl_of(captured["factory"]()) == 2592000.0


def test_a_resume_ttl_that_is_not_a_number_is_refused(captured: Captured) -> None:
    result = serve("--resume-ttl", "ten")
    assert result.exit_code == 2
    assert "'--resume-ttl'" in result.output
    assert captured == {}
