"""Headless Chromium against a live voicewire server, with a WAV file as the microphone.

Recipe (measured, see the shared browser-e2e notes): Debian's ``chromium`` driven by PyPI
``playwright`` through ``executable_path`` (``playwright install`` is never run), the fake media
flags with a mono 16-bit WAV that starts with 0.5 s of silence and ends with at least 1 s of it,
pages served from ``http://127.0.0.1:PORT``, and every console error and page error collected.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright
from starlette.applications import Starlette

from tests.server.conftest import Served, serve

CHROMIUM = Path(os.environ.get("VOICEWIRE_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
WAV_RATE = 48000

# --- the microphone: WAV files -------------------------------------------------------------------


def speech_like(duration_s: float, *, rate: int = WAV_RATE, frequency: float = 440.0) -> np.ndarray:
    """A loud tone with a syllable-like envelope (3 Hz), as float samples in [-1, 1]."""
    t = np.arange(round(duration_s * rate)) / rate
    envelope = 0.65 + 0.35 * np.sin(2 * np.pi * 3.0 * t)
    carrier = np.sin(2 * np.pi * frequency * t) + 0.3 * np.sin(2 * np.pi * 2 * frequency * t)
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)  # 20 ms fades, no clicks
    return 0.45 * envelope * carrier * ramp


def quiet(duration_s: float, *, rate: int = WAV_RATE) -> np.ndarray:
    return np.zeros(round(duration_s * rate))


def write_wav(path: Path, samples: np.ndarray, *, rate: int = WAV_RATE) -> Path:
    """Mono 16-bit PCM: the only kind Chromium's fake capture reads (others give silence)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="session")
def wav_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wav")


@pytest.fixture(scope="session")
def speech_wav(wav_dir: Path) -> Path:
    """0.5 s silence, 1.5 s of speech-like tone, 1.5 s silence."""
    samples = np.concatenate([quiet(0.5), speech_like(1.5), quiet(1.5)])
    return write_wav(wav_dir / "speech.wav", samples)


@pytest.fixture(scope="session")
def silent_wav(wav_dir: Path) -> Path:
    """Silence (without a file Chromium's fake microphone beeps, which the VAD would hear)."""
    return write_wav(wav_dir / "silence.wav", quiet(2.0))


# --- the browser ---------------------------------------------------------------------------------


def require_chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. Run `make chromium` "
            "(or `make test`, which installs it), i.e. "
            "`apt-get update && apt-get install -y --no-install-recommends chromium`.",
            pytrace=False,
        )
    return CHROMIUM


def chromium_args(wav: Path) -> list[str]:
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav.resolve()}%noloop",
    ]


@dataclass
class PageProblems:
    """Console errors and uncaught page errors seen by a page."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(f"console.error: {message.text} ({message.location})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def check(self) -> None:
        assert not self.errors, "the page reported errors:\n" + "\n".join(self.errors)


@asynccontextmanager
async def chromium(wav: Path) -> AsyncIterator[Browser]:
    """Headless Chromium whose microphone plays ``wav`` once (from each getUserMedia call)."""
    executable = require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=chromium_args(wav)
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def open_page(browser: Browser, url: str) -> AsyncIterator[tuple[Page, PageProblems]]:
    context = await browser.new_context(viewport={"width": 900, "height": 760})
    page = await context.new_page()
    problems = PageProblems()
    problems.watch(page)
    page.set_default_timeout(10_000)
    try:
        await page.goto(url)
        yield page, problems
    finally:
        await context.close()


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


# --- the server ----------------------------------------------------------------------------------


@asynccontextmanager
async def browser_page(
    app: Starlette, wav: Path, path: str = "/"
) -> AsyncIterator[tuple[Served, Page, PageProblems]]:
    """``app`` on a live server, and a page of it in Chromium with ``wav`` as the microphone."""
    async with (
        serve(app) as served,
        chromium(wav) as browser,
        open_page(browser, served.http + path) as (page, problems),
    ):
        yield served, page, problems


async def eventually(
    condition: Callable[[], object], message: str | Callable[[], str], within: float = 10.0
) -> None:
    """Wait (polling the event loop) up to ``within`` seconds until ``condition()`` is truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(message() if callable(message) else message)
        await asyncio.sleep(0.02)


# --- React from the npm registry (not committed) -------------------------------------------------


def _react_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voicewire-tests" / "react18"


@pytest.fixture(scope="session")
def react_dir() -> Iterator[Path]:
    """``node_modules`` with React 18 and ReactDOM 18 (UMD builds), installed once and reused."""
    cache = _react_cache()
    wanted = [
        cache / "node_modules" / "react" / "umd" / "react.development.js",
        cache / "node_modules" / "react-dom" / "umd" / "react-dom.development.js",
    ]
    if not all(path.exists() for path in wanted):
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: the React hook test installs React 18 with npm")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(cache),
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--loglevel=error",
                "react@18",
                "react-dom@18",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0 or not all(path.exists() for path in wanted):
            pytest.fail(f"npm install react@18 react-dom@18 failed:\n{done.stdout}\n{done.stderr}")
    yield cache / "node_modules"


# --- the React example app built by Vite (make js-test) ------------------------------------------

REACT_APP_DIST = ROOT / "js" / "examples" / "react-app" / "dist"


@pytest.fixture(scope="session")
def react_app_dist() -> Path:
    """``js/examples/react-app/dist``: built by ``make js-test`` (part of ``make test``), cached."""
    if not (REACT_APP_DIST / "index.html").is_file():
        pytest.fail(
            f"{REACT_APP_DIST} is missing: `make js-test` (or `make test`) builds the React "
            "example app",
            pytrace=False,
        )
    return REACT_APP_DIST
