"""The realtime session: runs one agent against one model through one channel."""

from .events import ALIASES, SessionEvent, StatusChanged, ToolOutput
from .history import ConversationHistory
from .playback import PlaybackTracker, TruncatePoint
from .session import RealtimeSession

__all__ = [
    "ALIASES",
    "ConversationHistory",
    "PlaybackTracker",
    "RealtimeSession",
    "SessionEvent",
    "StatusChanged",
    "ToolOutput",
    "TruncatePoint",
]
