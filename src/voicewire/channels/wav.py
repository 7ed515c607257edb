"""A WAV file as the microphone, and a WAV file as the speaker.

:class:`WavChannel` streams a recorded utterance into a session as if someone were speaking it,
and records the assistant's reply, which makes sessions scriptable and testable without a sound
card. :func:`read_wav` and :func:`write_wav` are the file side, usable on their own.

Python's :mod:`wave` module reads integer PCM only, and in Python 3.11 not even integer PCM stored
as ``WAVE_FORMAT_EXTENSIBLE`` (which is how most tools write 24-bit and multi-channel files). When
``wave`` refuses a file we parse the RIFF chunks ourselves, which adds IEEE float (32/64-bit),
G.711 μ-law and A-law, and the extensible variants of all of these.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import os
import struct
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ..audio import AudioConverter, bytes_to_ms, frame_bytes, ms_to_bytes
from ..audio.g711 import alaw_decode_samples, ulaw_decode_samples
from ..audio.pcm import float_to_int16, samples_to_pcm16
from ..protocol import (
    AudioFormat,
    AudioSink,
    ConfigurationError,
    ConnectionClosedError,
    PlaybackPosition,
)

__all__ = ["WavAudio", "WavChannel", "read_wav", "write_wav"]

log = logging.getLogger("voicewire.channels.wav")

_DEFAULT_OUTPUT: Final = AudioFormat.pcm16(24000)
"""Assumed for audio played before :meth:`WavChannel.start` told us the session's format."""

_PCM: Final = 0x0001
_FLOAT: Final = 0x0003
_ALAW: Final = 0x0006
_MULAW: Final = 0x0007
_EXTENSIBLE: Final = 0xFFFE
_GUID_TAIL: Final = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
"""Bytes 2..15 of every KSDATAFORMAT_SUBTYPE_* GUID; bytes 0..1 hold the plain format tag."""

_TAG_NAMES: Final = {
    0x0002: "Microsoft ADPCM",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG",
    0x0055: "MP3",
}


class _WavProblem(Exception):
    """Why a file is not a WAV we can read; becomes a ConfigurationError naming the path."""


# -- reading and writing WAV files ------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class WavAudio:
    """Decoded WAV audio: int16 ``samples`` of shape ``(frames, channels)`` at ``sample_rate``.

    ``encoding`` describes what the file held (``"PCM 24-bit"``, ``"IEEE float 32-bit"``,
    ``"G.711 mu-law"``, ...); everything is decoded to 16 bits, rounding deeper samples.
    """

    samples: NDArray[np.int16]
    sample_rate: int
    encoding: str

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_ms(self) -> float:
        return self.frames * 1000.0 / self.sample_rate

    @property
    def format(self) -> AudioFormat:
        """The format of :meth:`pcm16`: PCM16 at the file's rate and channel count."""
        return AudioFormat.pcm16(self.sample_rate, self.channels)

    def pcm16(self) -> bytes:
        """Interleaved little-endian PCM16 bytes."""
        return samples_to_pcm16(self.samples)


