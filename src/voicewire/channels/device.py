"""The local sound card as a channel: the microphone feeds the session, the speaker plays the reply.

:class:`DeviceChannel` talks to PortAudio through the ``sounddevice`` package (the optional extra
``voicewire[device]``; PortAudio itself is a system library, ``libportaudio2`` on Debian/Ubuntu).
``sounddevice`` is imported when a channel is created, never when :mod:`voicewire.channels` is
imported, so the rest of voicewire works without it.

Design, in short:

- **One duplex stream.** A single PortAudio ``RawStream`` (mono, int16, at one sample rate) carries
  both directions, so the microphone and the speaker share one clock and one callback
  ``callback(indata, outdata, frames, time, status)``. The price: both devices must be usable in
  one stream (same host API, the same rate); PortAudio's ``default`` devices always are.
- **Microphone.** The callback (a PortAudio thread) copies the block and hands it to the event
  loop with ``loop.call_soon_threadsafe``; on the loop it is measured
  (:attr:`DeviceChannel.input_level`), converted from the device rate to ``sink.input_format``
  and passed to ``sink.send_audio``.
- **Speaker.** :meth:`DeviceChannel.play` converts the session's audio to the device rate on the
  loop and appends it to a per-item queue guarded by a lock; the callback pulls exactly ``frames``
  samples each time and fills what is missing with silence. The samples each callback hands to the
  device are counted per item, and :meth:`DeviceChannel.playback_position` reports that, so an
  interruption truncates the reply where the listener really was.
- **Jitter buffer.** An item starts playing only once ``jitter_ms`` of it is buffered, or once its
  audio has ended; an underrun in the middle of an item re-arms the same wait, so a slow network
  gives one pause instead of a stutter. An item's audio has ended when
  :meth:`DeviceChannel.mark_end` says so, when audio of another item arrives, or when none of it
  arrived for ``end_gap_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ..audio import AudioConverter, rms_level
from ..protocol import (
    AudioFormat,
    AudioSink,
    ConfigurationError,
    ConnectionClosedError,
    PlaybackPosition,
)

__all__ = ["DeviceChannel", "DeviceStream", "StreamFactory"]

log = logging.getLogger("voicewire.channels.device")

_DEFAULT_OUTPUT: Final = AudioFormat.pcm16(24000)
"""Assumed for audio played before :meth:`DeviceChannel.start` gave us the session's format."""

PIP_HINT: Final = 'pip install "voicewire[device]"'
APT_HINT: Final = "apt-get install libportaudio2"


class DeviceStream(Protocol):
    """What a stream factory returns: a PortAudio-like stream (``sounddevice.RawStream``).

    ``abort()`` and ``stop()`` are used when present (``abort`` first: it does not wait for queued
    output to play out).
    """

    def start(self) -> None: ...

    def close(self) -> None: ...


StreamFactory = Callable[..., DeviceStream]
"""Called like ``sounddevice.RawStream``: ``factory(samplerate=, blocksize=, device=(in, out),
channels=1, dtype="int16", callback=)``."""


# -- the playback queue (shared with the PortAudio thread, always under DeviceChannel._lock) ---


