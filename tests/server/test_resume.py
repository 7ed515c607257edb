"""Resumable sessions in one process (the in-memory state backend): a client that connects
again with its resume handle gets its conversation back, and the model link hears it; a forged,
another subject's or an expired handle is refused clearly; OpenAI clients see nothing new."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from voicewire import RealtimeAgent
from voicewire.protocol import ConfigurationError, MessageItem
from voicewire.redaction import redact
from voicewire.server import create_app
from voicewire.server.resume import MAX_RESUME_TTL, ResumeHandles
from voicewire.server.state import MemoryState, StateUnavailableError
from voicewire.session.playback import KEPT_ITEMS as PLAYBACK_KEPT
from voicewire.testing import AudioReply, ScriptedModel

from .conftest import RawClient, Served, assert_strict, serve, user_text
from .limited_server import closed_with

pytestmark = pytest.mark.timeout(30)

SECRET = "resume-tests-shared-secret-0123456789abcdef"
STORY = "one two three four five six seven eight nine ten"


@asynccontextmanager
async def resumable(
    served: Served, token: str, handle: str | None = None, *, query: bool = False
) -> AsyncIterator[tuple[RawClient, str]]:
    """A raw client, resuming ``handle`` (header, or ``?resume=``); yields it and its handle."""
    headers = {"Authorization": f"Bearer {token}"}
    url = served.ws_url
    if handle is not None and query:
        url += f"&resume={handle}"
    elif handle is not None:
        headers["X-Voicewire-Resume"] = handle
    async with websockets.connect(url, additional_headers=headers, open_timeout=5) as ws:
        assert ws.response is not None
        given = ws.response.headers["X-Voicewire-Resume-Handle"]
        client = RawClient(ws)
        assert (await client.recv())["type"] == "session.created"
        yield client, given


async def refused(served: Served, token: str, handle: str) -> tuple[int, dict[str, Any]]:
    try:
        async with resumable(served, token, handle):
            pass
    except InvalidStatus as exc:
        return exc.response.status_code, json.loads(exc.response.body or b"{}")["error"]
    raise AssertionError("the handle was accepted")


async def turn(client: RawClient, text: str) -> list[dict[str, Any]]:
    await client.send(user_text(text))
    await client.send({"type": "response.create"})
    return await client.until("response.done")


async def story_cut_off(client: RawClient) -> str:
    """Asks for :data:`STORY` (1000 ms of audio) and cuts it off where the caller was, 300 ms
    into it (as heard: its first three words); the answer's id."""
    said = await turn(client, "tell me a story")
    item_id: str = said[-1]["response"]["output"][0]["id"]
    truncate = {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0}
    await client.send({**truncate, "audio_end_ms": 300})
    await client.until("conversation.item.truncated")
    return item_id


def item_ids(frames: list[dict[str, Any]], kind: str) -> list[str]:
    return [f["item"]["id"] for f in frames if f["type"] == kind]


async def done_until(client: RawClient, item_id: str) -> dict[str, dict[str, Any]]:
    """The items ``conversation.item.done`` tells, by id, up to and including ``item_id``."""
    frames: list[dict[str, Any]] = []
    while item_id not in item_ids(frames, "conversation.item.done"):
        frames += await client.until("conversation.item.done")
    return {f["item"]["id"]: f["item"] for f in frames if f["type"] == "conversation.item.done"}


@pytest.fixture
async def one(agent: RealtimeAgent, model: ScriptedModel) -> AsyncIterator[Served]:
    state = MemoryState()
    async with serve(create_app(agent, model, secret=SECRET, state=state)) as served:
        yield served


async def test_a_resumed_session_gets_its_conversation_back(
    one: Served, model: ScriptedModel
) -> None:
    token = one.server.tokens.issue(subject="alice").token
    async with resumable(one, token) as (first, handle):
        await first.send({"type": "session.update", "session": {"instructions": "Be terse."}})
        await first.until("session.updated")
        said = await turn(first, "my name is Ada")
        earlier = list(dict.fromkeys(item_ids(said, "conversation.item.added")))
        assert len(earlier) == 2  # the user's message and the answer
    await one.wait_idle(model)

    async with resumable(one, token, handle, query=True) as (second, again):
        assert again == handle  # the same conversation, under the same handle
        created = second.frames[0]["session"]
        assert created["instructions"] == "Be terse."  # the client's settings came back
        restored = await second.until("conversation.item.done")
        restored += await second.until("conversation.item.done")
        assert item_ids(restored, "conversation.item.done") == earlier
        # The fresh model link heard the conversation, then the new turn after it.
        await turn(second, "what is my name?")
        heard = [i for i in model.connections[-1].conversation.values() if i.id in earlier]
        assert [i.id for i in heard] == earlier
        assert isinstance(heard[0], MessageItem) and "Ada" in heard[0].text
    assert one.server.metrics is not None
    assert 'voicewire_sessions_resumed_total{outcome="resumed"} 1.0' in (
        one.server.metrics.render().decode()
    )


