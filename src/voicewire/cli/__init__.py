"""The ``voicewire`` command line: converse, serve, talk, token, demo.

Errors are printed as one clear line (exit code 2), never as a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from ..agent import RealtimeAgent
from ..channels import read_wav
from ..protocol import (
    ConfigurationError,
    RealtimeError,
    RealtimeModel,
    credential_from_json,
    credential_to_json,
)
from .converse import converse as run_converse
from .models import MODEL_HELP, default_agent, load_agent, load_model, session_config_for
from .preload import preload
from .state_options import REDIS_ENV, StateOptions
from .token_options import SECRET_ENV, TokenOptions

app = typer.Typer(
    name="voicewire",
    help="Realtime voice agents on any speech-to-speech model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

ModelOption = Annotated[
    str,
    typer.Option("--model", "-m", help=MODEL_HELP),
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


@app.command()
def talk(
    model: ModelOption = "local",
    agent: AgentOption = None,
    base_url: BaseUrlOption = None,
    input_device: Annotated[str | None, typer.Option(help="microphone name or index")] = None,
    output_device: Annotated[str | None, typer.Option(help="speaker name or index")] = None,
) -> None:
    """Talk with the agent through the sound card (headphones recommended)."""
    from ..channels.device import DeviceChannel
    from .talk import talk as run_talk

    try:
        chosen_agent = load_agent(agent)
        chosen_model = load_model(model, base_url=base_url)
        channel = DeviceChannel(
            input_device=_device(input_device), output_device=_device(output_device)
        )
        asyncio.run(run_talk(chosen_agent, chosen_model, channel))
    except KeyboardInterrupt:
        console.print("[dim]bye[/]")
    except RealtimeError as exc:
        raise _fail(exc.message) from None


def _device(name: str | None) -> int | str | None:
    return int(name) if name is not None and name.isdigit() else name


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Talk to the offline local model in your browser: serves the demo page and prints its URL."""
    try:
        model = load_model("local")
        preload(model)
        server_app = _server_app(default_agent(), model, None)
    except RealtimeError as exc:
        raise _fail(exc.message) from None
    _run_server(server_app, host, port, "the demo on the local model")


@dataclass(frozen=True)
class Limits:
    """The limits ``voicewire serve`` gives the app (``create_app``) and its uvicorn server."""

    max_sessions: int | None = None
    idle_timeout: float | None = 300.0
    max_session_duration: float | None = 4 * 3600.0
    drain_timeout: float = 30.0
    header_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    limit_concurrency: int | None = None
    resume_ttl: float = 600.0
    """Seconds a session's conversation is kept for a resume after its last change."""

    def app_options(self) -> dict[str, Any]:
        """The ``create_app`` keyword arguments."""
        return {
            "max_sessions": self.max_sessions,
            "idle_timeout": self.idle_timeout or None,
            "max_session_duration": self.max_session_duration or None,
            "drain_timeout": self.drain_timeout,
            "resume_ttl": self.resume_ttl,
        }

    def serve_options(self) -> Any:
        """The uvicorn server's :class:`~voicewire.server.http_limits.ServeOptions`."""
        from ..server.http_limits import ServeOptions

        return ServeOptions(
            header_timeout=self.header_timeout,
            keep_alive_timeout=self.keep_alive_timeout,
            limit_concurrency=self.limit_concurrency,
        )


def _resume_ttl(value: float) -> float:
    """``--resume-ttl``'s value, refused at start-up as ``create_app`` would refuse it (seconds
    above 0, at most 30 days: Redis takes no expiry past 64-bit milliseconds)."""
    try:
        from ..server.resume import resume_ttl_problem
    except ImportError:  # serve says the server's extra is missing
        return value
    problem = resume_ttl_problem(value)
    if problem is not None:
        raise typer.BadParameter(problem)
    return value


