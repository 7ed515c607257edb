"""``/static/react.js`` in a real React 18 page (React from the npm registry, installed at test
time, never committed): ``useBrowserAudio`` + ``useRealtime`` connect, show their status and get
a reply to ``sendMessage``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from voicewire import RealtimeAgent
from voicewire.server import create_app
from voicewire.testing import ScriptedModel, TextReply

from .conftest import browser_page, eventually, screenshot_path

# React 18 ships UMD builds only: classic scripts set window.React / window.ReactDOM, and these
# modules re-export them for the page's import map ("react", "react-dom/client").
REACT_SHIM = """
const React = window.React;
export default React;
export const {
  Children, Component, Fragment, StrictMode, createContext, createElement, forwardRef, memo,
  useCallback, useContext, useDebugValue, useEffect, useId, useLayoutEffect, useMemo, useReducer,
  useRef, useState, useSyncExternalStore, useTransition,
} = React;
"""

REACT_DOM_CLIENT_SHIM = """
const ReactDOM = window.ReactDOM;
// what react-dom/client.js does before calling createRoot (else React warns in development)
ReactDOM.__SECRET_INTERNALS_DO_NOT_USE_OR_YOU_WILL_BE_FIRED.usingClientEntryPoint = true;
export const createRoot = ReactDOM.createRoot;
export const hydrateRoot = ReactDOM.hydrateRoot;
"""

APP = """
import * as React from "react";
import { createRoot } from "react-dom/client";
import { useBrowserAudio, useRealtime } from "/static/react.js";

const h = React.createElement;

async function fetchCredential() {
  const response = await fetch("/realtime/credential", { method: "POST" });
  return (await response.json()).credential;
}

function Voice() {
  const { channel } = useBrowserAudio();
  const realtime = useRealtime(null, { channel });
  const { status, connect, disconnect, muted, mute, unmute, sendMessage } = realtime;
  const [error, setError] = React.useState("");
  const start = () => fetchCredential().then(connect).catch((e) => setError(e.message));
  window.hookKeys = Object.keys(realtime).sort();
  return h("div", null,
    h("p", null, "status: ", h("b", { id: "status" }, status)),
    h("p", null, "muted: ", h("b", { id: "muted" }, String(muted))),
    h("p", null, "agent: ", h("b", { id: "state" }, realtime.agentState)),
    h("button", { id: "start", onClick: start }, "Start"),
    h("button", { id: "mute", onClick: muted ? unmute : mute }, muted ? "Unmute" : "Mute"),
    h("button", { id: "send", onClick: () => sendMessage("Hello from React") }, "Send"),
    h("button", { id: "end", onClick: disconnect }, "End"),
    h("ul", { id: "transcript" },
      realtime.transcript.map((line) =>
        h("li", { key: line.itemId, className: line.role }, line.text))),
    h("p", { id: "error" }, error));
}

createRoot(document.getElementById("root")).render(h(React.StrictMode, null, h(Voice)));
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>voicewire React hook</title>
  <link rel="icon" href="data:,">
  <script src="/test-react/modules/react/umd/react.development.js"></script>
  <script src="/test-react/modules/react-dom/umd/react-dom.development.js"></script>
  <script type="importmap">
    {"imports": {"react": "/test-react/react.js",
                 "react-dom/client": "/test-react/react-dom-client.js"}}
  </script>
  <script type="module" src="/test-react/app.js"></script>
</head>
<body><div id="root"></div></body>
</html>
"""


def javascript(source: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return Response(source, media_type="text/javascript")

    return endpoint


async def test_use_realtime_hook_connects_and_answers(silent_wav: Path, react_dir: Path) -> None:
    model = ScriptedModel(model_id="scripted-realtime")
    model.script.default = TextReply("Hello from the server.")
    app = create_app(RealtimeAgent(id="demo", name="Demo", instructions="Be brief."), model)
    app.router.routes.extend(
        [
            Route("/react", lambda request: HTMLResponse(PAGE)),
            Route("/test-react/react.js", javascript(REACT_SHIM)),
            Route("/test-react/react-dom-client.js", javascript(REACT_DOM_CLIENT_SHIM)),
            Route("/test-react/app.js", javascript(APP)),
            Mount("/test-react/modules", StaticFiles(directory=react_dir)),
        ]
    )
    async with browser_page(app, silent_wav, "/react") as (served, page, problems):
        status = page.locator("#status")
        await status.get_by_text("disconnected").wait_for()
        keys = await page.evaluate("window.hookKeys")
        seed = ["connect", "disconnect", "mute", "muted", "sendMessage", "status", "unmute"]
        assert set(seed) <= set(keys), keys
        assert set(keys) - set(seed) <= {"agentState", "transcript"}, keys

        await page.click("#start")
        await status.get_by_text("connected", exact=True).wait_for()
        await eventually(lambda: served.server.active_sessions == 1, "no session on the server")

        await page.click("#send")
        await page.locator("#transcript li.user").get_by_text("Hello from React").wait_for()
        await (
            page.locator("#transcript li.assistant")
            .get_by_text("Hello from the server.")
            .wait_for()
        )

        await page.click("#mute")
        await page.locator("#muted").get_by_text("true").wait_for()
        await page.click("#mute")
        await page.locator("#muted").get_by_text("false").wait_for()
        await page.screenshot(path=str(screenshot_path("browser-react.png")))

        await page.click("#end")
        await status.get_by_text("disconnected").wait_for()
        await eventually(
            lambda: served.server.active_sessions == 0, "the server kept the session open"
        )
        assert await page.locator("#error").text_content() == ""
        problems.check()