async def test_a_resuming_clients_replay_of_restored_items_is_not_passed_on_twice(
    one: Served, model: ScriptedModel
) -> None:
    token = one.server.tokens.issue(subject="alice").token
    async with resumable(one, token) as (first, handle):
        said = await turn(first, "remember the number seven")
        user_id = item_ids(said, "conversation.item.added")[0]
    await one.wait_idle(model)
    async with resumable(one, token, handle) as (second, _):
        await second.until("conversation.item.done")
        replay = user_text("remember the number seven")
        replay["item"]["id"] = user_id
        await second.send(replay)
        await turn(second, "and now?")
        assert "error" not in second.types()
        ids = [i.id for i in model.connections[-1].conversation.values()]
        assert ids.count(user_id) == 1


async def test_handles_that_resume_nothing_are_refused_clearly(
    one: Served, model: ScriptedModel
) -> None:
    alice = one.server.tokens.issue(subject="alice").token
    async with resumable(one, alice) as (_, handle):
        pass
    await one.wait_idle(model)
    forged = handle[:-2] + ("AA" if not handle.endswith("AA") else "BB")
    assert await refused(one, alice, forged) == (
        400,
        {
            "type": "invalid_request_error",
            "code": "resume_handle_invalid",
            "message": "the resume handle was not issued by this service",
        },
    )
    status, error = await refused(one, alice, "not-a-handle")
    assert (status, error["code"]) == (400, "resume_handle_invalid")
    bob = one.server.tokens.issue(subject="bob").token
    status, error = await refused(one, bob, handle)
    assert (status, error["code"]) == (403, "resume_subject_mismatch")
    # Another service's handle (another secret) is a forgery here.
    elsewhere, _ = ResumeHandles("another-secret-of-another-service-0123").mint("alice")
    assert (await refused(one, alice, elsewhere))[0] == 400
    # A handle that names no stored conversation: expired (or never used).
    unused, _ = ResumeHandles(SECRET).mint("alice")
    status, error = await refused(one, alice, unused)
    assert (status, error["code"]) == (404, "resume_handle_expired")
    assert one.server.metrics is not None
    text = one.server.metrics.render().decode()
    assert 'voicewire_sessions_resumed_total{outcome="refused"} 5.0' in text


