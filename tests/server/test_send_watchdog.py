"""The send watchdog on a fake clock: a client that takes nothing for ``send_timeout`` is given
up on, but a stall of the server's own event loop is never blamed on the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voicewire.server.send_watchdog import SendState, SendWatchdog


@dataclass
class Sender:
    done: bool = False
    sent: int = 0
    waiting: bool = True  # a send is waiting on the socket
    stalls: list[str] = field(default_factory=list)

    def state(self) -> SendState:
        return SendState(self.done, self.sent, self.waiting)

    def on_stall(self, reason: str) -> None:
        self.stalls.append(reason)
        self.done = True


class FakeLoop:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Any) -> Any:
        return None  # the test calls check() itself


async def watchdog(sender: Sender, send_timeout: float = 1.0) -> tuple[SendWatchdog, FakeLoop]:
    dog = SendWatchdog(send_timeout, sender.state, sender.on_stall)
    dog.stop()
    loop = FakeLoop()
    dog.loop = loop  # type: ignore[assignment]
    dog.progress_at = dog.checked_at = 0.0
    return dog, loop


async def test_a_send_stuck_for_the_timeout_gives_the_client_up() -> None:
    sender = Sender()
    dog, loop = await watchdog(sender)
    for tick in range(1, 4):
        loop.now = tick * dog.interval
        dog.check()
    assert sender.stalls == []
    loop.now = 4 * dog.interval
    dog.check()
    assert sender.stalls == ["client too slow: nothing could be sent for 1 s"]


async def test_progress_restarts_the_wait() -> None:
    sender = Sender()
    dog, loop = await watchdog(sender)
    for tick in range(1, 12):
        loop.now = tick * dog.interval
        sender.sent += tick % 3 == 0  # a message goes out now and then
        dog.check()
    assert sender.stalls == []


async def test_a_blocked_event_loop_is_not_the_clients_fault() -> None:
    """The loop was blocked for longer than the timeout: on the first check after it, the
    client has had no chance to be read from, so the wait starts again."""
    sender = Sender()
    dog, loop = await watchdog(sender)
    loop.now = 3.0  # three seconds without a check: this process stalled
    dog.check()
    assert sender.stalls == []
    for tick in range(1, 5):  # then a real stall of the client, checked on time
        loop.now = 3.0 + tick * dog.interval
        dog.check()
    assert len(sender.stalls) == 1


async def test_nothing_to_send_is_no_stall() -> None:
    sender = Sender(waiting=False)
    dog, loop = await watchdog(sender)
    for tick in range(1, 20):
        loop.now = tick * dog.interval
        dog.check()
    assert sender.stalls == []


async def test_an_infinite_timeout_watches_nothing() -> None:
    sender = Sender()
    dog = SendWatchdog(float("inf"), sender.state, sender.on_stall)
    assert dog.handle is None
