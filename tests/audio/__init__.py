"""Tests of voicewire.audio: one module per file (converter, duration, g711, pcm, resampler)."""
