"""RS256 and ES256 tokens: an auth service mints them with its private key, the voice server holds
only public keys (PEM or JWKS), picks them by kid, and algorithm confusion never verifies."""

from __future__ import annotations

import base64
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from voicewire.protocol import ConfigurationError
from voicewire.redaction import RedactingFilter, redact
from voicewire.server.tokens import (
    TokenAudienceError,
    TokenAuthority,
    TokenKey,
    TokenKeyError,
    TokenMalformedError,
    TokenSignatureError,
    keys_from_jwks,
    load_jwks_file,
)

NOW = 1_700_000_000.0


def clock() -> float:
    return NOW


def _pem_private(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_public(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_key2() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def auth_service_claims(**changes: Any) -> dict[str, Any]:
    """What another auth service puts in a token for the voice server (with extra claims)."""
    base: dict[str, Any] = {
        "aud": "voicewire",
        "exp": int(NOW) + 300,
        "iat": int(NOW),
        "jti": "a3f1c2d4-0000-4000-8000-1234567890ab",
        "sub": "user-7",
        "iss": "https://auth.example.com",
        "scope": "voice",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_round_trip_private_key_mints_public_key_verifies(
    kind: str, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    private = rsa_key if kind == "rsa" else ec_key
    algorithm = "RS256" if kind == "rsa" else "ES256"
    minter = TokenAuthority(keys=[TokenKey.from_pem(_pem_private(private), kid="k1")], clock=clock)
    verifier = TokenAuthority(keys=[TokenKey.from_pem(_pem_public(private), kid="k1")], clock=clock)
    assert minter.can_issue and not verifier.can_issue
    token = minter.issue(subject="caller-9").token
    assert jwt.get_unverified_header(token) == {"alg": algorithm, "kid": "k1", "typ": "JWT"}
    claims = verifier.verify(token)
    assert (claims.sub, claims.kid, claims.aud) == ("caller-9", "k1", "voicewire")
    assert minter.verify(token).jti == claims.jti
    # A server with only the public key cannot mint, and says why.
    with pytest.raises(ConfigurationError, match="only public keys"):
        verifier.issue()
    # Private key material never shows.
    assert "PRIVATE" not in repr(minter) and "PRIVATE" not in repr(minter._signer)


def test_a_token_minted_by_another_auth_service_with_plain_pyjwt(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    token = jwt.encode(
        auth_service_claims(),
        _pem_private(rsa_key),
        algorithm="RS256",
        headers={"kid": "auth-2026"},
    )
    verifier = TokenAuthority(
        keys=[TokenKey.from_pem(_pem_public(rsa_key), kid="auth-2026")],
        issuer="https://auth.example.com",
        clock=clock,
    )
    claims = verifier.verify(token)
    assert (claims.sub, claims.jti) == ("user-7", "a3f1c2d4-0000-4000-8000-1234567890ab")
    # The same service's token for another audience, or from another issuer, is refused.
    with pytest.raises(TokenAudienceError):
        verifier.verify(
            jwt.encode(auth_service_claims(aud="billing"), _pem_private(rsa_key), "RS256")
        )
    with pytest.raises(TokenAudienceError, match="issuer"):
        verifier.verify(
            jwt.encode(
                auth_service_claims(iss="https://other.example.com"),
                _pem_private(rsa_key),
                "RS256",
            )
        )


def test_kid_rotation_with_a_jwks_file(
    tmp_path: Path,
    rsa_key: rsa.RSAPrivateKey,
    rsa_key2: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    old = TokenKey.from_pem(_pem_private(rsa_key), kid="2026-10")
    new = TokenKey.from_pem(_pem_private(rsa_key2), kid="2026-11")
    ecs = TokenKey.from_pem(_pem_private(ec_key), kid="ec-1")
    jwks = {"keys": [old.public_jwk(), new.public_jwk(), ecs.public_jwk()]}
    assert all("d" not in entry for entry in jwks["keys"])  # public halves only
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    verifier = TokenAuthority(keys=load_jwks_file(path), clock=clock)
    assert not verifier.can_issue
    for key in (old, new, ecs):
        minted = TokenAuthority(keys=[key], clock=clock).issue().token
        assert verifier.verify(minted).kid == key.kid
    # The old key retired: its tokens name a kid no longer known.
    retired = TokenAuthority(keys=keys_from_jwks({"keys": jwks["keys"][1:]}), clock=clock)
    with pytest.raises(TokenKeyError, match="unknown kid"):
        retired.verify(TokenAuthority(keys=[old], clock=clock).issue().token)
    # A token swapping one kid for another (same algorithm, other key) fails its signature.
    token = TokenAuthority(keys=[old], clock=clock).issue().token
    header, payload, signature = token.split(".")
    swapped = _b64({**_unb64(header), "kid": "2026-11"})
    with pytest.raises(TokenSignatureError):
        verifier.verify(f"{swapped}.{payload}.{signature}")
    # With several keys a token must name one.
    unnamed = jwt.encode(auth_service_claims(), _pem_private(rsa_key), "RS256")
    with pytest.raises(TokenKeyError, match="no key id"):
        verifier.verify(unnamed)


def test_one_unnamed_public_key_takes_any_kid(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = TokenAuthority(keys=[TokenKey.from_pem(_pem_public(rsa_key))], clock=clock)
    for headers in (None, {"kid": "whatever-the-service-calls-it"}):
        token = jwt.encode(auth_service_claims(), _pem_private(rsa_key), "RS256", headers=headers)
        assert verifier.verify(token).sub == "user-7"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unb64(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


def _hs256_signed_with(secret: bytes, kid: str | None = None) -> str:
    """An HS256 token signed by hand (PyJWT itself refuses a PEM as an HMAC secret)."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{_b64(header)}.{_b64(auth_service_claims())}".encode()
    mac = hmac.new(secret, signing_input, "sha256").digest()
    return f"{signing_input.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_hs256_signed_with_the_rsa_public_key_as_secret_is_refused(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    """The classic algorithm confusion: the attacker knows the public key (it is public) and
    uses its PEM as an HMAC secret."""
    public_pem = _pem_public(rsa_key)
    verifier = TokenAuthority(keys=[TokenKey.from_pem(public_pem, kid="k")], clock=clock)
    for kid in ("k", None):
        with pytest.raises(TokenSignatureError, match="allows only RS256"):
            verifier.verify(_hs256_signed_with(public_pem, kid))
    # ...and a PEM is never taken as a shared secret in the first place.
    with pytest.raises(ConfigurationError, match="PEM"):
        TokenKey.hmac(public_pem)


def test_rs_and_es_swaps_and_none_are_refused(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    verifier = TokenAuthority(
        keys=[
            TokenKey.from_pem(_pem_public(rsa_key), kid="rsa"),
            TokenKey.from_pem(_pem_public(ec_key), kid="ec"),
        ],
        clock=clock,
    )
    rs = jwt.encode(auth_service_claims(), _pem_private(rsa_key), "RS256", headers={"kid": "rsa"})
    header, payload, signature = rs.split(".")
    for alg, kid in (("ES256", "rsa"), ("RS256", "ec"), ("HS256", "rsa"), ("PS256", "rsa")):
        relabeled = _b64({**_unb64(header), "alg": alg, "kid": kid})
        with pytest.raises(TokenSignatureError):
            verifier.verify(f"{relabeled}.{payload}.{signature}")
    for alg in ("none", "None", "NONE", ""):
        unsigned = _b64({"alg": alg, "kid": "rsa"})
        with pytest.raises(TokenSignatureError, match="not accepted"):
            verifier.verify(f"{unsigned}.{payload}.")
    # A payload edit under a real RS256 signature.
    edited = _b64({**_unb64(payload), "sub": "admin"})
    with pytest.raises(TokenSignatureError):
        verifier.verify(f"{header}.{edited}.{signature}")
    # Signed by an unknown private key under a known kid.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenSignatureError):
        verifier.verify(
            jwt.encode(auth_service_claims(), _pem_private(stranger), "RS256", {"kid": "rsa"})
        )
    with pytest.raises(TokenKeyError):
        verifier.verify(
            jwt.encode(auth_service_claims(), _pem_private(rsa_key), "RS256", {"kid": "nope"})
        )


@pytest.mark.parametrize("missing", ["aud", "exp", "iat", "jti", "sub"])
def test_missing_claims_from_an_auth_service(
    missing: str, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    verifier = TokenAuthority(keys=[TokenKey.from_pem(_pem_public(ec_key))], clock=clock)
    token = jwt.encode(auth_service_claims(**{missing: None}), _pem_private(ec_key), "ES256")
    with pytest.raises(TokenMalformedError, match=f"'{missing}'"):
        verifier.verify(token)


def test_unusable_keys_are_refused_with_clear_errors(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigurationError, match="1024 bits is too weak"):
        TokenKey.from_pem(_pem_public(weak))
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ConfigurationError, match="P-256"):
        TokenKey.from_pem(_pem_public(p384))
    with pytest.raises(ConfigurationError, match="not a usable PEM"):
        TokenKey.from_pem(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ConfigurationError, match="oct"):
        TokenKey.from_jwk({"kty": "oct", "k": "c2VjcmV0"})
    with pytest.raises(ConfigurationError, match="no usable RS256 or ES256"):
        keys_from_jwks({"keys": [{"kty": "RSA", "use": "enc", "n": "x", "e": "AQAB"}]})
    with pytest.raises(ConfigurationError, match='"keys" list'):
        keys_from_jwks({"kid": "x"})
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_jwks_file(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigurationError, match="not JSON"):
        load_jwks_file(tmp_path / "bad.json")


def test_a_jwks_skips_what_it_cannot_use_and_keeps_public_halves(
    rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    private_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key))
    document = {
        "keys": [
            {**private_jwk, "kid": "sig", "use": "sig"},
            {**private_jwk, "kid": "enc", "use": "enc"},
            {**private_jwk, "kid": "pss", "alg": "PS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {**private_jwk, "kid": "hs", "alg": "HS256"},
            {"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
        ]
    }
    with caplog.at_level(logging.WARNING, logger="voicewire.server"):
        keys = keys_from_jwks(document)
    assert "skipped JWKS key 'broken'" in caplog.text
    assert [(k.kid, k.algorithm, k.can_sign) for k in keys] == [("sig", "RS256", False)]


def test_a_jwk_alg_must_fit_its_key(rsa_key: rsa.RSAPrivateKey) -> None:
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    with pytest.raises(ConfigurationError):
        TokenKey.from_jwk({**public_jwk, "alg": "ES256"})


def test_tokens_are_masked_in_logs(
    rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    token = TokenAuthority(keys=[TokenKey.from_pem(_pem_private(rsa_key), kid="k")]).issue().token
    hs = TokenAuthority().issue().token
    for text in (f"got {token} from x", f"token={hs}", f"'{hs}'"):
        masked = redact(text)
        assert token not in masked and hs not in masked and "***" in masked
    logger = logging.getLogger("voicewire.server.test_tokens")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("refused %s", token)
    assert token not in caplog.text and "***" in caplog.text


def test_pem_certificate_verifies(rsa_key: rsa.RSAPrivateKey) -> None:
    import datetime

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auth.example.com")])
    start = datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(rsa_key, hashes.SHA256())
    )
    key = TokenKey.from_pem(certificate.public_bytes(serialization.Encoding.PEM), kid="cert")
    assert (key.algorithm, key.can_sign) == ("RS256", False)
    token = jwt.encode(auth_service_claims(), _pem_private(rsa_key), "RS256", {"kid": "cert"})
    assert TokenAuthority(keys=[key], clock=clock).verify(token).sub == "user-7"


def test_a_secret_beside_an_unnamed_public_key(rsa_key: rsa.RSAPrivateKey) -> None:
    """``serve --token-secret ... --token-public-key auth.pem``: the server mints HS256 tokens and
    takes the auth service's RS256 ones; the header's alg picks the key, never another's."""
    secret = "shared-secret-0123456789abcdef0123456789"
    both = TokenAuthority(secret, keys=[TokenKey.from_pem(_pem_public(rsa_key))], clock=clock)
    assert both.can_issue
    assert both.verify(both.issue(subject="ours").token).sub == "ours"
    for headers in (None, {"kid": "auth-9"}):
        theirs = jwt.encode(auth_service_claims(), _pem_private(rsa_key), "RS256", headers=headers)
        assert both.verify(theirs).sub == "user-7"
    with pytest.raises(TokenSignatureError, match="signature is invalid"):
        both.verify(_hs256_signed_with(_pem_public(rsa_key)))
    with pytest.raises(TokenSignatureError, match="allows only HS256 or RS256"):
        header, payload, signature = theirs.split(".")
        both.verify(f"{_b64({**_unb64(header), 'alg': 'ES256'})}.{payload}.{signature}")
    with pytest.raises(ConfigurationError, match="two RS256 token keys share the kid None"):
        TokenAuthority(
            keys=[TokenKey.from_pem(_pem_public(rsa_key)), TokenKey.from_pem(_pem_public(rsa_key))]
        )
