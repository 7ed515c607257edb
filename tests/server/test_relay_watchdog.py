"""The relay's send watchdog on a fake clock: a client that takes nothing for ``send_timeout``
is given up on, but a stall of the server's own event loop is never blamed on the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voicewire.server.relay import _Watchdog


@dataclass
class StubRelay:
    send_timeout: float = 1.0
    _closed: bool = False
    _sent: int = 0
    _flushing: bool = True  # a send is waiting on the socket
    given_up: list[str] = field(default_factory=list)

    def _give_up(self, reason: str) -> None:
        self.given_up.append(reason)
        self._closed = True


class FakeLoop:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Any) -> Any:
        return None  # the test calls check() itself


async def watchdog(relay: StubRelay) -> tuple[_Watchdog, FakeLoop]:
    dog = _Watchdog(relay)  # type: ignore[arg-type]
    dog.stop()
    loop = FakeLoop()
    dog.loop = loop  # type: ignore[assignment]
    dog.progress_at = dog.checked_at = 0.0
    return dog, loop


async def test_a_send_stuck_for_the_timeout_gives_the_client_up() -> None:
    relay = StubRelay()
    dog, loop = await watchdog(relay)
    for tick in range(1, 4):
        loop.now = tick * dog.interval
        dog.check()
    assert relay.given_up == []
    loop.now = 4 * dog.interval
    dog.check()
    assert relay.given_up == ["client too slow: nothing could be sent for 1 s"]


async def test_progress_restarts_the_wait() -> None:
    relay = StubRelay()
    dog, loop = await watchdog(relay)
    for tick in range(1, 12):
        loop.now = tick * dog.interval
        relay._sent += tick % 3 == 0  # a message goes out now and then
        dog.check()
    assert relay.given_up == []


async def test_a_blocked_event_loop_is_not_the_clients_fault() -> None:
    """The loop was blocked for longer than the timeout: on the first check after it, the
    client has had no chance to be read from, so the wait starts again."""
    relay = StubRelay()
    dog, loop = await watchdog(relay)
    loop.now = 3.0  # three seconds without a check: this process stalled
    dog.check()
    assert relay.given_up == []
    for tick in range(1, 5):
        loop.now = 3.0 + tick * dog.interval
        dog.check()
    assert len(relay.given_up) == 1


async def test_nothing_to_send_is_no_stall() -> None:
    relay = StubRelay(_flushing=False)
    dog, loop = await watchdog(relay)
    for tick in range(1, 20):
        loop.now = tick * dog.interval
        dog.check()
    assert relay.given_up == []
