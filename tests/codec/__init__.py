"""Conformance tests of the OpenAI-protocol codecs (OpenAI GA, xAI) and their benchmark."""
