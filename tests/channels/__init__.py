"""Tests of voicewire.channels: one module per channel (wav, device, twilio_*), end to end too."""
