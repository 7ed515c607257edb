"""The ``voicewire`` command line: converse, serve, talk, token, demo.

Errors are printed as one clear line (exit code 2), never as a traceback.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..channels import read_wav
from ..protocol import RealtimeError
from .converse import converse as run_converse
from .models import load_agent, load_model

app = typer.Typer(
    name="voicewire",
    help="Realtime voice agents on any speech-to-speech model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="provider[:model_id]: local, openai, xai")
]
AgentOption = Annotated[
    str | None, typer.Option("--agent", "-a", help="module:attribute naming a RealtimeAgent")
]
BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="WebSocket base URL of the provider or a proxy")
]


@app.callback()
def root() -> None:
    """Realtime voice agents on any speech-to-speech model."""


def _fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code=2)


@app.command()
def converse(
    in_wav: Annotated[Path, typer.Argument(help="the user's speech, any common WAV format")],
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the reply")],
    model: ModelOption = "local",
    agent: AgentOption = None,
    base_url: BaseUrlOption = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the reply")] = 120.0,
) -> None:
    """One spoken turn: play IN_WAV to the agent and write its spoken reply to --out."""
    try:
        read_wav(in_wav)  # a bad file is reported before a model is loaded
        chosen_agent = load_agent(agent)
        chosen_model = load_model(model, base_url=base_url)
        with console.status(f"talking to {chosen_model.provider}:{chosen_model.model_id} ..."):
            turn = asyncio.run(
                run_converse(chosen_agent, chosen_model, in_wav, out, reply_timeout_s=timeout)
            )
    except RealtimeError as exc:
        raise _fail(exc.message) from None
    except OSError as exc:
        raise _fail(str(exc)) from None
    console.print(f"[bold]you:[/] {' '.join(turn.heard) or '(no transcript)'}")
    console.print(f"[bold]agent:[/] {' '.join(turn.said)}")
    for problem in turn.errors:
        errors.print(f"[yellow]warning:[/] {problem}")
    console.print(f"[dim]wrote {turn.reply_ms / 1000:.1f} s of reply to {out}[/]")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