class _ByteQueue:
    """FIFO of byte chunks read from the front without moving the rest (no O(n) deletes)."""

    __slots__ = ("_chunks", "_offset", "size")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._offset = 0
        self.size = 0

    def append(self, data: bytes) -> None:
        if data:
            self._chunks.append(data)
            self.size += len(data)

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes from the front."""
        want = min(n, self.size)
        parts: list[bytes] = []
        while want > 0:
            head = self._chunks[0]
            take = min(want, len(head) - self._offset)
            parts.append(head[self._offset : self._offset + take])
            self._offset += take
            self.size -= take
            want -= take
            if self._offset == len(head):
                self._chunks.popleft()
                self._offset = 0
        return b"".join(parts)

    def clear(self) -> None:
        self._chunks.clear()
        self._offset = 0
        self.size = 0


@dataclass(eq=False, slots=True)
class _Item:
    """One content part of one assistant item on its way to the speaker."""

    item_id: str
    content_index: int
    src_bytes_per_second: int
    buffer: _ByteQueue = field(default_factory=_ByteQueue)
    """Device-rate PCM16 not yet handed to the device."""
    received_bytes: int = 0
    """Bytes received through :meth:`DeviceChannel.play` (in the session's output format)."""
    played_frames: int = 0
    """Device samples the callback handed to the device."""
    ended: bool = False
    """No more audio is expected (it may come anyway, which reopens the item)."""
    started: bool = False
    """Past the jitter buffer: the callback is playing it."""
    queued: bool = False
    finished: bool = False
    """Ended and played to the last sample."""

    @property
    def received_ms(self) -> int:
        # The same arithmetic as the session's PlaybackTracker.received_ms, so that an item played
        # to the end reports exactly what the session counts as sent.
        return int(self.received_bytes / (self.src_bytes_per_second / 1000.0))


# -- the channel -------------------------------------------------------------------------------


class DeviceChannel:
    """A :class:`~voicewire.protocol.RealtimeChannel` on the local microphone and speaker.

    ``input_device`` / ``output_device`` are what ``sounddevice`` accepts (a device index, or a
    substring of the device name); ``None`` is the system default. ``sample_rate`` defaults to the
    output device's default rate. ``block_ms`` is the PortAudio block size; ``jitter_ms`` how much
    of an item is buffered before it starts playing; ``end_gap_ms`` how long without new audio
    before an item counts as ended (see the module docs).

    Everything that can go wrong with the sound system fails here, in the constructor, with a
    :class:`~voicewire.protocol.ConfigurationError`: ``sounddevice`` or PortAudio not installed,
    no input or output device (the message lists the devices that were found), a device that
    cannot be opened. The stream is opened here and started by :meth:`start`.

    ``stream_factory`` replaces ``sounddevice.RawStream`` and ``sounddevice_module`` replaces the
    imported module (tests use both to run without a sound card). With both ``stream_factory`` and
    ``sample_rate`` given, ``sounddevice`` is not needed at all and the devices are passed to the
    factory unchecked.
    """

    def __init__(
        self,
        *,
        input_device: int | str | None = None,
        output_device: int | str | None = None,
        sample_rate: int | None = None,
        block_ms: float = 20,
        jitter_ms: float = 60,
        end_gap_ms: float = 200,
        stream_factory: StreamFactory | None = None,
        sounddevice_module: Any = None,
    ) -> None:
        if not (math.isfinite(block_ms) and block_ms > 0):
            raise ConfigurationError(f"block_ms must be a positive number, got {block_ms}")
        if not (math.isfinite(jitter_ms) and jitter_ms >= 0):
            raise ConfigurationError(f"jitter_ms must be a number >= 0, got {jitter_ms}")
        if not (math.isfinite(end_gap_ms) and end_gap_ms > 0):
            raise ConfigurationError(f"end_gap_ms must be a positive number, got {end_gap_ms}")
        if sample_rate is not None and sample_rate <= 0:
            raise ConfigurationError(f"sample_rate must be positive, got {sample_rate}")

        sd = sounddevice_module
        if sd is None and (stream_factory is None or sample_rate is None):
            sd = _import_sounddevice()
        device: tuple[int | str | None, int | str | None] = (input_device, output_device)
        self.input_device_name: str | None = None
        """Name of the input device, as PortAudio reports it (``None`` if not queried)."""
        self.output_device_name: str | None = None
        if sd is not None:
            in_info = _resolve_device(sd, input_device, "input")
            out_info = _resolve_device(sd, output_device, "output")
            self.input_device_name = str(in_info.get("name", "?"))
            self.output_device_name = str(out_info.get("name", "?"))
            device = (_index(in_info, input_device), _index(out_info, output_device))
            if sample_rate is None:
                sample_rate = round(float(out_info.get("default_samplerate") or 48000))
        assert sample_rate is not None
        self.sample_rate: Final[int] = int(sample_rate)
        """The device-side sample rate (mono PCM16 in both directions)."""
        self.block_frames: Final[int] = max(1, round(self.sample_rate * block_ms / 1000.0))
        self.jitter_ms: Final = jitter_ms
        self.end_gap_ms: Final = end_gap_ms
        self._device_format = AudioFormat.pcm16(self.sample_rate)
        self._jitter_bytes = 2 * math.floor(self.sample_rate * jitter_ms / 1000.0 + 1e-9)

        # State shared with the PortAudio thread (under _lock where more than one field moves).
        self._lock = threading.Lock()
        self._queue: deque[_Item] = deque()
        self._current: _Item | None = None
        """The item being played, or the last one played."""
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._input_level = 0.0
        self._output_level = 0.0
        self._xruns = 0

        # Loop-side state.
        self._sink: AudioSink | None = None
        self._in_converter: AudioConverter | None = None
        self._out_converter: AudioConverter | None = None
        self._writing: _Item | None = None
        """The item play() is appending to."""
        self._cut_items: set[str] = set()
        self._last_audio = 0.0
        self._end_timer: asyncio.TimerHandle | None = None
        self._started = False

        factory: StreamFactory = stream_factory if stream_factory is not None else sd.RawStream
        self._stream: DeviceStream | None = self._open(sd, factory, device)

    def __repr__(self) -> str:
        return (
            f"DeviceChannel(input={self.input_device_name!r}, output={self.output_device_name!r}, "
            f"sample_rate={self.sample_rate})"
        )

    def _open(self, sd: Any, factory: StreamFactory, device: tuple[Any, Any]) -> DeviceStream:
        errors = _portaudio_errors(sd)
        try:
            return factory(
                samplerate=self.sample_rate,
                blocksize=self.block_frames,
                device=device,
                channels=1,
                dtype="int16",
                callback=self._callback,
            )
        except errors as exc:
            listing = _device_listing(sd) if sd is not None else ""
            raise ConfigurationError(
                f"cannot open the sound device (input {self.input_device_name or device[0]!r}, "
                f"output {self.output_device_name or device[1]!r}) as one mono 16-bit stream at "
                f"{self.sample_rate} Hz: {_reason(exc)}. Both devices must work in one duplex "
                f"stream (same host API); try sample_rate=... or other devices. {listing}".rstrip()
            ) from None

    # -- meters and state -----------------------------------------------------------------------

    @property
    def input_level(self) -> float:
        """RMS level of the last microphone block, 0..1 (see :func:`voicewire.audio.rms_level`)."""
        return self._input_level

    @property
    def output_level(self) -> float:
        """RMS level of the last block handed to the speaker, 0..1 (silence counts)."""
        return self._output_level

    @property
    def xruns(self) -> int:
        """Callbacks in which PortAudio reported an input overflow or output underflow."""
        return self._xruns

    @property
    def buffered_ms(self) -> float:
        """Reply audio queued for the speaker and not yet handed to the device."""
        with self._lock:
            pending = sum(item.buffer.size for item in self._queue)
        return pending * 1000.0 / self._device_format.bytes_per_second

    @property
    def closed(self) -> bool:
        return self._closed

    # -- RealtimeChannel -------------------------------------------------------------------------

    async def start(self, sink: AudioSink) -> None:
        """Start the stream and feed the microphone into ``sink``. Starting again (a session
        reconnecting) only redirects the microphone and the playback format to the new sink."""
        if self._closed:
            raise ConnectionClosedError("this DeviceChannel was closed; create a new one")
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        if self._started:
            return
        assert self._stream is not None
        try:
            self._stream.start()
        except Exception as exc:
            raise ConfigurationError(
                f"cannot start the sound device stream: {_reason(exc)}"
            ) from exc
        self._started = True

    def play(self, item_id: str, audio: bytes, content_index: int = 0) -> None:
        """Queue reply audio (in ``sink.output_format``) for the speaker."""
        if self._closed or not audio or item_id in self._cut_items:
            return
        src = self._sink.output_format if self._sink is not None else _DEFAULT_OUTPUT
        item = self._writing
        if item is None or (item.item_id, item.content_index) != (item_id, content_index):
            self._end_writing()
            item = self._writing = _Item(item_id, content_index, src.bytes_per_second)
        tail = b""
        if self._out_converter is None or self._out_converter.src != src:
            if self._out_converter is not None:
                tail = self._out_converter.flush()
            self._out_converter = AudioConverter(src, self._device_format)
        pcm = tail + self._out_converter.convert(audio)
        with self._lock:
            item.received_bytes += len(audio)
            item.buffer.append(pcm)
            item.ended = False
            if not item.queued:  # new, or reopened after its audio seemed to have ended
                item.queued, item.started, item.finished = True, False, False
                self._queue.append(item)
        self._arm_end_timer()

    def mark_end(self, item_id: str) -> None:
        """No more audio of ``item_id`` will come: play what is buffered without waiting for the
        jitter buffer to fill (optional; without it the end is detected after ``end_gap_ms``)."""
        if self._writing is not None and self._writing.item_id == item_id:
            self._end_writing()

    def interrupt(self) -> None:
        """Stop playback now: drop everything queued. The position of the interrupted item stays
        where the speaker was; audio that still arrives for it is ignored."""
        with self._lock:
            for item in self._queue:
                item.queued = False
                item.buffer.clear()
                self._cut_items.add(item.item_id)
            self._queue.clear()
        if self._writing is not None:
            self._cut_items.add(self._writing.item_id)
            self._writing = None
        if self._out_converter is not None:
            self._out_converter.reset()

    def playback_position(self) -> PlaybackPosition | None:
        """How much of the item playing (or queued next, or last played) was handed to the
        device, in ms of that item; an item played to its end reports all of it."""
        with self._lock:
            item = self._queue[0] if self._queue else self._current
            if item is None:
                return None
            if item.finished:
                ms = item.received_ms
            else:
                played = int(item.played_frames * 1000 / self.sample_rate)
                ms = min(played, item.received_ms)
            return PlaybackPosition(item.item_id, ms, item.content_index)

    async def close(self) -> None:
        """Stop and close the stream; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._end_timer is not None:
            self._end_timer.cancel()
            self._end_timer = None
        with self._lock:
            for item in self._queue:
                item.queued = False
                item.buffer.clear()
            self._queue.clear()
        stream, self._stream = self._stream, None
        if stream is not None:
            # PortAudio may block (it waits for the callback in flight); keep the loop free.
            await asyncio.to_thread(_shut_down, stream, self._started)

    # -- the PortAudio thread ----------------------------------------------------------------------

    def _callback(self, indata: Any, outdata: Any, frames: int, time: Any, status: Any) -> None:
        """Runs on PortAudio's thread: hand the mic block to the loop, fill the speaker block."""
        try:
            if status:
                self._xruns += 1
            if self._closed:
                outdata[:] = bytes(2 * frames)
                self._output_level = 0.0
                return
            loop = self._loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                    loop.call_soon_threadsafe(self._on_input, bytes(indata))
            block = self._pull(frames)
            outdata[:] = block
            self._output_level = rms_level(block)
        except Exception:
            log.exception("sound device callback failed")
            with contextlib.suppress(Exception):
                outdata[:] = bytes(2 * frames)

    def _pull(self, frames: int) -> bytes:
        """Exactly ``frames`` samples for the speaker: queued audio, then silence."""
        need = 2 * frames
        parts: list[bytes] = []
        with self._lock:
            while need > 0 and self._queue:
                item = self._queue[0]
                if not item.started:
                    if item.buffer.size < self._jitter_bytes and not item.ended:
                        break  # still filling the jitter buffer
                    item.started = True
                self._current = item
                chunk = item.buffer.read(need)
                parts.append(chunk)
                need -= len(chunk)
                item.played_frames += len(chunk) // 2
                if item.buffer.size == 0:
                    if item.ended:
                        item.finished, item.queued = True, False
                        self._queue.popleft()
                        continue  # the next item may already be ready
                    if need > 0:
                        item.started = False  # underrun mid-item: wait for the buffer again
                    break
        if need:
            parts.append(bytes(need))
        return b"".join(parts)

    # -- the event loop side ---------------------------------------------------------------------

    def _on_input(self, pcm: bytes) -> None:
        sink = self._sink
        if self._closed or sink is None:
            return
        self._input_level = rms_level(pcm)
        fmt = sink.input_format
        if self._in_converter is None or self._in_converter.dst != fmt:
            self._in_converter = AudioConverter(self._device_format, fmt)
        audio = self._in_converter.convert(pcm)
        if audio:
            with contextlib.suppress(ConnectionClosedError):  # the session closed before us
                sink.send_audio(audio)

    def _end_writing(self) -> None:
        """The item play() appends to has ended: flush the resampler's tail into it."""
        item = self._writing
        if item is None or item.ended:
            return
        tail = self._out_converter.flush() if self._out_converter is not None else b""
        with self._lock:
            if item.queued:
                item.buffer.append(tail)
            item.ended = True

    def _arm_end_timer(self) -> None:
        loop = self._loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # play() outside an event loop: items end by mark_end() or the next item
        self._last_audio = loop.time()
        if self._end_timer is None:
            self._end_timer = loop.call_later(self.end_gap_ms / 1000.0, self._on_end_timer, loop)

    def _on_end_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._end_timer = None
        if self._closed:
            return
        remaining = self._last_audio + self.end_gap_ms / 1000.0 - loop.time()
        if remaining > 0:
            self._end_timer = loop.call_later(remaining, self._on_end_timer, loop)
        else:
            self._end_writing()


# -- finding sounddevice and the devices ---------------------------------------------------------


def _import_sounddevice() -> Any:
    try:
        return importlib.import_module("sounddevice")
    except ImportError as exc:
        raise ConfigurationError(
            f"DeviceChannel needs the sounddevice package, which could not be imported ({exc}). "
            f"Install it with: {PIP_HINT}. It also needs the PortAudio library: {APT_HINT} "
            "(Debian/Ubuntu) or brew install portaudio (macOS)."
        ) from None
    except OSError as exc:
        raise ConfigurationError(
            f"sounddevice is installed but cannot load the PortAudio library ({exc}). "
            f"Install PortAudio: {APT_HINT} (Debian/Ubuntu) or brew install portaudio (macOS); "
            f"the Python side comes with {PIP_HINT}."
        ) from None


def _portaudio_errors(sd: Any) -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ValueError, OSError]
    pa_error = getattr(sd, "PortAudioError", None)
    if isinstance(pa_error, type) and issubclass(pa_error, BaseException):
        errors.append(pa_error)
    return tuple(errors)


