"""Errors raised by voicewire. Every one says what went wrong and, where it can, what to do."""

from __future__ import annotations


class RealtimeError(Exception):
    """Base class of every voicewire error; ``code`` is a stable machine-readable tag."""

    code = "realtime_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigurationError(RealtimeError, ValueError):
    """The agent, tools or options are inconsistent (duplicate tool names, bad formats, ...)."""

    code = "configuration_error"


class AuthenticationError(RealtimeError):
    """No usable API key or credential, or the provider refused the one given."""

    code = "authentication_error"


class CredentialExpiredError(AuthenticationError):
    code = "credential_expired"


class ConnectAbortedError(RealtimeError):
    """The connect was aborted through ``ConnectOptions.abort`` before it completed."""

    code = "connect_aborted"


class HandshakeError(RealtimeError):
    """The provider refused or failed the WebSocket handshake."""

    code = "handshake_failed"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectionClosedError(RealtimeError):
    """The operation needs a live connection and there is none."""

    code = "connection_closed"


class ProtocolError(RealtimeError):
    """A message from the wire could not be understood (bad JSON, bad base64, bad shape)."""

    code = "protocol_error"


class UnsupportedEventError(RealtimeError):
    """This provider has no way to express the given client event."""

    code = "unsupported_event"
