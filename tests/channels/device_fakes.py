"""A fake ``sounddevice`` module and stream: the test drives the PortAudio callback by hand."""

from __future__ import annotations

from typing import Any

import numpy as np

from voicewire.protocol import AudioFormat


class FakePortAudioError(Exception):
    """Stands in for ``sounddevice.PortAudioError``."""


def device(
    index: int, name: str, inputs: int, outputs: int, rate: float = 48000.0
) -> dict[str, Any]:
    return {
        "name": name,
        "index": index,
        "hostapi": 0,
        "max_input_channels": inputs,
        "max_output_channels": outputs,
        "default_samplerate": rate,
    }


LAPTOP = [
    device(0, "HDA Intel PCH: ALC295 Analog (hw:0,0)", 2, 2, 48000.0),
    device(1, "USB Headset: Audio (hw:1,0)", 1, 2, 44100.0),
    device(2, "HDMI 0", 0, 8, 48000.0),
]


class FakeStream:
    """Records how it was opened; :meth:`tick` plays one PortAudio callback."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.callback = kwargs["callback"]
        self.started = False
        self.aborted = False
        self.closed = 0

    def start(self) -> None:
        self.started = True

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.closed += 1

    def tick(self, frames: int, mic: bytes | None = None, status: int = 0) -> bytes:
        """One callback: ``mic`` (default silence) in, the speaker block out."""
        indata = mic if mic is not None else bytes(2 * frames)
        assert len(indata) == 2 * frames
        outdata = bytearray(2 * frames)
        self.callback(indata, outdata, frames, None, status)
        assert len(outdata) == 2 * frames
        return bytes(outdata)


class FakeSoundDevice:
    """Just the parts of ``sounddevice`` that DeviceChannel uses."""

    PortAudioError = FakePortAudioError

    def __init__(
        self,
        devices: list[dict[str, Any]] | None = None,
        default_input: int = 0,
        default_output: int = 0,
        open_error: Exception | None = None,
    ) -> None:
        self.devices = LAPTOP if devices is None else devices
        self.default_input = default_input
        self.default_output = default_output
        self.open_error = open_error
        self.streams: list[FakeStream] = []

    def query_devices(self, device: int | str | None = None, kind: str | None = None) -> Any:
        if device is None and kind is None:
            return list(self.devices)
        if device is None:
            device = self.default_input if kind == "input" else self.default_output
        if isinstance(device, str):
            matches = [
                d
                for d in self.devices
                if device.lower() in d["name"].lower() and d[f"max_{kind}_channels"] > 0
            ]
            if not matches:
                raise ValueError(f"No {kind} device matching {device!r}")
            return dict(matches[0])
        if not 0 <= device < len(self.devices):
            raise FakePortAudioError(f"Error querying device {device}")
        return dict(self.devices[device])

    def RawStream(self, **kwargs: Any) -> FakeStream:
        if self.open_error is not None:
            raise self.open_error
        stream = FakeStream(**kwargs)
        self.streams.append(stream)
        return stream


class FakeSink:
    """Collects what the channel sends to the session."""

    def __init__(
        self,
        input_format: AudioFormat | None = None,
        output_format: AudioFormat | None = None,
    ) -> None:
        self.input_format = input_format or AudioFormat.pcm16(24000)
        self.output_format = output_format or AudioFormat.pcm16(24000)
        self.chunks: list[bytes] = []
        self.commits = 0

    def send_audio(self, audio: bytes) -> None:
        self.chunks.append(audio)

    def commit(self) -> None:
        self.commits += 1

    @property
    def received(self) -> bytes:
        return b"".join(self.chunks)


def sine_pcm(ms: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> bytes:
    t = np.arange(round(rate * ms / 1000)) / rate
    return (np.rint(amp * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")).tobytes()


def const_pcm(ms: float, rate: int, value: int = 1000) -> bytes:
    return np.full(round(rate * ms / 1000), value, dtype="<i2").tobytes()
