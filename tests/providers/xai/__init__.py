"""Tests of voicewire.providers.xai: its client codec against xAI's documented differences."""
