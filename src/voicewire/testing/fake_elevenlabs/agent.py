"""The fake ElevenLabs agent's configuration, as data: what the real platform keeps on the agent.

An ElevenLabs Agents conversation is configured on the agent, not per session: its audio
formats, its client tools, its first message, which events reach the client, and which fields a
client may override in ``conversation_initiation_client_data``. A test describes the agent with
an :class:`AgentConfig`; the server applies a client's overrides to it with
:func:`apply_overrides`, which refuses any field not enabled on the agent, as the real platform
does ("an error will be thrown if an override is provided for a field that does not have
overrides enabled").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .. import tones

__all__ = [
    "DEFAULT_CLIENT_EVENTS",
    "OVERRIDABLE_FIELDS",
    "AgentConfig",
    "AudioFormat",
    "OverrideError",
    "apply_overrides",
    "parse_audio_format",
]

DEFAULT_CLIENT_EVENTS: frozenset[str] = frozenset(
    {
        "conversation_initiation_metadata",
        "audio",
        "interruption",
        "agent_response",
        "agent_response_correction",
        "agent_chat_response_part",
        "user_transcript",
        "tentative_user_transcript",
        "client_tool_call",
        "vad_score",
        "ping",
    }
)
"""What the fake sends unless the agent (or an override) says otherwise: the platform's default
list plus the events a voice client needs (correction, text parts, client tools, VAD)."""

OVERRIDABLE_FIELDS: frozenset[str] = frozenset(
    {
        "agent.prompt.prompt",
        "agent.prompt.llm",
        "agent.first_message",
        "agent.language",
        "agent.native_mcp_server_ids",
        "tts.voice_id",
        "tts.stability",
        "tts.speed",
        "tts.similarity_boost",
        "asr.keywords",
        "conversation.text_only",
        "conversation.client_events",
    }
)
"""Every leaf of ``conversation_config_override`` the spec declares, as a dotted path."""

_FORMAT = re.compile(r"^(pcm|ulaw)_(\d+)$")


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """An ElevenLabs audio format name (``pcm_16000``, ``ulaw_8000``) read as rate and coding."""

    name: str
    rate: int
    ulaw: bool

    @property
    def sample_width(self) -> int:
        """Bytes per sample on the wire."""
        return 1 if self.ulaw else 2

    def decode(self, data: bytes) -> bytes:
        """Wire audio to PCM16 at :attr:`rate` (a trailing odd PCM byte is dropped)."""
        if self.ulaw:
            return tones.mulaw_to_pcm16(data)
        return data[: len(data) - len(data) % 2]

    def encode(self, pcm16: bytes) -> bytes:
        """PCM16 at :attr:`rate` to wire audio."""
        return tones.pcm16_to_mulaw(pcm16) if self.ulaw else pcm16


def parse_audio_format(name: str) -> AudioFormat:
    """``pcm_<rate>`` or ``ulaw_8000`` as an :class:`AudioFormat`; ``ValueError`` otherwise."""
    match = _FORMAT.match(name)
    if match is None or (match[1] == "ulaw" and match[2] != "8000"):
        raise ValueError(f"unknown ElevenLabs audio format {name!r}")
    rate = int(match[2])
    if not 8000 <= rate <= 48000:
        raise ValueError(f"unsupported sample rate in {name!r}")
    return AudioFormat(name, rate, match[1] == "ulaw")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """One agent as the platform stores it.

    Attributes:
        agent_output_audio_format: what the agent speaks (``pcm_16000``, ``pcm_44100``,
            ``ulaw_8000``...), announced in ``conversation_initiation_metadata``.
        user_input_audio_format: what ``user_audio_chunk`` must carry.
        first_message: what the agent says as soon as the conversation starts ("" = wait for
            the user), as an :class:`~voicewire.testing.AudioReply` (text in text-only mode).
        first_message_pace: seconds between the first message's 20 ms chunks (0: at once;
            0.02: in real time, so a test can talk over it).
        prompt, language, voice_id: informational; overrides replace them.
        client_tools: names of the client tools declared on the agent; the script calling any
            other tool is recorded in ``undeclared_tool_calls``.
        tool_response_timeout_s: how long the agent waits for a ``client_tool_result``.
        enabled_overrides: dotted fields (see :data:`OVERRIDABLE_FIELDS`) a client may override.
        client_events: the server event types sent to the client (``error`` always is).
        text_only: a text conversation (replies as text, no audio).
    """

    agent_output_audio_format: str = "pcm_16000"
    user_input_audio_format: str = "pcm_16000"
    first_message: str = ""
    first_message_pace: float = 0.0
    prompt: str = "You are a helpful assistant."
    language: str = "en"
    voice_id: str = "voice_default"
    client_tools: frozenset[str] = frozenset()
    tool_response_timeout_s: float = 20.0
    enabled_overrides: frozenset[str] = frozenset()
    client_events: frozenset[str] = DEFAULT_CLIENT_EVENTS
    text_only: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parse_audio_format(self.agent_output_audio_format)
        parse_audio_format(self.user_input_audio_format)
        unknown = set(self.enabled_overrides) - OVERRIDABLE_FIELDS
        if unknown:
            raise ValueError(f"unknown override fields {sorted(unknown)}")

    @property
    def output_format(self) -> AudioFormat:
        """:attr:`agent_output_audio_format`, parsed."""
        return parse_audio_format(self.agent_output_audio_format)

    @property
    def input_format(self) -> AudioFormat:
        """:attr:`user_input_audio_format`, parsed."""
        return parse_audio_format(self.user_input_audio_format)


class OverrideError(Exception):
    """A client overrode a field that is not enabled on the agent."""

    def __init__(self, path: str) -> None:
        super().__init__(f"Override for field '{path}' is not allowed by config.")
        self.path = path


def apply_overrides(agent: AgentConfig, override: Mapping[str, Any] | None) -> AgentConfig:
    """``agent`` with a ``conversation_config_override`` applied; :class:`OverrideError` for the
    first field not in :attr:`AgentConfig.enabled_overrides` (a ``null`` counts as an override,
    the platform does not tell "absent" from "null" more kindly)."""
    if not override:
        return agent
    values = dict(_leaves(override, ""))
    for path in values:
        if path not in agent.enabled_overrides:
            raise OverrideError(path)
    changes: dict[str, Any] = {}
    simple = {
        "agent.first_message": "first_message",
        "agent.prompt.prompt": "prompt",
        "agent.language": "language",
        "tts.voice_id": "voice_id",
        "conversation.text_only": "text_only",
    }
    for path, name in simple.items():
        if values.get(path) is not None:
            changes[name] = values[path]
    if values.get("conversation.client_events") is not None:
        changes["client_events"] = frozenset(values["conversation.client_events"])
    return replace(agent, **changes)


def _leaves(value: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """``(dotted path, value)`` of every non-object value in ``value``."""
    for key, item in value.items():
        if isinstance(item, Mapping):
            yield from _leaves(item, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", item