def read_wav(path: str | os.PathLike[str]) -> WavAudio:
    """Read a WAV file: integer PCM (8/16/24/32-bit), IEEE float (32/64-bit), G.711 μ-law/A-law,
    plain or ``WAVE_FORMAT_EXTENSIBLE``, any channel count and sample rate.

    A missing, unreadable, corrupt or unsupported file, or one without audio, raises
    :class:`~voicewire.protocol.ConfigurationError` naming the path and the problem.
    A data chunk that claims more bytes than the file holds (a recording cut short) is read as far
    as it goes, as :mod:`wave` does.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"WAV file {str(path)!r} does not exist") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigurationError(f"cannot read WAV file {str(path)!r}: {reason}") from None
    try:
        audio = _decode_with_wave(data)
        if audio is None:
            audio = _decode_riff(data)
        if audio.frames == 0:
            raise _WavProblem("it holds no audio (its data chunk is empty)")
    except _WavProblem as exc:
        raise ConfigurationError(f"cannot use WAV file {str(path)!r}: {exc}") from None
    return audio


def write_wav(
    path: str | os.PathLike[str], pcm16: bytes, sample_rate: int, channels: int = 1
) -> None:
    """Write little-endian PCM16 bytes as a WAV file (a trailing partial frame is dropped)."""
    usable = len(pcm16) - len(pcm16) % (2 * channels)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm16[:usable])


def _decode_with_wave(data: bytes) -> WavAudio | None:
    """Integer PCM through :mod:`wave`; ``None`` when ``wave`` cannot read the file at all."""
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels = reader.getnchannels()
            width = reader.getsampwidth()
            rate = reader.getframerate()
            raw = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, struct.error, ValueError, RuntimeError):
        # RuntimeError: wave's chunk reader raises it when a chunk runs past the end of the file.
        return None  # the RIFF parser explains what is wrong, or reads what wave cannot
    _check_layout(channels, rate)
    if not 1 <= width <= 4:
        raise _WavProblem(f"unsupported PCM sample width of {8 * width} bits")
    return WavAudio(_int_pcm(raw, width, channels), rate, f"PCM {8 * width}-bit")


@dataclass(frozen=True, slots=True)
class _Fmt:
    tag: int
    channels: int
    sample_rate: int
    block_align: int
    bits: int


def _decode_riff(data: bytes) -> WavAudio:
    """Parse the RIFF chunks ourselves (the formats :mod:`wave` refuses)."""
    fmt, raw = _parse_riff(data)
    width = fmt.block_align // fmt.channels
    if fmt.tag == _PCM:
        if not 1 <= width <= 4:
            raise _WavProblem(f"unsupported PCM sample width of {fmt.bits} bits")
        return WavAudio(_int_pcm(raw, width, fmt.channels), fmt.sample_rate, f"PCM {fmt.bits}-bit")
    if fmt.tag == _FLOAT:
        if width not in (4, 8):
            raise _WavProblem(f"unsupported IEEE float sample width of {fmt.bits} bits")
        values = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8")
        samples = float_to_int16(values).reshape(-1, fmt.channels)
        return WavAudio(samples, fmt.sample_rate, f"IEEE float {fmt.bits}-bit")
    if width != 1:  # G.711, the only other tag _parse_fmt lets through
        raise _WavProblem(f"G.711 audio must have 8-bit samples, this file says {fmt.bits}")
    codes = np.frombuffer(raw, dtype=np.uint8)
    if fmt.tag == _MULAW:
        decoded, name = ulaw_decode_samples(codes), "G.711 mu-law"
    else:
        decoded, name = alaw_decode_samples(codes), "G.711 A-law"
    return WavAudio(decoded.reshape(-1, fmt.channels), fmt.sample_rate, name)


def _parse_riff(data: bytes) -> tuple[_Fmt, bytes]:
    """The ``fmt `` chunk and the audio bytes (whole frames only) of a RIFF/WAVE file."""
    if len(data) < 12:
        raise _WavProblem(f"the file is too short to be a WAV ({len(data)} bytes)")
    riff, _, form = struct.unpack_from("<4sI4s", data)
    if riff in (b"RIFX", b"RF64") and form == b"WAVE":
        raise _WavProblem(f"{riff.decode()} WAV files are not supported")
    if riff != b"RIFF" or form != b"WAVE":
        raise _WavProblem("it does not start with a RIFF/WAVE header")
    fmt: _Fmt | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body = data[offset + 8 : offset + 8 + size]  # slicing clamps a chunk cut short
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(body)
        elif chunk_id == b"data":
            if fmt is None:
                raise _WavProblem("the data chunk comes before the fmt chunk")
            return fmt, body[: len(body) - len(body) % fmt.block_align]
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    if fmt is None:
        raise _WavProblem("it has no fmt chunk (truncated or not a WAV?)")
    raise _WavProblem("it has no data chunk (truncated?)")


def _parse_fmt(body: bytes) -> _Fmt:
    if len(body) < 16:
        raise _WavProblem(f"its fmt chunk is truncated ({len(body)} of at least 16 bytes)")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE:
        if len(body) < 40:
            raise _WavProblem("its WAVE_FORMAT_EXTENSIBLE fmt chunk is truncated")
        guid = body[24:40]
        if guid[2:] != _GUID_TAIL:
            raise _WavProblem(f"unsupported WAVE_FORMAT_EXTENSIBLE sub-format {guid.hex()}")
        (tag,) = struct.unpack_from("<H", guid)
    if tag not in (_PCM, _FLOAT, _MULAW, _ALAW):
        name = _TAG_NAMES.get(tag, "unknown")
        raise _WavProblem(
            f"unsupported encoding (format tag 0x{tag:04X}, {name}); "
            "supported: integer PCM, IEEE float, G.711 mu-law and A-law"
        )
    _check_layout(channels, rate)
    container = (bits + 7) // 8
    if bits == 0 or block_align != channels * container:
        raise _WavProblem(
            f"inconsistent fmt chunk: {channels} channels of {bits} bits "
            f"but {block_align} bytes per frame"
        )
    return _Fmt(tag, channels, rate, block_align, bits)


def _check_layout(channels: int, rate: int) -> None:
    if channels <= 0:
        raise _WavProblem("its fmt chunk says 0 channels")
    if rate <= 0:
        raise _WavProblem("its fmt chunk says a sample rate of 0 Hz")


def _int_pcm(raw: bytes, width: int, channels: int) -> NDArray[np.int16]:
    """Integer PCM of ``width`` bytes per sample as int16 ``(frames, channels)``.

    8-bit WAV is unsigned (128 = silence); deeper samples are rounded to 16 bits, not truncated,
    so that quiet input does not pick up a half-LSB negative offset.
    """
    raw = raw[: len(raw) - len(raw) % (width * channels)]
    if width == 1:
        unsigned = np.frombuffer(raw, dtype=np.uint8).astype(np.int16)
        samples = (unsigned - 128) << 8
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    else:
        if width == 3:
            b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            wide = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)).astype(np.int64)
            wide = np.where(wide >= 1 << 23, wide - (1 << 24), wide)
        else:
            wide = np.frombuffer(raw, dtype="<i4").astype(np.int64)
        shift = 8 * (width - 2)
        rounded = (wide + (1 << (shift - 1))) >> shift
        samples = np.clip(rounded, -32768, 32767).astype(np.int16)
    return samples.reshape(-1, channels)


def _silence(ms: float, fmt: AudioFormat) -> bytes:
    n = ms_to_bytes(ms, fmt)
    if fmt.encoding == "pcmu":
        return b"\xff" * n  # μ-law code of 0 (codes are stored inverted)
    if fmt.encoding == "pcma":
        return b"\xd5" * n  # A-law code of 0 (even bits inverted)
    return bytes(n)


# -- the channel ------------------------------------------------------------------------------


class WavChannel:
    """A :class:`~voicewire.protocol.RealtimeChannel` that speaks a WAV file and records the reply.

    On :meth:`start` a background task sends the file to the session in ``chunk_ms`` chunks,
    converted to the session's input format, followed by ``trailing_silence_ms`` of silence (so
    that server VAD hears the speech end), then commits the input if ``commit_at_end`` (needed under
    manual turn detection). With ``realtime`` the chunks are paced like a microphone: each one is
    sent when its audio would have been fully spoken, on a schedule computed from the start time, so
    pacing does not drift however late the event loop wakes up. Without it everything is sent as
    fast as the event loop allows. :attr:`finished` is set (and :meth:`wait_sent` returns) once
    all of it was sent.

    Reply audio handed to :meth:`play` is recorded as mono PCM16 at the session's output rate.
    :meth:`playback_position` reports what a listener would have heard: with ``realtime``, audio
    plays at real-time speed through one speaker queue (an item starts when it arrives or when the
    audio queued before it ends, whichever is later, and a gap in delivery is a gap in playback);
    without it, everything received counts as heard. :meth:`interrupt` drops the part not yet
    heard from the recording, as a speaker would drop its queue, and ignores further audio of the
    interrupted item (deltas still in flight from the cancelled response). :meth:`close` stops the
    feeder and writes ``output_path``; the recording keeps audio received but not yet "played"
    then, as if the speaker had been allowed to drain.

    The input format is read from the session once, at :meth:`start`.
    """

    _clock: Callable[[], float] = staticmethod(time.monotonic)
    """Time source of the playback model (seconds); tests may replace it on an instance."""

    def __init__(
        self,
        input_path: str | os.PathLike[str],
        output_path: str | os.PathLike[str] | None = None,
        *,
        realtime: bool = True,
        chunk_ms: float = 20,
        trailing_silence_ms: float = 800,
        commit_at_end: bool = False,
    ) -> None:
        if not (math.isfinite(chunk_ms) and chunk_ms > 0):
            raise ConfigurationError(f"chunk_ms must be a positive number, got {chunk_ms}")
        if not (math.isfinite(trailing_silence_ms) and trailing_silence_ms >= 0):
            raise ConfigurationError(
                f"trailing_silence_ms must be a number >= 0, got {trailing_silence_ms}"
            )
        self.input_path = Path(input_path)
        self.output_path = Path(output_path) if output_path is not None else None
        if self.output_path is not None:
            _check_output_path(self.output_path)
        self.source: WavAudio = read_wav(self.input_path)
        """The decoded input file."""
        self.realtime = realtime
        self.chunk_ms = chunk_ms
        self.trailing_silence_ms = trailing_silence_ms
        self.commit_at_end = commit_at_end
        self.finished = asyncio.Event()
        """Set once the whole input (with its trailing silence and commit) was sent."""
        self.bytes_sent = 0
        """Input bytes handed to the session so far (in its input format)."""

        self._sink: AudioSink | None = None
        self._feeder: asyncio.Task[None] | None = None
        self._closed = False

        self._recording = bytearray()
        self._record_format: AudioFormat | None = None
        self._converter: AudioConverter | None = None
        self._item: str | None = None
        self._content_index = 0
        self._item_bytes = 0
        """Recorded bytes of the current item (heard plus still queued)."""
        self._play_end = 0.0
        """Clock time at which the queued reply audio will have finished playing."""
        self._cut_items: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"WavChannel({str(self.input_path)!r}, "
            f"{str(self.output_path) if self.output_path else None!r}, realtime={self.realtime})"
        )

    # -- input ---------------------------------------------------------------------------------

    async def start(self, sink: AudioSink) -> None:
        """Begin feeding the file into ``sink``. Starting again (a session reconnecting) only
        redirects the rest of the feed and the playback format to the new sink; the file is
        spoken once."""
        if self._closed:
            raise ConnectionClosedError("this WavChannel was closed; create a new one")
        self._sink = sink
        if self._record_format is None:
            self._record_format = AudioFormat.pcm16(sink.output_format.sample_rate)
        if self._feeder is None:
            self._feeder = asyncio.create_task(
                self._feed(sink.input_format), name=f"wav-feeder {self.input_path.name}"
            )
            self._feeder.add_done_callback(_log_failure)

    async def wait_sent(self) -> None:
        """Wait until the whole input was sent; re-raises the feeder's error if it failed.

        Raises :class:`~voicewire.protocol.ConnectionClosedError` if the channel was closed first.
        """
        if self._feeder is None:
            raise RuntimeError("WavChannel.wait_sent(): start the channel (connect its session)")
        try:
            await asyncio.shield(self._feeder)
        except asyncio.CancelledError:
            if self._feeder.cancelled():
                raise ConnectionClosedError(
                    f"{self!r} was closed before its input was fully sent"
                ) from None
            raise

    async def _feed(self, fmt: AudioFormat) -> None:
        converter = AudioConverter(self.source.format, fmt)
        audio = converter.convert(self.source.pcm16()) + converter.flush()
        audio += _silence(self.trailing_silence_ms, fmt)
        chunk = max(frame_bytes(fmt), ms_to_bytes(self.chunk_ms, fmt))
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = 0
        for offset in range(0, len(audio), chunk):
            piece = audio[offset : offset + chunk]
            if self.realtime:
                # A microphone delivers a chunk once it has been spoken: at start + its end time.
                due = started + bytes_to_ms(sent + len(piece), fmt) / 1000.0
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)  # let the connection's writer run between chunks
            assert self._sink is not None
            self._sink.send_audio(piece)
            sent += len(piece)
            self.bytes_sent = sent
        if self.commit_at_end:
            assert self._sink is not None
            self._sink.commit()
        self.finished.set()

    # -- output --------------------------------------------------------------------------------

    def play(self, item_id: str, audio: bytes, content_index: int = 0) -> None:
        if self._closed or item_id in self._cut_items:
            return
        pcm = self._convert_output(audio)
        if (item_id, content_index) != (self._item, self._content_index):
            self._item, self._content_index, self._item_bytes = item_id, content_index, 0
        fmt = self._recording_format
        now = self._clock()
        self._play_end = max(self._play_end, now) + len(pcm) / fmt.bytes_per_second
        self._recording += pcm
        self._item_bytes += len(pcm)

    def playback_position(self) -> PlaybackPosition | None:
        if self._item is None:
            return None
        heard = max(0, self._item_bytes - self._queued_bytes())
        ms = int(bytes_to_ms(heard, self._recording_format))
        return PlaybackPosition(self._item, ms, self._content_index)

    def interrupt(self) -> None:
        unheard = self._queued_bytes()
        if unheard:
            del self._recording[len(self._recording) - unheard :]
            self._item_bytes = max(0, self._item_bytes - unheard)
        self._play_end = min(self._play_end, self._clock())
        if self._converter is not None:
            self._converter.reset()
        if self._item is not None:
            self._cut_items.add(self._item)

    @property
    def recorded(self) -> bytes:
        """The reply audio recorded so far: mono PCM16 at :attr:`output_sample_rate`."""
        return bytes(self._recording)

    @property
    def reply_ms(self) -> float:
        """Duration of :attr:`recorded` in milliseconds."""
        return bytes_to_ms(len(self._recording), self._recording_format)

    @property
    def output_sample_rate(self) -> int:
        """Sample rate of the recording: the session's output rate (24 kHz before start)."""
        return self._recording_format.sample_rate

    @property
    def _recording_format(self) -> AudioFormat:
        return self._record_format or _DEFAULT_OUTPUT

    def _convert_output(self, audio: bytes) -> bytes:
        """Session output audio as mono PCM16 at the recording's rate (fixed at the first play, so
        a mid-session format change is resampled rather than mixing rates in one file)."""
        src = self._sink.output_format if self._sink is not None else _DEFAULT_OUTPUT
        if self._record_format is None:
            self._record_format = AudioFormat.pcm16(src.sample_rate)
        tail = b""
        if self._converter is None or self._converter.src != src:
            if self._converter is not None:
                tail = self._converter.flush()
            self._converter = AudioConverter(src, self._record_format)
        return tail + self._converter.convert(audio)

    def _queued_bytes(self) -> int:
        """Recorded bytes the listener has not heard yet (0 unless realtime)."""
        if not self.realtime:
            return 0
        remaining_ms = max(0.0, self._play_end - self._clock()) * 1000.0
        return min(len(self._recording), ms_to_bytes(remaining_ms, self._recording_format))

    # -- closing -------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop feeding and write :attr:`output_path` (if given). Idempotent."""
        if self._closed:
            return
        self._closed = True
        feeder = self._feeder
        if feeder is not None and not feeder.done():
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feeder  # an error is logged by _log_failure
        if self._converter is not None:
            self._recording += self._converter.flush()
        if self.output_path is not None:
            rate = self._recording_format.sample_rate
            try:
                await asyncio.to_thread(write_wav, self.output_path, bytes(self._recording), rate)
            except OSError:
                # RealtimeSession.close() suppresses channel errors: make sure this one is seen.
                log.exception("could not write the recording to %s", self.output_path)
                raise


def _check_output_path(path: Path) -> None:
    """Fail at construction, not at close: the session's close swallows channel errors."""
    if path.is_dir():
        raise ConfigurationError(f"output path {str(path)!r} is a directory, not a file")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigurationError(
            f"cannot write {str(path)!r}: directory {str(parent)!r} is missing"
        )


def _log_failure(task: asyncio.Task[None]) -> None:
    """Retrieve the feeder's exception so it is logged once instead of "never retrieved"."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("%s failed: %s", task.get_name(), exc, exc_info=exc)
