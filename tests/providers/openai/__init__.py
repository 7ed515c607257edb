"""Tests of voicewire.providers.openai: its client codec against OpenAI's published event models."""
