"""Recording what clients send to a fake that speaks typed JSON messages, and waiting for one
of a kind: the fake OpenAI-protocol and ElevenLabs servers do both alike, so tests can wait on
an event rather than on the clock."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["ReceivedLog"]

Message = dict[str, Any]


class ReceivedLog:
    """A mixin: ``received`` (every parsed client message, in order) and
    :meth:`wait_for_received`. The fake sets ``received = []`` and ``_received_changed =
    asyncio.Condition()``, records through :meth:`_record`, and may say how it names a
    message's kind (:meth:`_kind_of`, by default its ``type``)."""

    received: list[Message]
    _received_changed: asyncio.Condition

    def _kind_of(self, message: Message) -> str:
        """The kind :meth:`wait_for_received` matches: the message's ``type``."""
        return str(message.get("type"))

    async def _record(self, message: Message) -> None:
        """Append ``message`` to ``received`` and wake whoever waits for it."""
        async with self._received_changed:
            self.received.append(message)
            self._received_changed.notify_all()

    async def wait_for_received(
        self,
        kind: str,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded default is the point of this helper
    ) -> Message:
        """Wait until ``count`` client messages of type ``kind`` have arrived; return the
        ``count``-th. Raises ``TimeoutError`` after ``timeout`` seconds."""

        def matches() -> list[Message]:
            return [m for m in self.received if self._kind_of(m) == kind]

        async with asyncio.timeout(timeout), self._received_changed:
            await self._received_changed.wait_for(lambda: len(matches()) >= count)
        return matches()[count - 1]
