"""A scripted fake Gemini Live server over real WebSockets on 127.0.0.1, split by concern:
the server, handshake, setup and resumption (:mod:`.server`), the client's input
(:mod:`.inputs`), the model's turns (:mod:`.turns`), ephemeral tokens (:mod:`.tokens`), the
shared port for WebSocket and REST (:mod:`.transport`) and the state that outlives a socket
(:mod:`.state`)."""

from .server import FakeGeminiServer
from .state import GeminiLink, GeminiSession

__all__ = ["FakeGeminiServer", "GeminiLink", "GeminiSession"]
