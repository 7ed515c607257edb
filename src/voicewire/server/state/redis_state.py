"""``RedisState``: the state backend shared by every worker and instance that uses one Redis.

* A single-use claim is one ``SET <prefix>jti:<id> 1 NX PX <ms>``: atomic in Redis, so of two
  instances presenting one token at the same moment exactly one gets the session. The key expires
  :data:`~voicewire.server.state.backend.CLOCK_SKEW` seconds after the token does (the time left
  is computed here and given to Redis as a duration, so the key outlives the token whichever
  instance's clock is ahead).
* A rate-limit hit is one Lua script, ``INCR`` then ``PEXPIRE`` on the first event of a window,
  returning the count and the time left: one round trip, and no window can lose its expiry
  between two commands.

* A resumable conversation is three keys under ``<prefix>conv:<id>``: the config (a string),
  the items (a hash by id) and their order (a list of ids). Each write is one Lua script that
  updates them and restarts the expiry of all three, so a conversation is never half written nor
  half expired. The server's write-through replaces whole conversations
  (:meth:`RedisState.save_conversations`): one script each, many in one pipeline, so a burst of
  sessions costs one pooled connection, not one each.

Redis down: every operation gives up after ``timeout`` seconds (one retry on a broken pooled
connection, which is what a Redis restart leaves behind) and raises
:class:`~voicewire.server.state.StateUnavailableError` naming the server by host, port and
database, never by its URL (which may hold a password). The connection pool is bounded
(``max_connections``); a request that finds it exhausted waits at most ``timeout`` too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .backend import (
    CLOCK_SKEW,
    MAX_STORED_ITEMS,
    RateDecision,
    StateUnavailableError,
    StoredSession,
    check_rate,
)

__all__ = ["DEFAULT_PREFIX", "RedisState"]

DEFAULT_PREFIX = "voicewire:"

_HIT = """
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
"""

# KEYS: config, items, order. ARGV: ttl ms, item id, item, previous id ("" for none), max items.
_PUT_ITEM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then
  local placed = 0
  if ARGV[4] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then
    placed = redis.call('LINSERT', KEYS[3], 'AFTER', ARGV[4], ARGV[2])
  end
  if placed <= 0 then redis.call('RPUSH', KEYS[3], ARGV[2]) end
  while redis.call('LLEN', KEYS[3]) > tonumber(ARGV[5]) do
    redis.call('HDEL', KEYS[2], redis.call('LPOP', KEYS[3]))
  end
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return 1
"""

_DELETE_ITEM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HDEL', KEYS[2], ARGV[2]) == 1 then redis.call('LREM', KEYS[3], 0, ARGV[2]) end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return 1
"""

# KEYS: config, items, order. ARGV: ttl ms, config, then the items in order.
_REPLACE = """
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3])
for i = 3, #ARGV do
  local id = tostring(i - 3)
  redis.call('HSET', KEYS[2], id, ARGV[i])
  redis.call('RPUSH', KEYS[3], id)