@app.command()
def serve(
    model: ModelOption = "local",
    agent: AgentOption = None,
    base_url: BaseUrlOption = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    origin: Annotated[
        list[str] | None, typer.Option(help="browser origin allowed besides same-origin")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="processes serving the port (Linux): one core relays ~200 sessions"
        ),
    ] = 1,
    token_secret: Annotated[
        str | None,
        typer.Option(
            envvar=SECRET_ENV,
            show_default=False,
            help="HS256 token secret (32+ bytes) every instance shares; default: one per run",
        ),
    ] = None,
    token_public_key: Annotated[
        list[str] | None,
        typer.Option(
            help="[KID=]PATH: PEM public key of the auth service minting tokens (repeatable)"
        ),
    ] = None,
    token_jwks: Annotated[
        str | None,
        typer.Option(help="the auth service's JWKS: a file or an https:// URL (cached)"),
    ] = None,
    token_issuer: Annotated[str | None, typer.Option(help="the iss tokens must carry")] = None,
    token_audience: Annotated[str, typer.Option(help="the aud tokens must carry")] = "voicewire",
    max_sessions: Annotated[
        int | None,
        typer.Option(min=1, help="sessions per process; more are closed with 1013 (try later)"),
    ] = None,
    idle_timeout: Annotated[
        float,
        typer.Option(min=0, help="close a session silent for this many seconds (0: never)"),
    ] = 300.0,
    max_session_duration: Annotated[
        float, typer.Option(min=0, help="close a session open this many seconds (0: never)")
    ] = 4 * 3600.0,
    drain_timeout: Annotated[
        float,
        typer.Option(min=0.001, help="on SIGTERM, seconds answers and tools may take before 1012"),
    ] = 30.0,
    header_timeout: Annotated[
        float, typer.Option(min=0.001, help="seconds a connection may take to send its request")
    ] = 10.0,
    keep_alive_timeout: Annotated[
        float, typer.Option(min=0.001, help="seconds an idle HTTP keep-alive connection is held")
    ] = 5.0,
    limit_concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="connections per process past which HTTP requests get 503"),
    ] = None,
    redis: Annotated[
        str | None,
        typer.Option(
            envvar=REDIS_ENV,
            show_default=False,
            help="redis://host:port/db (redis://:password@host:port/db) every worker and "
            "instance shares for single-use tokens, rate limits and resumable sessions; "
            "default: each process's own memory",
        ),
    ] = None,
    single_use: Annotated[
        bool, typer.Option(help="a token opens one session (with --redis: in all instances)")
    ] = False,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            help="address or network of a reverse proxy whose X-Forwarded-For names the client "
            "(repeatable)"
        ),
    ] = None,
    resume_ttl: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            callback=_resume_ttl,
            help="keep a session's conversation this long after its last change, for a client "
            "to resume it with its handle (at most 2592000: 30 days)",
        ),
    ] = 600.0,
) -> None:
    """Serve the agent: a credential endpoint, an OpenAI-compatible realtime WebSocket and the
    browser client."""
    limits = Limits(
        max_sessions,
        idle_timeout,
        max_session_duration,
        drain_timeout,
        header_timeout,
        keep_alive_timeout,
        limit_concurrency,
        resume_ttl,
    )
    try:
        chosen_agent = load_agent(agent)
        chosen_model = load_model(model, base_url=base_url)
        tokens = TokenOptions(
            token_secret,
            tuple(token_public_key or ()),
            token_jwks,
            token_issuer,
            token_audience,
        )
        tokens.app_options()  # a bad key is a clear error here, not in each worker
        shared = StateOptions(redis, single_use, tuple(trusted_proxy or ()))
        redis_server = shared.check()
        server_app = None
        if workers == 1:
            preload(chosen_model)  # each worker loads its own, in build_app
            server_app = _server_app(
                chosen_agent, chosen_model, origin, tokens, limits=limits, state=shared
            )
    except RealtimeError as exc:
        raise _fail(exc.message) from None
    what = f"{chosen_model.provider}:{chosen_model.model_id}"
    if redis_server is not None:
        what += f", sharing state on {redis_server},"
    if server_app is not None:
        _run_server(server_app, host, port, what, limits)
        return
    # Each worker process builds the same app, with the same token keys (one secret per run if
    # none is given) so that a token minted by any worker opens a session on any other.
    factory = functools.partial(
        build_app, agent, model, base_url, tuple(origin or ()), tokens.shared(), limits, shared
    )
    _run_workers(factory, host, port, workers, f"{what} with {workers} workers", limits)


