"""The local model declares what it really takes: every neutral client event, each answered as a
cloud model would answer it (none refused as unsupported, none failing inside)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from voicewire.protocol import (
    ActivityEnd,
    ActivityStart,
    AudioInputAppend,
    AudioInputClear,
    AudioInputCommit,
    ClientEvent,
    ItemCreate,
    ItemCreated,
    ItemDelete,
    ItemTruncate,
    ResponseCancel,
    ResponseCreate,
    ServerEvent,
    SessionConfig,
    SessionError,
    SessionUpdate,
    ToolResult,
    TurnDetection,
    user_text,
)
from voicewire.providers import local
from voicewire.providers.local import smart_turn
from voicewire.providers.local.model import LOCAL_CAPABILITIES

from .conftest import Recorder

pytestmark = pytest.mark.timeout(120)

SILENCE_300MS = bytes(2 * 24000 * 300 // 1000)


def test_the_local_model_declares_every_client_event() -> None:
    assert LOCAL_CAPABILITIES.unsupported_client_events() == frozenset()
    assert LOCAL_CAPABILITIES.activity_signals and LOCAL_CAPABILITIES.manual_turns
    # semantic_vad is Smart Turn's, declared when its model is installed (make local-deps)
    assert LOCAL_CAPABILITIES.semantic_vad is smart_turn.available()
    default = "semantic_vad" if smart_turn.available() else "server_vad"
    assert LOCAL_CAPABILITIES.default_turn_detection == default


def test_the_options_default_turn_detection_is_the_models_capability() -> None:
    for mode in ("server_vad", "semantic_vad"):
        model = local.realtime(default_turn_detection=mode)
        assert model.capabilities.default_turn_detection == mode
        assert replace(model.capabilities, default_turn_detection=None) == replace(
            LOCAL_CAPABILITIES, default_turn_detection=None
        )


async def test_each_declared_event_is_answered(loaded: None) -> None:
    model = local.realtime()
    assert model.capabilities is LOCAL_CAPABILITIES
    connection = await model.connect()
    seen = Recorder()
    connection.deliver_to(seen, lambda: None)

    async def answer(event: ClientEvent, kind: str | None, code: str | None = None) -> ServerEvent:
        start = len(seen.events)
        connection.send(event)
        if kind is None:
            await asyncio.sleep(0.05)
            return event  # type: ignore[return-value]
        return await seen.wait_for(
            lambda e: e.kind == kind and (code is None or e.code == code), 60, start
        )

    manual = TurnDetection("manual", create_response=False)
    try:
        await answer(SessionUpdate(SessionConfig(turn_detection=manual)), "session.updated")
        created = await answer(ItemCreate(user_text("Hello.")), "item.created")
        assert isinstance(created, ItemCreated) and created.item.id is not None
        await answer(ItemDelete(created.item.id), "item.deleted")
        await answer(
            ItemTruncate("item_none", 100), "session.error", "item_truncate_invalid_item_id"
        )
        await answer(AudioInputAppend(SILENCE_300MS), None)
        await answer(AudioInputClear(), "audio.input.cleared")
        await answer(AudioInputCommit(), "session.error", "input_audio_buffer_commit_empty")
        await answer(ActivityStart(), "speech.started")
        await answer(AudioInputAppend(SILENCE_300MS), None)
        await answer(ActivityEnd(), "audio.input.committed")
        await answer(ItemCreate(user_text("Tell me a long story.")), "item.created")
        await answer(ResponseCreate(), "response.created")  # silence alone gets no response
        await answer(ResponseCancel(), "response.done")
        await answer(ToolResult("call_1", '{"ok": true}', "lookup"), "item.created")
    finally:
        await connection.close()
    refused = [
        e
        for e in seen.events
        if isinstance(e, SessionError) and e.code in ("unsupported_event", "internal_error")
    ]
    assert refused == []