def _resolve_device(sd: Any, device: int | str | None, kind: str) -> Mapping[str, Any]:
    """The device info dict of the chosen (or default) ``kind`` device, or a clear error."""
    what = f"default {kind} device" if device is None else f"{kind} device {device!r}"
    try:
        info: Mapping[str, Any] = sd.query_devices(device, kind)
    except _portaudio_errors(sd) as exc:
        raise ConfigurationError(
            f"no {what} is available ({_reason(exc)}). {_device_listing(sd)}"
        ) from None
    if int(info.get(f"max_{kind}_channels", 0)) < 1:
        raise ConfigurationError(
            f"the {what} ({info.get('name', '?')!r}) has no {kind} channels. {_device_listing(sd)}"
        )
    return info


def _index(info: Mapping[str, Any], asked: int | str | None) -> int | str | None:
    index = info.get("index")
    return int(index) if isinstance(index, int) else asked


def _device_listing(sd: Any) -> str:
    try:
        devices = list(sd.query_devices())
    except Exception as exc:
        return f"Listing the audio devices failed too: {_reason(exc)}."
    if not devices:
        return (
            "PortAudio found no audio devices at all (no sound card, or a container without "
            "/dev/snd or a PulseAudio/PipeWire socket)."
        )
    lines = []
    for position, dev in enumerate(devices):
        index = dev.get("index", position)
        lines.append(
            f"  [{index}] {dev.get('name', '?')} ({dev.get('max_input_channels', 0)} in, "
            f"{dev.get('max_output_channels', 0)} out)"
        )
    return (
        "Devices found (choose with input_device=/output_device=, by index or name):\n"
        + "\n".join(lines)
    )


def _reason(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else type(exc).__name__


def _shut_down(stream: DeviceStream, started: bool) -> None:
    try:
        if started:
            halt = getattr(stream, "abort", None) or getattr(stream, "stop", None)
            if halt is not None:
                halt()
        stream.close()
    except Exception:
        log.exception("closing the sound device stream failed")