async def test_a_conversation_expires_after_resume_ttl(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    app = create_app(agent, model, secret=SECRET, resume_ttl=0.3)
    async with serve(app) as served:
        token = served.server.tokens.issue(subject="alice").token
        async with resumable(served, token) as (first, handle):
            await turn(first, "hello")
        await served.wait_idle(model)
        await asyncio.sleep(0.5)
        status, error = await refused(served, token, handle)
        assert (status, error["code"]) == (404, "resume_handle_expired")
        assert "expired" in error["message"]


@pytest.mark.parametrize("ttl", [0.0, -1.0, float("nan"), float("inf"), 2592000.5, 1e30])
def test_a_resume_ttl_that_is_not_seconds_up_to_30_days_is_refused(
    agent: RealtimeAgent, model: ScriptedModel, ttl: float
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        create_app(agent, model, secret=SECRET, resume_ttl=ttl)
    assert isinstance(refused.value, ValueError)  # what the check raised before the bound
    message = str(refused.value)
    assert message.startswith("resume_ttl must be a positive number of seconds")
    assert "at most 2592000 (30 days)" in message and f"got {ttl:g}" in message


def test_a_resume_ttl_of_30_days_is_taken(agent: RealtimeAgent, model: ScriptedModel) -> None:
    app = create_app(agent, model, secret=SECRET, resume_ttl=MAX_RESUME_TTL)
    assert app.state.voicewire.resumer.writer.ttl == MAX_RESUME_TTL == 30 * 24 * 3600


async def test_the_handle_travels_only_in_a_header_openai_clients_ignore(one: Served) -> None:
    async with resumable(one, one.token()) as (client, handle):
        await turn(client, "hello")
        for frame in client.frames:
            assert_strict(frame)  # every event is one the openai package's types know
            assert handle not in json.dumps(frame)
    assert handle.startswith("vwr1.")


async def test_a_client_that_asks_is_told_its_handle_in_an_event_after_session_created(
    one: Served, model: ScriptedModel
) -> None:
    """A browser cannot read the upgrade header: with ``?voicewire_resume=1`` the handle comes
    as a ``voicewire.resume_handle`` event right after ``session.created``, resumed or not."""
    token = one.server.tokens.issue(subject="alice").token

    async def first_frames(url: str, headers: dict[str, str]) -> tuple[str, list[Any]]:
        async with websockets.connect(url, additional_headers=headers, open_timeout=5) as ws:
            assert ws.response is not None
            header = ws.response.headers["X-Voicewire-Resume-Handle"]
            frames = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
            await ws.send(json.dumps(user_text("remember me")))
            while (json.loads(await asyncio.wait_for(ws.recv(), 5)))["type"] != (
                "conversation.item.done"
            ):
                pass
        return header, frames

    auth = {"Authorization": f"Bearer {token}"}
    handle, frames = await first_frames(one.ws_url + "&voicewire_resume=1", auth)
    assert [f["type"] for f in frames] == ["session.created", "voicewire.resume_handle"]
    assert frames[1]["handle"] == handle
    await one.wait_idle(model)

    resumed_url = one.ws_url + f"&voicewire_resume=1&resume={handle}"
    again, frames = await first_frames(resumed_url, auth)
    assert again == handle
    assert [f["type"] for f in frames] == ["session.created", "voicewire.resume_handle"]
    assert frames[1]["handle"] == handle

    for off in ("0", "false", ""):  # asking for nothing is not asking
        url = one.ws_url + f"&voicewire_resume={off}"
        async with websockets.connect(url, additional_headers=auth, open_timeout=5) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            await ws.send(json.dumps(user_text("hi")))
            following = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert following["type"] == "conversation.item.added", following


class SlowState(MemoryState):
    """Writes take a while (a distant Redis): the last ones are still under way when the
    session ends."""

    async def save_conversations(self, conversations: Any, ttl: float) -> None:
        await asyncio.sleep(0.2)
        await super().save_conversations(conversations, ttl)


class DownState(MemoryState):
    """A backend that stopped answering after the handshake."""

    async def put_item(self, *args: Any) -> None:
        raise StateUnavailableError("redis at 10.0.0.5:6379: Connection refused")

    async def save_session(self, *args: Any) -> None:
        raise StateUnavailableError("redis at 10.0.0.5:6379: Connection refused")

    async def save_conversations(self, *args: Any) -> None:
        raise StateUnavailableError("redis at 10.0.0.5:6379: Connection refused")


async def test_the_close_frame_waits_for_the_last_conversation_writes(
    agent: RealtimeAgent, model: ScriptedModel
) -> None:
    state = SlowState()
    async with serve(create_app(agent, model, secret=SECRET, state=state)) as served:
        token = served.server.tokens.issue(subject="alice").token
        async with resumable(served, token) as (client, handle):
            said = await turn(client, "hello")
            await served.server.drain()
            code, _ = await closed_with(client.ws)
            assert code == 1012
            # A client resuming right after the close finds every item it was shown.
            stored = await state.load_session(served.server.resumer.handles.check(handle, "alice"))
            assert stored is not None
            assert len(stored.items) == len(set(item_ids(said, "conversation.item.added")))


async def test_a_backend_that_fails_writes_costs_resumability_not_the_session(
    agent: RealtimeAgent, model: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(agent, model, secret=SECRET, state=DownState())
    async with serve(app) as served, resumable(served, served.token()) as (client, handle):
        for text in ("hello", "and again"):
            said = await turn(client, text)
            assert said[-1]["response"]["status"] == "completed"
    saved = [r.getMessage() for r in caplog.records if "could not be saved" in r.getMessage()]
    assert saved and all("Connection refused" in line for line in saved)
    assert all(handle not in r.getMessage() for r in caplog.records)


async def test_a_handle_in_the_url_never_reaches_a_log_line(
    one: Served, model: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = one.server.tokens.issue(subject="alice").token
    async with resumable(one, token) as (_, handle):
        pass
    await one.wait_idle(model)
    async with resumable(one, token, handle, query=True):
        pass
    await refused(one, token, handle[:-2] + ("AA" if not handle.endswith("AA") else "BB"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "resume" in logged  # the lines were there, without the handle
    assert handle[:-2] not in logged
    assert (
        redact(f"GET /v1/realtime?resume={handle} X-Voicewire-Resume: {handle}").count("vwr1") == 0
    )


async def test_a_reply_cut_off_is_resumed_as_heard_and_a_finished_one_as_completed(
    one: Served, model: ScriptedModel
) -> None:
    model.script.on("story", AudioReply(STORY, duration_ms=1000))
    model.script.on("count", AudioReply("eleven twelve", duration_ms=200))
    token = one.server.tokens.issue(subject="alice").token
    async with resumable(one, token) as (first, handle):
        finished = await turn(first, "count for me")
        finished_id = finished[-1]["response"]["output"][0]["id"]
        cut_id = await story_cut_off(first)
    await one.wait_idle(model)

    async with resumable(one, token, handle) as (second, _):
        done = await done_until(second, cut_id)  # the four items, restored in order
        await turn(second, "go on")
        heard = {i.id: i for i in model.connections[-1].conversation.values()}
    assert done[finished_id]["status"] == "completed"
    assert "eleven twelve" in json.dumps(done[finished_id]["content"])
    stored_cut = json.dumps(done[cut_id]["content"])
    assert "one two three" in stored_cut and "four" not in stored_cut
    # The fresh model link heard the reply as far as the caller did, no further.
    cut = heard[cut_id]
    assert isinstance(cut, MessageItem)
    assert cut.text.split() == ["one", "two", "three"]


async def test_a_reply_cut_off_long_before_the_resume_is_still_resumed_as_heard(
    one: Served, model: ScriptedModel
) -> None:
    """The playback tracker forgets all but its last 16 answers; what arrived of one cut off
    is kept with the cut, so many answers later the stored share is still the heard one."""
    model.script.on("story", AudioReply(STORY, duration_ms=1000))
    model.script.on("count", AudioReply("eleven twelve", duration_ms=40))
    token = one.server.tokens.issue(subject="alice").token
    async with resumable(one, token) as (first, handle):
        cut_id = await story_cut_off(first)
        for n in range(PLAYBACK_KEPT + 1):  # the cut answer drops out of the tracker's window
            said = await turn(first, f"count on {n}")
        last_id = said[-1]["response"]["output"][0]["id"]
        # The model link drops and comes back: its echo of the replayed answer changes the
        # item, so the store encodes it again, long after the tracker forgot it.
        await model.connections[-1].drop()
        await done_until(first, last_id)  # the new link's echoes of the conversation
    await one.wait_idle(model)

    async with resumable(one, token, handle) as (second, _):
        done = await done_until(second, last_id)  # restored in order
    assert cut_id in done, "the cut answer was stored without a word"
    stored_cut = json.dumps(done[cut_id]["content"])
    assert "one two three" in stored_cut and "four" not in stored_cut, stored_cut


async def test_the_end_of_a_reply_the_model_never_re_announces_is_stored(
    agent: RealtimeAgent,
) -> None:
    """The echo model announces its reply ``in_progress`` and only says the response ended."""
    state = MemoryState()
    app = create_app(agent, ScriptedModel(echo=True), secret=SECRET, state=state)
    async with serve(app) as served:
        token = served.server.tokens.issue(subject="alice").token
        async with resumable(served, token) as (client, handle):
            audio = base64.b64encode(bytes(960)).decode()
            for _ in range(3):
                await client.send({"type": "input_audio_buffer.append", "audio": audio})
            await client.send({"type": "input_audio_buffer.commit"})
            [*_, done] = await client.until("response.done")
        reply_id = done["response"]["output"][0]["id"]
        stored = await state.load_session(served.server.resumer.handles.check(handle, "alice"))
    assert stored is not None
    items = {i["id"]: i for i in map(json.loads, stored.items)}
    assert items[reply_id].get("status") == "completed", items[reply_id]
