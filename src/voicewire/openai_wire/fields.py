"""Reading OpenAI Realtime JSON with errors that name the event type and the field.

Shared by both sides of the wire: one :class:`FieldReader` reads fields, and only the error it
raises differs. :class:`Fields` reads a client event for the server (a
:class:`ClientEventError` with an OpenAI-style code, quoted back to the client);
:class:`ServerEventFields` reads a server event for the client codec (a
:class:`~voicewire.protocol.ProtocolError`).

Every reader checks a value's JSON type before anything else touches it (a set membership test on
an object or an array would raise ``TypeError``), and every number it returns is finite: whatever
a client sends, only :class:`ClientEventError` comes out, with a message of bounded length.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, Generic, TypeVar

from voicewire.protocol import ProtocolError
from voicewire.protocol.base64_audio import b64decode_strict

MISSING: Final = object()
"""What ``message.get(key, MISSING)`` gives for an absent field (``None`` is JSON's null)."""

MAX_INTEGER: Final = 2**31 - 1
"""The largest integer a client field may hold (milliseconds, indexes, counts)."""
_SHOWN_CHARS: Final = 64


def describe(value: object) -> str:
    """A short phrase for a JSON value that was not what a field needs."""
    if value is MISSING:
        return "nothing (the field is missing)"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"{type(value).__name__} {value!r}"[:80]


def shown(value: object) -> str:
    """``value`` as an error message quotes it: a string in quotes (cut short), else described."""
    if isinstance(value, str):
        return repr(value[:_SHOWN_CHARS]) + ("..." if len(value) > _SHOWN_CHARS else "")
    return describe(value)


def one_of(options: Sequence[str]) -> str:
    """``'a', 'b' or 'c'``."""
    quoted = [repr(option) for option in options]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


class ClientEventError(ProtocolError):
    """A client event the server cannot accept.

    ``code`` follows the OpenAI API (``invalid_value``, ``invalid_type``,
    ``missing_required_parameter``, ``unsupported_event``, ...); ``param`` is the dotted path of
    the offending field, when there is one.
    """

    def __init__(
        self, message: str, *, code: str = "invalid_value", param: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.param = param


ErrorT = TypeVar("ErrorT", bound=ProtocolError)


class FieldReader(Generic[ErrorT]):
    """Typed access to one event's fields; every error names the event and the path."""

    __slots__ = ("event_type",)

    def __init__(self, event_type: str) -> None:
        self.event_type = event_type

    def invalid(self, path: str, message: str, *, code: str = "invalid_value") -> ErrorT:
        """The error for the field at ``path``: ``message`` says what is wrong with it."""
        raise NotImplementedError

    def wrong(self, path: str, expected: str, value: object) -> ErrorT:
        code = "missing_required_parameter" if value is MISSING else "invalid_type"
        return self.invalid(path, f"must be {expected}, got {describe(value)}", code=code)

    def text(self, obj: Mapping[str, Any], key: str, path: str = "") -> str:
        value = obj.get(key, MISSING)
        if isinstance(value, str):
            return value
        raise self.wrong(path or key, "a string", value)

    def opt_text(self, obj: Mapping[str, Any], key: str, path: str = "") -> str | None:
        value = obj.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self.wrong(path or key, "a string or null", value)

    def choice(self, value: object, path: str, options: Sequence[str]) -> str:
        """``value`` if it is one of ``options`` (checked as a string first: ``{} in a_set``
        raises ``TypeError``)."""
        if isinstance(value, str) and value in options:
            return value
        if value is MISSING:
            code = "missing_required_parameter"
        else:
            code = "invalid_value" if isinstance(value, str) else "invalid_type"
        raise self.invalid(path, f"must be {one_of(options)}, got {shown(value)}", code=code)

    def opt_choice(
        self, obj: Mapping[str, Any], key: str, path: str, options: Sequence[str]
    ) -> str | None:
        value = obj.get(key)
        return None if value is None else self.choice(value, path, options)

    def integer(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str = "",
        *,
        minimum: int | None = 0,
        maximum: int | None = MAX_INTEGER,
        default: int | None = None,
    ) -> int:
        """An integer within ``minimum..maximum`` (``None``: unbounded); ``default``, when given,
        stands for a missing or null field."""
        value = obj.get(key, MISSING)
        if not isinstance(value, int) or isinstance(value, bool):
            if default is not None and (value is MISSING or value is None):
                return default
            raise self.wrong(path or key, "an integer", value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.invalid(
                path or key, f"must be within {minimum}..{maximum}, got {shown(value)}"
            )
        return value

    def opt_integer(self, obj: Mapping[str, Any], key: str, path: str = "") -> int | None:
        if obj.get(key) is None:
            return None
        return self.integer(obj, key, path)

    def opt_number(self, obj: Mapping[str, Any], key: str, path: str) -> float | None:
        """A finite number: ``NaN`` and the infinities (``1e400`` parses as one) are refused, as
        they have no JSON spelling to show the client back."""
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.wrong(path, "a number", value)
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            number = math.inf
        if not math.isfinite(number):
            raise self.invalid(path, f"must be a finite number, got {shown(value)}")
        return number

    def opt_flag(self, obj: Mapping[str, Any], key: str, path: str) -> bool | None:
        value = obj.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise self.wrong(path, "a boolean", value)

    def mapping(self, obj: Mapping[str, Any], key: str, path: str = "") -> Mapping[str, Any]:
        value = obj.get(key, MISSING)
        if isinstance(value, Mapping):
            return value
        raise self.wrong(path or key, "an object", value)

    def opt_mapping(
        self, obj: Mapping[str, Any], key: str, path: str = ""
    ) -> Mapping[str, Any] | None:
        value = obj.get(key)
        if value is None or isinstance(value, Mapping):
            return value
        raise self.wrong(path or key, "an object or null", value)

    def array(self, obj: Mapping[str, Any], key: str, path: str) -> Sequence[Any]:
        value = obj.get(key, MISSING)
        if isinstance(value, list | tuple):
            return value
        raise self.wrong(path, "an array", value)

    def opt_array(self, obj: Mapping[str, Any], key: str, path: str) -> Sequence[Any] | None:
        if obj.get(key) is None:
            return None
        return self.array(obj, key, path)

    def base64(self, text: str, path: str) -> bytes:
        try:
            return b64decode_strict(text)
        except ValueError as exc:
            raise self.invalid(path, f"is not valid base64 ({exc})") from None


class Fields(FieldReader[ClientEventError]):
    """Reads a client event's fields for the server: errors are :class:`ClientEventError`."""

    __slots__ = ()

    def invalid(self, path: str, message: str, *, code: str = "invalid_value") -> ClientEventError:
        return ClientEventError(
            f"invalid {self.event_type!r} event: {path!r} {message}", code=code, param=path
        )


class ServerEventFields(FieldReader[ProtocolError]):
    """Reads a server event's fields for the client codec: errors are plain
    :class:`~voicewire.protocol.ProtocolError` (a provider sent something malformed)."""

    __slots__ = ()

    def invalid(self, path: str, message: str, *, code: str = "invalid_value") -> ProtocolError:
        return ProtocolError(
            f"malformed {self.event_type!r} server event: field {path!r} {message}"
        )

    def integer(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str = "",
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        default: int | None = None,
    ) -> int:
        """Unbounded unless asked: a provider's numbers are taken as they are (the server bounds
        a client's, which it must hold)."""
        return super().integer(obj, key, path, minimum=minimum, maximum=maximum, default=default)
