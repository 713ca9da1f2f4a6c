#!/usr/bin/env python3
"""Writes fuzz/corpus/jwt/: tokens that fuzz_jwt.c's fixed key set verifies at
its fixed time (an EdDSA key derived from a fixed seed, the HS256 secret), and
near misses. Run from the repository root after changing either."""
import base64, hashlib, hmac, json, os
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives import serialization

NOW = 1767225600
SECRET = b"kcr-fuzz-hs256-secret-0123456789abcdef"
KEY = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"kcr-fuzz").digest())


def b64(d):
    return base64.urlsafe_b64encode(d).rstrip(b"=").decode()


def token(alg, claims, kid="fuzz-1", sig=None):
    h = {"alg": alg, "typ": "JWT", "kid": kid}
    si = b64(json.dumps(h, separators=(",", ":")).encode()) + "." + \
        b64(json.dumps(claims, separators=(",", ":")).encode())
    if sig is None:
        sig = KEY.sign(si.encode()) if alg == "EdDSA" else \
            hmac.new(SECRET, si.encode(), hashlib.sha256).digest()
    return si + "." + b64(sig)


c = {"iss": "librechat", "aud": "codeapi", "sub": "user-1", "iat": NOW, "nbf": NOW,
     "exp": NOW + 300, "tenant_id": "t1"}
seeds = {
    "eddsa": token("EdDSA", c),
    "hs256": token("HS256", c),
    "aud_list": token("EdDSA", dict(c, aud=["codeapi", "x"])),
    "no_tenant": token("HS256", {k: v for k, v in c.items() if k != "tenant_id"}),
    "expired": token("EdDSA", dict(c, exp=NOW - 100)),
    "alg_none": token("none", c, sig=b""),
    "bad_sig": token("EdDSA", c, sig=b"\0" * 64),
}
os.makedirs("fuzz/corpus/jwt", exist_ok=True)
for name, t in seeds.items():
    with open(f"fuzz/corpus/jwt/{name}", "w") as f:
        f.write(t)
raw = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
print(json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64(raw), "kid": "fuzz-1"}]}))
