"""Keepalive settings shared by the tests that kill a link on purpose (blackhole, stall).

The dead link must be what is noticed, never a slow machine: a pong later than ``ping_timeout``
counts as a dead link, and on a loaded two-core runner a pong can come back a few hundred
milliseconds late. So pings go out often (the faults are noticed soon) and a pong gets two seconds.
"""

from __future__ import annotations

from voicewire.providers.keepalive import Keepalive

TEST_KEEPALIVE = Keepalive(ping_interval=0.5, ping_timeout=2.0, close_timeout=0.5)