end
for i = 2, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return 1
"""

_SAVE = """
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
for i = 2, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return 1
"""


def _ms(seconds: float) -> int:
    return max(math.ceil(seconds * 1000), 1)


class RedisState:
    """The Redis :class:`~voicewire.server.state.StateBackend` (see the module docstring).

    Build it with :meth:`from_url`, or pass a ``redis.asyncio.Redis`` you configured yourself.

    Args:
        client: the Redis client (its event loop is the one it is first used in: build one per
            process and per loop).
        prefix: put before every key; instances share state exactly when they share a Redis
            database and a prefix.
        description: names the server in errors and logs (default: from the client's pool).
        owns_client: :meth:`aclose` closes the client too.
        wall_clock: unix seconds, to turn a token's expiry into a key lifetime.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        description: str | None = None,
        owns_client: bool = True,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self.prefix = prefix
        self._description = description or _describe(client.connection_pool.connection_kwargs)
        self._owns_client = owns_client
        self._wall_clock = wall_clock
        self._hit = client.register_script(_HIT)
        self._put_item = client.register_script(_PUT_ITEM)
        self._delete_item = client.register_script(_DELETE_ITEM)
        self._save = client.register_script(_SAVE)
        self._replace = client.register_script(_REPLACE)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 1.0,
        max_connections: int = 64,
    ) -> RedisState:
        """A backend on the Redis at ``url`` (``redis://[[user]:[password]@]host[:port][/db]``,
        ``rediss://`` for TLS, ``unix:///path?db=0``). Nothing is connected until first use;
        call :meth:`ping` to check the server answers.

        Args:
            url: where Redis is; the URL is not kept (it may hold a password).
            prefix: see the class.
            timeout: seconds to connect, to wait for an answer, or to wait for a free
                connection.
            max_connections: connections this process opens at most.

        Raises:
            ValueError: the URL is not a Redis URL (the message does not repeat it).
        """
        if not timeout > 0 or max_connections < 1:
            raise ValueError("timeout and max_connections must be positive")
        try:
            pool = aioredis.BlockingConnectionPool.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1, (RedisConnectionError,)),
                max_connections=max_connections,
                timeout=timeout,
            )
        except ValueError:
            raise ValueError(
                "not a Redis URL: expected redis://[[user]:[password]@]host[:port][/db], "
                "rediss://... or unix:///path"
            ) from None
        return cls(aioredis.Redis.from_pool(pool), prefix=prefix)

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return f"RedisState({self._description!r}, prefix={self.prefix!r})"

    @property
    def description(self) -> str:
        """``"redis at host:port/db"`` (or the socket path), without credentials."""
        return self._description

    async def claim_once(self, jti: str, expires_at: float) -> bool:
        """See :meth:`StateBackend.claim_once <voicewire.server.state.StateBackend.claim_once>`.

        One ``SET NX PX``. If the answer to a claim that did succeed is lost and the retry then
        finds the key, the claim is reported as already used: the failure is a refusal, never a
        replay.
        """
        hold = max(expires_at - self._wall_clock(), 0.0) + CLOCK_SKEW
        created = await self._call(
            self._client.set(f"{self.prefix}jti:{jti}", b"1", nx=True, px=math.ceil(hold * 1000))
        )
        return bool(created)

    async def hit(self, key: str, *, limit: int, window: float) -> RateDecision:
        """See :meth:`~voicewire.server.state.StateBackend.hit`."""
        check_rate(limit, window)
        window_ms = max(math.ceil(window * 1000), 1)
        answer = await self._call(self._hit(keys=[f"{self.prefix}rate:{key}"], args=[window_ms]))
        count, left_ms = int(answer[0]), int(answer[1])
        return RateDecision(allowed=count <= limit, count=count, retry_after=max(left_ms, 1) / 1000)

    def _conversation(self, handle_id: str) -> list[str]:
        base = f"{self.prefix}conv:{handle_id}"
        return [base, f"{base}:items", f"{base}:order"]

    async def save_session(self, handle_id: str, config: bytes, ttl: float) -> None:
        """See :meth:`~voicewire.server.state.StateBackend.save_session`."""
        await self._call(self._save(keys=self._conversation(handle_id), args=[_ms(ttl), config]))

    async def put_item(
        self, handle_id: str, item_id: str, item: bytes, previous_item_id: str | None, ttl: float
    ) -> None:
        """See :meth:`~voicewire.server.state.StateBackend.put_item`."""
        args: list[bytes | str | int] = [
            _ms(ttl),
            item_id,
            item,
            previous_item_id or "",
            MAX_STORED_ITEMS,
        ]
        await self._call(self._put_item(keys=self._conversation(handle_id), args=args))

    async def delete_item(self, handle_id: str, item_id: str, ttl: float) -> None:
        """See :meth:`~voicewire.server.state.StateBackend.delete_item`."""
        keys = self._conversation(handle_id)
        await self._call(self._delete_item(keys=keys, args=[_ms(ttl), item_id]))

    async def save_conversations(
        self, conversations: Mapping[str, StoredSession], ttl: float
    ) -> None:
        """See :meth:`~voicewire.server.state.StateBackend.save_conversations`: one script per
        conversation, all in one pipeline (one connection, one round trip)."""
        if not conversations:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for handle_id, stored in conversations.items():
                args: list[bytes | int] = [
                    _ms(ttl),
                    stored.config,
                    *stored.items[-MAX_STORED_ITEMS:],
                ]
                await self._replace(keys=self._conversation(handle_id), args=args, client=pipe)
            await self._call(pipe.execute())

    async def load_session(self, handle_id: str) -> StoredSession | None:
        """See :meth:`~voicewire.server.state.StateBackend.load_session`."""
        config_key, items_key, order_key = self._conversation(handle_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.get(config_key)
            pipe.lrange(order_key, 0, -1)
            pipe.hgetall(items_key)
            config, order, items = await self._call(pipe.execute())
        if config is None:
            return None
        return StoredSession(bytes(config), tuple(bytes(items[i]) for i in order if i in items))

    async def drop_session(self, handle_id: str) -> None:
        """See :meth:`~voicewire.server.state.StateBackend.drop_session`."""
        await self._call(self._client.delete(*self._conversation(handle_id)))

    async def ping(self) -> None:
        """``PING``; raises :class:`~voicewire.server.state.StateUnavailableError` when Redis
        does not answer."""
        await self._call(self._client.ping())

    async def aclose(self) -> None:
        """Close the connection pool (when this backend made or owns the client)."""
        if self._owns_client:
            await self._client.aclose()

    async def _call(self, pending: Any) -> Any:
        try:
            return await pending
        except (RedisError, OSError, TimeoutError) as exc:
            raise StateUnavailableError(
                f"{self._description}: {type(exc).__name__}: {_first_line(exc)}"
            ) from None


def _describe(kwargs: dict[str, Any]) -> str:
    """The server a pool connects to, from its connection arguments, without credentials."""
    db = kwargs.get("db", 0)
    if kwargs.get("path"):
        return f"redis at unix:{kwargs['path']} db {db}"
    return f"redis at {kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else "no details"
