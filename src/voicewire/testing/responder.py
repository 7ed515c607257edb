"""The scripted responder shared by the fake realtime server and the scripted model.

Both fakes answer a response request the same way; only what they send differs (wire JSON from
the server, neutral events from the scripted model). What is the same lives here:

* :class:`ResponseRun`: one response in progress, its cancel signal and reason, and the paced
  sleep that wakes early when it is cancelled;
* :func:`choose_reply`: which scripted reply answers (a tool call's ``then`` after its output,
  else the script's rule for the latest user words);
* :func:`answers_in_text`: whether a reply goes out as text or as speech;
* :func:`speech_chunks`, :func:`stream_text` and :func:`stream_speech`: the deltas and their
  pacing, with the transcript's words spread over the audio chunks, a cancel stopping the
  stream between two deltas, and the words not yet said dropped when it does.

The callers pass in how to send one delta (``say`` / ``play``), so the wire format stays theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from . import tones
from .script import AudioReply, Reply, Script, TextReply, ToolCallReply

__all__ = [
    "WORDS",
    "ResponseRun",
    "answers_in_text",
    "choose_reply",
    "speech_chunks",
    "stream_speech",
    "stream_text",
]

WORDS = re.compile(r"\s*\S+")
"""One word with the space before it: the unit of every text and transcript delta."""


@dataclass(eq=False)
class ResponseRun:
    """One response in progress.

    Attributes:
        id: the response id.
        reason: why it was cancelled (``client_cancelled`` or ``turn_detected``); meaningful once
            :attr:`cancelled`.
        task: the task streaming it, once started.
    """

    id: str
    reason: str = "client_cancelled"
    task: asyncio.Task[None] | None = None
    _cancel: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self, reason: str) -> bool:
        """Ask the stream to stop; the first reason given is kept. True if this call did it."""
        if self._cancel.is_set():
            return False
        self.reason = reason
        self._cancel.set()
        return True

    async def pause(self, pace: float) -> bool:
        """Sleep ``pace`` seconds (or just yield), waking early on cancel; True if cancelled."""
        if pace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cancel.wait(), pace)
        else:
            await asyncio.sleep(0)
        return self.cancelled


def choose_reply(
    script: Script,
    calls: Mapping[str, ToolCallReply],
    *,
    tool_output_call_id: str | None,
    user_text: str | None,
) -> Reply:
    """The reply: after a tool's output (the latest item answers ``tool_output_call_id``) the
    ``then`` of the call that asked for it, or the script's default; else the script's rule for
    the latest user words."""
    if tool_output_call_id is not None:
        issued = calls.get(tool_output_call_id)
        if issued is not None and issued.then is not None:
            return issued.then
        return script.default
    return script.choose(user_text)


def answers_in_text(reply: Reply, modalities: Sequence[str] | None) -> bool:
    """A :class:`TextReply` always answers in text, an :class:`AudioReply` when the output
    modalities leave audio out (``None`` or empty: the default, audio)."""
    if isinstance(reply, TextReply):
        return True
    return isinstance(reply, AudioReply) and bool(modalities) and "audio" not in (modalities or ())


def speech_chunks(
    reply: AudioReply, sample_rate: int, sample_width: int, encode: Callable[[bytes], bytes]
) -> list[bytes]:
    """The reply's tone in the output format (``encode`` takes PCM16), in ``chunk_ms`` chunks."""
    wire = encode(tones.tone(reply.duration_ms, sample_rate=sample_rate))
    size = max(1, sample_rate * reply.chunk_ms // 1000) * sample_width
    return [wire[i : i + size] for i in range(0, len(wire), size)]


async def stream_text(
    run: ResponseRun, text: str, pace: float, say: Callable[[str], Awaitable[None]]
) -> str:
    """Say ``text`` word by word, ``pace`` seconds apart, until cancelled; returns what was said."""
    written: list[str] = []
    for word in WORDS.findall(text):
        if run.cancelled:
            break
        written.append(word)
        await say(word)
        if await run.pause(pace):
            break
    return "".join(written)


async def stream_speech(
    run: ResponseRun,
    chunks: Sequence[bytes],
    transcript: str,
    pace: float,
    *,
    say: Callable[[str], Awaitable[None]],
    play: Callable[[bytes], Awaitable[None]],
) -> str:
    """Play the audio chunks ``pace`` seconds apart, each preceded by the transcript words due by
    then (spread evenly), until cancelled; the words left are said when it was not. Returns the
    transcript of what was said."""
    words = WORDS.findall(transcript)
    spoken: list[str] = []

    async def words_due(upto_chunk: int | None) -> None:
        while len(spoken) < len(words) and (
            upto_chunk is None or len(spoken) * len(chunks) <= upto_chunk * len(words)
        ):
            spoken.append(words[len(spoken)])
            await say(spoken[-1])

    for index, chunk in enumerate(chunks):
        if run.cancelled:
            break
        await words_due(index)
        await play(chunk)
        if await run.pause(pace):
            break
    if not run.cancelled:
        await words_due(None)
    return "".join(spoken)
