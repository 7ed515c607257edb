"""voicewire: realtime voice agents on any speech-to-speech model, through any audio channel.

```python
from voicewire import RealtimeAgent, RealtimeSession, tool
from voicewire.providers import openai
```
"""

from .agent import RealtimeAgent
from .client import RealtimeClient
from .context import Context
from .protocol import (
    AudioFormat,
    ClientCredential,
    ConnectOptions,
    RealtimeError,
    ResponseConfig,
    ResumeConfig,
    SessionConfig,
    TokenCredential,
    TranscriptionConfig,
    TransportStatus,
    TurnDetection,
    UrlCredential,
    VoiceConfig,
    credential_from_json,
    credential_to_json,
)
from .session import RealtimeSession, ReconnectPolicy, SessionEvent
from .tools import Tool, Toolkit, tool

__version__ = "0.1.0"

__all__ = [
    "AudioFormat",
    "ClientCredential",
    "ConnectOptions",
    "Context",
    "RealtimeAgent",
    "RealtimeClient",
    "RealtimeError",
    "RealtimeSession",
    "ReconnectPolicy",
    "ResponseConfig",
    "ResumeConfig",
    "SessionConfig",
    "SessionEvent",
    "TokenCredential",
    "Tool",
    "Toolkit",
    "TranscriptionConfig",
    "TransportStatus",
    "TurnDetection",
    "UrlCredential",
    "VoiceConfig",
    "__version__",
    "credential_from_json",
    "credential_to_json",
    "tool",
]
