"""Tests of voicewire.tools: schemas from signatures, docstring parsing, running a tool."""
