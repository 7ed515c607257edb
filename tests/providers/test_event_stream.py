"""EventStream: iterated, or pushing events to one consumer (what RealtimeSession uses)."""

from __future__ import annotations

import logging

import pytest

from voicewire.protocol import SessionError, TextOutputDelta, TransportStatus
from voicewire.providers.event_stream import EventStream


def delta(n: int) -> TextOutputDelta:
    return TextOutputDelta("resp_1", "item_1", str(n))


class Consumer:
    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self.seen: list[str] = []
        self.ended = 0
        self.nested = False
        self._inside = False

    def on_event(self, event: object) -> None:
        if self._inside:
            self.nested = True
        self._inside = True
        try:
            assert isinstance(event, TextOutputDelta)
            self.seen.append(event.delta)
            if event.delta == "1":  # answer at once, as an in-process model does inside send()
                self.stream.put(delta(10))
                self.stream.put(delta(11))
        finally:
            self._inside = False

    def on_end(self) -> None:
        self.ended += 1


async def test_iteration_yields_everything_put_then_ends() -> None:
    stream = EventStream()
    stream.put(delta(0))
    stream.put(delta(1))
    stream.end()
    assert [e.delta async for e in stream.events()] == ["0", "1"]  # type: ignore[attr-defined]


def test_pushes_queued_events_first_then_each_put_at_once() -> None:
    stream = EventStream()
    stream.put(delta(0))
    consumer = Consumer(stream)
    stream.deliver_to(consumer.on_event, consumer.on_end)
    assert consumer.seen == ["0"]
    stream.put(delta(2))
    assert consumer.seen == ["0", "2"]  # synchronously, inside put()


def test_events_put_by_the_consumer_come_after_it_returns_never_nested() -> None:
    stream = EventStream()
    consumer = Consumer(stream)
    stream.deliver_to(consumer.on_event, consumer.on_end)
    stream.put(delta(1))
    stream.put(delta(3))
    assert consumer.seen == ["1", "10", "11", "3"]
    assert not consumer.nested


def test_end_is_reported_once_after_the_last_event() -> None:
    stream = EventStream()
    stream.put(delta(0))
    stream.end()
    consumer = Consumer(stream)
    stream.deliver_to(consumer.on_event, consumer.on_end)
    assert consumer.seen == ["0"] and consumer.ended == 1
    stream.end()
    assert consumer.ended == 1


def test_an_end_while_the_consumer_handles_an_event_is_reported_after_it() -> None:
    stream = EventStream()
    seen: list[str] = []
    ended: list[list[str]] = []

    def on_event(event: object) -> None:
        assert isinstance(event, TextOutputDelta)
        seen.append(event.delta)
        if event.delta == "0":  # the consumer closes the connection it reads (a fatal error)
            stream.end()

    stream.deliver_to(on_event, lambda: ended.append(list(seen)))
    stream.put(delta(0))
    assert seen == ["0"]
    assert ended == [["0"]]  # once, after the event
    stream.end()
    assert len(ended) == 1


def test_a_failing_consumer_is_logged_and_delivery_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = EventStream()
    seen: list[str] = []

    def on_event(event: object) -> None:
        assert isinstance(event, TextOutputDelta)
        if event.delta == "0":
            raise ValueError("boom")
        seen.append(event.delta)

    stream.deliver_to(on_event, lambda: None)
    with caplog.at_level(logging.ERROR, logger="voicewire.connection"):
        stream.put(delta(0))  # does not raise into whoever put it (a provider's reader)
        stream.put(delta(1))
    assert seen == ["1"]
    assert "the event consumer failed" in caplog.text


def test_only_one_consumer() -> None:
    stream = EventStream()
    stream.deliver_to(lambda e: None, lambda: None)
    with pytest.raises(RuntimeError, match="already delivered"):
        stream.deliver_to(lambda e: None, lambda: None)


def test_status_listeners_hear_changes_once() -> None:
    stream = EventStream()
    heard: list[TransportStatus] = []
    off = stream.on_status(heard.append)
    stream.set_status(TransportStatus.CONNECTED)  # unchanged: no call
    stream.set_status(TransportStatus.DISCONNECTED)
    off()
    stream.set_status(TransportStatus.CLOSED)
    assert heard == [TransportStatus.DISCONNECTED]
    assert stream.status is TransportStatus.CLOSED


def test_pushes_errors_like_any_event() -> None:
    stream = EventStream()
    got: list[object] = []
    stream.deliver_to(got.append, lambda: None)
    error = SessionError("connection_lost", "gone", fatal=True)
    stream.put(error)
    assert got == [error]
