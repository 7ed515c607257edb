"""The realtime session: runs one agent against one model through one channel."""

from .events import ALIASES, SessionEvent, StatusChanged, ToolOutput
from .history import ConversationHistory
from .playback import PlaybackTracker, TruncatePoint
from .reconnect import ReconnectPolicy, replay_events
from .session import RealtimeSession

__all__ = [
    "ALIASES",
    "ConversationHistory",
    "PlaybackTracker",
    "RealtimeSession",
    "ReconnectPolicy",
    "SessionEvent",
    "StatusChanged",
    "ToolOutput",
    "TruncatePoint",
    "replay_events",
]