def _server_app(
    agent: RealtimeAgent,
    model: RealtimeModel,
    origins: Sequence[str] | None,
    tokens: TokenOptions | None = None,
    limits: Limits | None = None,
    state: StateOptions | None = None,
) -> Any:
    try:
        from ..server import create_app
    except ImportError as exc:
        raise ConfigurationError(
            f"the server needs its extra ({exc}); pip install 'voicewire[server]'"
        ) from None
    return create_app(
        agent,
        model=model,
        allowed_origins=origins or None,
        **(tokens or TokenOptions()).app_options(),
        session_config=session_config_for(model, agent),
        **(limits or Limits()).app_options(),
        **(state or StateOptions()).app_options(),
    )


def build_app(
    agent: str | None,
    model: str,
    base_url: str | None,
    origins: tuple[str, ...],
    tokens: TokenOptions,
    limits: Limits | None = None,
    state: StateOptions | None = None,
) -> Any:
    """The app ``voicewire serve`` serves, built from its options (in each worker process),
    with the model's weights loaded before it takes a connection."""
    chosen_agent = load_agent(agent)
    chosen_model = load_model(model, base_url=base_url)
    preload(chosen_model)
    return _server_app(chosen_agent, chosen_model, origins, tokens, limits, state)


def _run_workers(
    factory: Callable[[], Any], host: str, port: int, workers: int, what: str, limits: Limits
) -> None:
    from ..server.workers import serve as serve_workers

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host

    def ready(bound: int) -> None:
        console.print(
            f"[bold green]voicewire[/] serving {what} at [link]http://{shown}:{bound}/[/]"
        )

    try:
        serve_workers(
            factory,
            host=host,
            port=port,
            workers=workers,
            ready=ready,
            options=limits.serve_options(),
            drain_timeout=limits.drain_timeout,
        )
    except OSError as exc:  # port in use, permission denied
        raise _fail(f"cannot listen on {host}:{port}: {exc}") from None
    except RuntimeError as exc:
        raise _fail(str(exc)) from None


def _run_server(
    server_app: Any, host: str, port: int, what: str, limits: Limits | None = None
) -> None:
    from ..server.http_limits import uvicorn_server

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"[bold green]voicewire[/] serving {what} at [link]http://{shown}:{port}/[/]")
    options = (limits or Limits()).serve_options()
    try:
        uvicorn_server(server_app, options, host=host, port=port).run()
    except OSError as exc:  # port in use, permission denied
        raise _fail(f"cannot listen on {host}:{port}: {exc}") from None


@app.command()
def token(
    url: Annotated[str, typer.Option(help="the voicewire server")] = "http://127.0.0.1:8000",
    provider: Annotated[
        str | None, typer.Option(help="ask for a provider credential instead (if allowed)")
    ] = None,
    model_id: Annotated[str | None, typer.Option(help="the provider's model id")] = None,
) -> None:
    """Mint a credential from a running server (POST /realtime/credential) and print its JSON."""
    body: dict[str, str] = {}
    if provider is not None:
        body["provider"] = provider
        if model_id is not None:
            body["modelId"] = model_id
    endpoint = url.rstrip("/") + "/realtime/credential"
    try:
        response = httpx.post(endpoint, json=body, timeout=15.0)
    except httpx.HTTPError as exc:
        raise _fail(f"could not reach {endpoint}: {exc}") from None
    if response.status_code >= 400:
        raise _fail(f"{endpoint} answered HTTP {response.status_code}: {response.text[:300]}")
    try:
        credential = credential_from_json(response.json())
    except (ValueError, RealtimeError) as exc:
        raise _fail(f"{endpoint} did not answer with a credential: {exc}") from None
    console.print_json(json.dumps({"credential": credential_to_json(credential)}))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
