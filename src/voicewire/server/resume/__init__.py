"""Resumable sessions: a conversation that survives its connection, its instance and a restart.

Each session served at ``WS /v1/realtime`` gets a **resume handle** (:mod:`.handles`): opaque,
signed with a key derived from the app's secret, bound to the token's subject. The server hands
it out in the ``X-Voicewire-Resume-Handle`` header of the WebSocket upgrade response, which
OpenAI clients (the ``openai`` package, the Agents SDK) never look at: no event they would have
to know is added to the protocol. A browser cannot read upgrade response headers; it asks with
``?voicewire_resume=1`` and is then sent ``{"type": "voicewire.resume_handle", "handle": ...}``
right after ``session.created`` (``voicewire.js`` does, and reconnects with it).

The conversation (its items, and the settings the client chose) is written through to the state
backend under the handle as it changes, never per audio frame, by one batching, retrying writer
per process (:mod:`.store`, :mod:`.writer`), and
expires ``resume_ttl`` seconds after its last change. A client that connects again with the
handle (``X-Voicewire-Resume`` header, or ``?resume=`` in the URL), to any instance sharing the
backend and secret, gets its conversation back: the new session holds the stored items, its fresh
model link hears them first (the session's reconnect replay), and the client is told each one
again (``conversation.item.added`` / ``.done``) as the model takes it. The client's own replay of
items the server restored is not passed on twice.
"""

from .handles import (
    HANDLE_EVENT_PARAM,
    HANDLE_EVENT_TYPE,
    RESUME_HANDLE_HEADER,
    RESUME_REQUEST_HEADER,
    ResumeHandles,
    ResumeRefused,
    requested_handle,
)
from .serving import MAX_RESUME_TTL, STATUS_OF, Resumer, Resumption, resume_ttl_problem
from .store import ConversationStore, restore

__all__ = [
    "HANDLE_EVENT_PARAM",
    "HANDLE_EVENT_TYPE",
    "MAX_RESUME_TTL",
    "RESUME_HANDLE_HEADER",
    "RESUME_REQUEST_HEADER",
    "STATUS_OF",
    "ConversationStore",
    "ResumeHandles",
    "ResumeRefused",
    "Resumer",
    "Resumption",
    "requested_handle",
    "restore",
    "resume_ttl_problem",
]
