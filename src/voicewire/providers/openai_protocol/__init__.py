"""Shared machinery for providers that speak the OpenAI Realtime wire protocol (OpenAI, xAI, a
remote voicewire server). Providers differ only in a :class:`Dialect`."""
