"""How a llama.cpp model is prompted and sampled for speech: :class:`Decoding`.

A 135M-parameter model (the bundled SmolLM2) needs more help than a bigger one. Measured with the
fixed question set of :mod:`voicewire.testing.answer_set` (``benchmarks/local_latency.py``
prints the score), what helps it within its budget:

- a few example turns before the conversation (short, direct answers; a sum worked out; "I don't
  know" for what it cannot know). They are the same in every request, so llama.cpp keeps them in
  its KV cache with the system prompt: they cost no time per turn;
- a mild repetition penalty over the last tokens, and stopping a reply that loops anyway (see
  :mod:`.stopping`);
- every request seeded alike, so the same chat gets the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

HONESTY: Final = (
    "If you cannot know the answer (opening hours, prices, news, or anything about the user's "
    "place or people), say you don't know."
)


@dataclass(frozen=True, slots=True)
class Decoding:
    """The prompt additions and sampling settings one llama.cpp model is run with."""

    guidance: str = ""
    """Appended to the session's instructions."""
    examples: Sequence[tuple[str, str]] = ()
    """(user, assistant) turns put before the conversation."""
    top_p: float = 0.9
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    """Penalises tokens seen in the last ``repeat_last_n`` (llama.cpp's 64)."""
    stop_on_repeat: bool = True
    """End a reply that starts to loop (:func:`.stopping.repeats`)."""
    stop: Sequence[str] = field(default=())
    """Strings that end a reply besides the model's end-of-turn tokens."""


GENERAL: Final = Decoding(guidance=HONESTY, stop=("<|im_start|>",))
"""Any GGUF but the bundled one: the instructions plus :data:`HONESTY`."""

SMALL: Final = Decoding(
    guidance=HONESTY,
    examples=(
        ("What is the capital of Spain?", "The capital of Spain is Madrid."),
        (
            "How much is a coffee at the cafe around the corner?",
            "I can't know that, sorry. Ask at the cafe.",
        ),
        ("How can I ease a sore back?", "Gentle stretches and a warm compress can help."),
        ("What is 8 plus 5?", "8 plus 5 is 13."),
        ("Is the post office near me open?", "I don't know, sorry. You could call them to check."),
        (
            "How can I stay calm before an exam?",
            "Breathe slowly, sleep well and take short breaks.",
        ),
    ),
    repeat_penalty=1.15,
    stop=("<|im_start|>",),
)
"""The bundled SmolLM2-135M-Instruct."""
