"""voicewire's own short-lived credentials, what a browser gets instead of a provider API key:
standard JWTs, so that an existing auth service can mint them.

* :class:`TokenAuthority` issues and verifies them (:mod:`.authority` says how, step by step);
* :class:`TokenKey` is one key bound to one algorithm (HS256 secret, RS256 or ES256 key), and
  :func:`load_jwks_file` / :class:`RemoteJwks` read an auth service's published keys;
* :class:`ReplayGuard` is where single use remembers spent token ids (in memory by default, the
  state backend across processes);
* :mod:`.errors` says why a token was refused.
"""

from .authority import (
    ANONYMOUS_SUBJECT,
    DEFAULT_LEEWAY,
    MAX_TOKEN_CHARS,
    REQUIRED_CLAIMS,
    TokenAuthority,
)
from .errors import (
    TokenAudienceError,
    TokenClaims,
    TokenError,
    TokenExpiredError,
    TokenKeyError,
    TokenMalformedError,
    TokenNotYetValidError,
    TokenReplayError,
    TokenSignatureError,
)
from .keys import ALGORITHMS, MIN_SECRET_BYTES, TokenKey, keys_from_jwks, load_jwks_file
from .remote import RemoteJwks
from .replay import MemoryReplayGuard, ReplayGuard

__all__ = [
    "ALGORITHMS",
    "ANONYMOUS_SUBJECT",
    "DEFAULT_LEEWAY",
    "MAX_TOKEN_CHARS",
    "MIN_SECRET_BYTES",
    "REQUIRED_CLAIMS",
    "MemoryReplayGuard",
    "RemoteJwks",
    "ReplayGuard",
    "TokenAudienceError",
    "TokenAuthority",
    "TokenClaims",
    "TokenError",
    "TokenExpiredError",
    "TokenKey",
    "TokenKeyError",
    "TokenMalformedError",
    "TokenNotYetValidError",
    "TokenReplayError",
    "TokenSignatureError",
    "keys_from_jwks",
    "load_jwks_file",
]
