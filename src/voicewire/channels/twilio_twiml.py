"""The HTTP side of a Twilio call: the TwiML that connects it to a Media Stream, and checking that
a webhook request really comes from Twilio.

Pure functions with no I/O (and no Starlette); :mod:`voicewire.channels.twilio` re-exports them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ..protocol import ConfigurationError

__all__ = ["twilio_signature", "twiml_connect_stream", "validate_twilio_signature"]

_XML_INVALID: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters XML 1.0 cannot carry at all, not even escaped."""

_DEFAULT_PORTS: Final = {"https": 443, "wss": 443, "http": 80, "ws": 80}

Params = Mapping[str, Any] | Iterable[tuple[str, str]] | str | bytes | None
"""POST parameters as a mapping (values may be lists; multi-dicts such as Starlette's
``FormData`` keep every value), as ``(name, value)`` pairs, or a raw JSON body (see
:func:`validate_twilio_signature`)."""


# -- TwiML ------------------------------------------------------------------------------------


def _xml_attr(value: str, what: str) -> str:
    if _XML_INVALID.search(value):
        raise ConfigurationError(f"{what} contains a control character XML cannot carry")
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")  # attribute-value normalisation would turn these into spaces
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def twiml_connect_stream(url: str, *, parameters: Mapping[str, str] | None = None) -> str:
    """TwiML answering a call with a bidirectional Media Stream to ``url``::

        <Response><Connect><Stream url="wss://example.com/media">
          <Parameter name="agent" value="support"/></Stream></Connect></Response>

    (on one line). Return it from your voice webhook with ``Content-Type: text/xml``.
    ``parameters`` become ``<Parameter>`` elements, which Twilio hands to the stream as
    ``start.customParameters`` (:attr:`TwilioChannel.custom_parameters`). Everything is
    XML-escaped.

    ``url`` must be an absolute ``wss://`` URL without a query string: Twilio connects Media
    Streams over TLS only and does not pass query parameters on; use ``parameters`` instead.
    """
    parts = urlsplit(url)
    if parts.scheme != "wss" or not parts.netloc:
        raise ConfigurationError(f"Twilio Media Streams need an absolute wss:// URL, got {url!r}")
    if parts.query:
        raise ConfigurationError(
            f"the Stream URL {url!r} has a query string, which Twilio does not pass on; "
            "pass the values as parameters={...} (they arrive as customParameters)"
        )
    body = ""
    for name, value in (parameters or {}).items():
        if not name:
            raise ConfigurationError("a <Parameter> needs a non-empty name")
        body += (
            f'<Parameter name="{_xml_attr(str(name), "parameter name")}" '
            f'value="{_xml_attr(str(value), f"parameter {name!r}")}"/>'
        )
    stream_url = _xml_attr(url, "the stream URL")
    stream = (
        f'<Stream url="{stream_url}">{body}</Stream>' if body else f'<Stream url="{stream_url}"/>'
    )
    return f"<Response><Connect>{stream}</Connect></Response>"


# -- X-Twilio-Signature -----------------------------------------------------------------------


def _pairs(params: Params) -> list[tuple[str, str]]:
    if params is None or isinstance(params, str | bytes):
        return []
    if isinstance(params, Mapping):
        multi_items = getattr(params, "multi_items", None)  # Starlette FormData / QueryParams
        if callable(multi_items):
            return [(str(k), str(v)) for k, v in multi_items()]
        pairs: list[tuple[str, str]] = []
        for name, value in params.items():
            if isinstance(value, str | bytes) or not isinstance(value, Iterable):
                pairs.append((str(name), _text(value)))
            else:
                pairs.extend((str(name), _text(v)) for v in value)
        return pairs
    return [(str(k), _text(v)) for k, v in params]


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def twilio_signature(auth_token: str, url: str, params: Params = None) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for a request to ``url`` with ``params``.

    Twilio's documented algorithm: start from the full URL (with its query string), append every
    POST parameter as ``name + value`` with no separators, names in case-sensitive (code point)
    order, then HMAC-SHA1 with the auth token as the key and base64. A name with several values
    contributes each distinct value, in sorted order (as Twilio's own helper libraries do).
    A raw body (``str``/``bytes``, for JSON webhooks) adds nothing: it is covered by the
    ``bodySHA256`` query parameter instead.
    """
    by_name: dict[str, set[str]] = {}
    for name, value in _pairs(params):
        by_name.setdefault(name, set()).add(value)
    data = url + "".join(
        name + value for name in sorted(by_name) for value in sorted(by_name[name])
    )
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """``url`` as given, without its port, and with the scheme's default port.

    Twilio signs the URL it requested, and whether that included the port is inconsistent (a
    proxy in front of the app may also add or drop it), so its helper libraries accept both.
    """
    parts = urlsplit(url)
    variants = [url]
    host = parts.hostname
    default = _DEFAULT_PORTS.get(parts.scheme)
    if host is None:
        return variants
    try:
        port = parts.port
    except ValueError:
        return variants
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    bracketed = f"[{host}]" if ":" in host else host
    netloc_options = [prefix + bracketed]
    if port is None and default is not None:
        netloc_options.append(f"{prefix}{bracketed}:{default}")
    for netloc in netloc_options:
        candidate = urlunsplit(parts._replace(netloc=netloc))
        if candidate not in variants:
            variants.append(candidate)
    return variants


def validate_twilio_signature(
    auth_token: str, url: str, params: Params, signature: str | None
) -> bool:
    """Whether ``signature`` (the ``X-Twilio-Signature`` header) proves that Twilio sent this
    request to ``url`` with these POST ``params``.

    ``url`` is the full URL Twilio requested, query string included, as Twilio saw it: behind a
    proxy or tunnel rebuild it from the public host and scheme (``https://``), not from what the
    app sees locally. The URL is tried as given, without its port and with the default port.
    For JSON webhooks pass the raw body as ``params``: its SHA-256 must then match the URL's
    ``bodySHA256`` query parameter. Comparisons are constant-time (:func:`hmac.compare_digest`).
    A missing or empty signature is never valid.
    """
    if not signature or not auth_token:
        return False
    if isinstance(params, str | bytes):
        body = params.encode("utf-8") if isinstance(params, str) else params
        expected = parse_qs(urlsplit(url).query).get("bodySHA256")
        if not expected:
            return False
        actual = hashlib.sha256(body).hexdigest()
        if not hmac.compare_digest(actual.encode(), expected[0].lower().encode()):
            return False
    given = signature.strip().encode("utf-8")
    valid = False
    for candidate in _url_variants(url):
        # Check every variant (no early exit) so the time taken does not depend on which matched.
        computed = twilio_signature(auth_token, candidate, params).encode("ascii")
        valid |= hmac.compare_digest(computed, given)
    return valid
