"""Helpers for the authentication and isolation suites: key pairs, LibreChat-
style JWTs (minted here with python3-cryptography, header {alg, typ, kid} and
the claims of docs/auth.md, "LibreChat JWTs"), hostile variants
of them, and a `kcr serve` configured to verify them."""
import base64
import json
import time
import uuid

import pytest

try:
    from cryptography.hazmat.primitives import hashes, hmac, serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
except ImportError:  # pragma: no cover - deps/test.txt installs it
    pytest.skip("python3-cryptography is needed to mint JWTs (deps/test.txt)",
                allow_module_level=True)

from api_util import TEST_KEY, start_server

KID = "lc-codeapi-2026-05"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class KeyPair:
    """An Ed25519 (alg EdDSA) or RSA-2048 (alg RS256) signing key."""

    def __init__(self, alg="EdDSA"):
        self.alg = alg
        if alg == "EdDSA":
            self.private = ed25519.Ed25519PrivateKey.generate()
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def public_pem(self):
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    @property
    def private_pem(self):
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()

    def jwk(self, kid=None):
        pub = self.private.public_key()
        if self.alg == "EdDSA":
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            j = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        else:
            n = pub.public_numbers()
            j = {"kty": "RSA", "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                 "e": b64url(n.e.to_bytes(3, "big"))}
        if kid:
            j["kid"] = kid
        return j

    def sign(self, data):
        if self.alg == "EdDSA":
            return self.private.sign(data)
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())


def claims(sub="user-1", tenant="legacy", ttl=300, now=None, **over):
    """The claims LibreChat's codeapi.ts puts in a token (§13)."""
    now = int(time.time()) if now is None else now
    c = {"iss": "librechat", "aud": "codeapi", "sub": sub, "iat": now, "nbf": now,
         "exp": now + ttl, "jti": str(uuid.uuid4()), "tenant_id": tenant, "role": "USER",
         "principal_source": "librechat_jwt", "auth_context_hash": "0" * 64}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def encode(header, payload, signer=None, signature=None):
    """A compact JWS; signer(bytes) -> signature, or an explicit signature."""
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    signing_input = f"{h}.{p}".encode()
    sig = signature if signature is not None else signer(signing_input)
    return f"{h}.{p}.{b64url(sig)}"


def mint(key, kid=KID, **claim_over):
    return encode({"alg": key.alg, "typ": "JWT", "kid": kid}, claims(**claim_over), key.sign)


def hs256(secret, payload, kid=KID):
    def signer(data):
        h = hmac.HMAC(secret if isinstance(secret, bytes) else secret.encode(), hashes.SHA256())
        h.update(data)
        return h.finalize()
    return encode({"alg": "HS256", "typ": "JWT", "kid": kid}, payload, signer)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def jwt_server(key, extra=None, api_key=TEST_KEY):
    """A kcr serve that verifies tokens of key (CODEAPI_JWT_PUBLIC_KEY) and,
    unless api_key is None, also takes the test API key (provider both)."""
    env = {"CODEAPI_JWT_PUBLIC_KEY": key.public_pem, "MAX_EXECUTION_TIME": "10"}
    env.update(extra or {})
    return start_server(env, api_key=api_key)
