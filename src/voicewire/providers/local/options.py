"""The local model's settings: :class:`LocalOptions` (what :class:`SessionConfig` has no place
for) and the defaults it falls back on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final, Literal

from ...protocol import AudioFormat
from .vad import SAMPLE_RATE

LOCAL_VOICES: Final = ("en_US-joe-medium", "joe")
"""The voice ids of the bundled piper voice (joe). A ``voice_id`` naming a voice of
:attr:`LocalOptions.voices_dir` picks that voice instead; any other is spoken by joe (see
:func:`.tts.voice_path`)."""

DEFAULT_FORMAT = AudioFormat.pcm16(24000)
STT_FORMAT = AudioFormat.pcm16(SAMPLE_RATE)
DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant. Answer briefly, in one or two short sentences."
)


@dataclass(frozen=True, slots=True)
class LocalOptions:
    """Pipeline settings that have no place in :class:`SessionConfig` (or defaults for it)."""

    silence_duration_ms: int = 400
    """``server_vad``: end of turn after this much silence, unless the session's turn detection
    says otherwise (piper and people pause ~300 ms at a comma; speculation hides most of the
    wait)."""
    default_turn_detection: Literal["server_vad", "semantic_vad"] | None = None
    """The turn detection of a session that names none: ``None`` is ``semantic_vad`` when Smart
    Turn is installed (see :mod:`.smart_turn`), else ``server_vad``."""
    semantic_check_ms: int = 200
    """``semantic_vad``: the shortest silence that ends a turn Smart Turn and the transcript
    judge finished (they judge at the first pause); else it ends after a longer silence (see
    :data:`.smart_turn.EAGERNESS`)."""
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    min_speech_ms: int = 96
    """Speech must last this long before ``speech.started`` (and barge-in)."""
    speculate: bool = True
    """Transcribe and start answering during the end-of-turn silence (see :mod:`.turns`)."""
    pause_ms: int = 32
    """Silence after which speculation starts (and Smart Turn judges the turn): one VAD frame
    below the threshold. Each pause costs a transcription that is dropped if the user goes on;
    on the pause set Smart Turn judged every utterance as it did at 64 ms, one frame sooner."""
    trailing_pad_ms: int = 200
    """Audio kept after the end of speech for STT (tight cuts lose final consonants)."""
    first_clause_words: int = 2
    """Speak the first clause once it has this many words (later clauses wait for more)."""
    first_clause_max_words: int = 6
    """... or, without punctuation, once it has this many."""
    max_output_tokens: int = 160
    temperature: float = 0.3
    webrtc_gate: bool = True
    history_items: int = 24
    """The language model sees at most this many of the latest items, and at least half of them:
    the window moves in steps of half, so the cached prompt is reused between the steps."""
    output_chunk_ms: int = 100
    max_utterance_s: float = 30.0
    voices_dir: str | None = None
    """A directory of piper voices (``name.onnx`` with ``name.onnx.json``) a session may choose
    from by ``voice_id``: the name, or a path inside it. ``None``: joe speaks every session."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"
