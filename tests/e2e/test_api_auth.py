"""Authentication of `kcr serve` (docs/auth.md) against real servers over real
sockets: LibreChat-minted JWTs (EdDSA and RS256 by a PEM, a JWK, a JWKS and a
directory of keys that is re-read on change), every hostile token of
docs/security.md case 20 refused with 401, the three providers, API keys in the
JSON body (removed, never logged), trusted networks (a second loopback address
as the peer), and the start-up errors of bad settings."""
import http.client
import json
import os
import socket
import time

import pytest

from api_util import TEST_KEY, needs_pods, run_server_once, start_server
from auth_util import (KID, KeyPair, b64url, bearer, claims, encode, hs256, jwt_server, mint)
from conftest import wait_for

EXEC = {"lang": "py", "code": "print('ran')"}


def exec_as(server, headers, body=None):
    return server.post("/exec", json=body or EXEC, headers=headers)


def access_log_line(server, r):
    """The access-log line of response r, parsed, once the thread that drains
    the server's stderr has read it."""
    rid = r.headers["X-Request-ID"]

    def line():
        for l in list(server.stderr_lines):
            if l.startswith("{") and rid in l:
                d = json.loads(l)
                if d.get("msg") == "request":
                    return d
        return None
    return wait_for(line, 10, what="the access-log line of request " + rid)


def last_auth_error(server, r):
    """The auth_error field of response r's access-log line (None if none)."""
    return access_log_line(server, r).get("auth_error")


@pytest.fixture(scope="module")
def ed():
    return KeyPair("EdDSA")


@pytest.fixture(scope="module")
def rs():
    return KeyPair("RS256")


@pytest.fixture(scope="module")
def server(ed):
    s = jwt_server(ed)
    yield s
    s.cleanup()


# --------------------------------------------------------------------------
# Valid tokens


@needs_pods
@pytest.mark.parametrize("alg", ["EdDSA", "RS256"])
def test_librechat_token_runs_code(alg, ed, rs):
    key = ed if alg == "EdDSA" else rs
    s = jwt_server(key)
    try:
        r = exec_as(s, bearer(mint(key, sub="alice", tenant="acme")))
        assert r.status_code == 200, r.text
        assert r.json()["stdout"] == "ran\n"
    finally:
        s.cleanup()


def test_audience_as_array_and_tenant_default(server, ed):
    tok = mint(ed, aud=["other", "codeapi"], tenant_id=None)
    r = server.get("/files/NoSuchSession12345678", headers=bearer(tok))
    assert r.status_code == 200 and r.json() == []


def test_jwk_public_key(ed):
    s = start_server({"CODEAPI_JWT_PUBLIC_KEY": json.dumps(ed.jwk())})
    try:
        r = s.get("/files/NoSuchSession12345678", headers=bearer(mint(ed)))
        assert r.status_code == 200
    finally:
        s.cleanup()


def test_jwks_kid_selects_the_key(ed, rs):
    jwks = {"keys": [ed.jwk("k-ed"), rs.jwk("k-rs")]}
    s = start_server({"CODEAPI_JWT_JWKS_JSON": json.dumps(jwks)})
    try:
        get = lambda t: s.get("/files/NoSuchSession12345678", headers=bearer(t))
        assert get(mint(ed, kid="k-ed")).status_code == 200
        assert get(mint(rs, kid="k-rs")).status_code == 200
        # A key signs only under its own kid, and an unknown kid is refused.
        assert get(mint(ed, kid="k-rs")).status_code == 401
        r = get(mint(ed, kid="k-unknown"))
        assert r.status_code == 401
        assert "kid" in last_auth_error(s, r)
    finally:
        s.cleanup()


def test_keys_dir_is_read_again_when_it_changes(tmp_path, ed, rs):
    d = tmp_path / "keys"
    d.mkdir()
    (d / "rot-1").write_text(ed.public_pem)
    os.chmod(tmp_path, 0o755)
    os.chmod(d, 0o755)
    s = start_server({"CODEAPI_JWT_PUBLIC_KEYS_DIR": str(d)})
    try:
        st = lambda t: s.get("/files/NoSuchSession12345678", headers=bearer(t)).status_code
        assert st(mint(ed, kid="rot-1")) == 200
        assert st(mint(ed, kid="rot-2")) == 401  # no such file
        # Rotation: the kid's file now holds another key.
        tmp = d / ".new"
        tmp.write_text(rs.public_pem)
        os.replace(tmp, d / "rot-1")
        assert st(mint(ed, kid="rot-1")) == 401
        assert st(mint(rs, kid="rot-1")) == 200
        (d / "rot-3.pem").write_text(ed.public_pem)
        assert st(mint(ed, kid="rot-3")) == 200
        # A removed file revokes its kid (for tokens not verified before).
        os.unlink(d / "rot-1")
        assert st(mint(rs, kid="rot-1")) == 401
        assert st(mint(ed, kid="../keys/rot-3")) == 401
    finally:
        s.cleanup()


def test_verified_token_is_not_valid_past_its_exp(ed):
    """Verified tokens are cached, but never beyond exp (+ skew)."""
    s = jwt_server(ed, {"CODEAPI_JWT_CLOCK_SKEW_SECONDS": "0"})
    try:
        now = int(time.time())
        tok = mint(ed, now=now, ttl=2)
        assert s.get("/files/NoSuchSession12345678", headers=bearer(tok)).status_code == 200
        assert s.get("/files/NoSuchSession12345678", headers=bearer(tok)).status_code == 200
        time.sleep(max(0.0, now + 2.2 - time.time()))  # the clock passing exp is the case
        r = s.get("/files/NoSuchSession12345678", headers=bearer(tok))
        assert r.status_code == 401
        assert last_auth_error(s, r) == "token expired"
    finally:
        s.cleanup()


# --------------------------------------------------------------------------
# Hostile tokens (docs/security.md case 20): each one 401, with a reason in the log
# and a generic body.


def _tampered(ed):
    good = mint(ed, sub="alice")
    h, _, sig = good.split(".")
    forged = b64url(json.dumps(claims(sub="admin")).encode())
    return f"{h}.{forged}.{sig}"


def _alg_none(ed):
    return encode({"alg": "none", "typ": "JWT"}, claims(), signature=b"")


def _hs256_with_public_pem(ed):
    return hs256(ed.public_pem, claims())


HOSTILE = {
    "expired": lambda ed: mint(ed, now=int(time.time()) - 400, ttl=300),
    "not_yet_valid": lambda ed: mint(ed, nbf=int(time.time()) + 120),
    "issued_in_the_future": lambda ed: mint(ed, now=int(time.time()) + 120),
    "wrong_audience": lambda ed: mint(ed, aud="someone-else"),
    "wrong_issuer": lambda ed: mint(ed, iss="evil"),
    "other_key": lambda ed: mint(KeyPair("EdDSA")),
    "alg_none": _alg_none,
    "hs256_signed_with_public_pem": _hs256_with_public_pem,
    "ttl_over_maximum": lambda ed: mint(ed, ttl=3600),
    "no_sub": lambda ed: mint(ed, sub=None),
    "empty_sub": lambda ed: mint(ed, sub=""),
    "no_exp": lambda ed: mint(ed, exp=None),
    "tampered_claims": _tampered,
    "garbage": lambda ed: "not.a.jwt",
    "two_segments": lambda ed: mint(ed).rsplit(".", 1)[0],
    "bad_base64": lambda ed: mint(ed)[:-3] + "+/=",
    "rs256_claimed_for_ed25519_key": lambda ed: encode(
        {"alg": "RS256", "typ": "JWT", "kid": KID}, claims(), ed.sign),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_token_is_401(server, ed, name):
    tok = HOSTILE[name](ed)
    r = exec_as(server, bearer(tok))
    assert r.status_code == 401, (name, r.text)
    body = r.json()
    # A generic body; the reason is for the log only.
    assert body["error"] in ("Invalid or expired token", "Invalid API key"), body
    assert "session_id" not in body
    if name not in ("garbage", "two_segments", "bad_base64"):
        assert last_auth_error(server, r), name


def test_hs256_only_with_its_own_secret(ed):
    secret = "s" * 40
    s = jwt_server(ed, {"CODEAPI_JWT_HS256_SECRET": secret,
                        "CODEAPI_JWT_ALLOWED_ALGS": "EdDSA,HS256"})
    try:
        st = lambda t: s.get("/files/NoSuchSession12345678", headers=bearer(t)).status_code
        assert st(hs256(secret, claims())) == 200
        # The public key is never an HMAC secret, even with HS256 allowed.
        assert st(hs256(ed.public_pem, claims())) == 401
        assert st(mint(ed)) == 200
    finally:
        s.cleanup()


# --------------------------------------------------------------------------
# Providers


def test_librechat_jwt_provider_refuses_keys(ed):
    s = jwt_server(ed, {"CODEAPI_AUTH_PROVIDER": "librechat-jwt"}, api_key=None)
    try:
        assert "LibreChat JWTs" in "".join(s.stdout_lines)
        assert not os.path.exists(os.path.join(s.data_dir, "api-key"))
        s.key = None
        for h in ({"x-api-key": TEST_KEY}, {"Authorization": f"Bearer {TEST_KEY}"},
                  {"Authorization": f"ApiKey {TEST_KEY}"}, {}):
            r = s.get("/files/NoSuchSession12345678", headers=h)
            assert r.status_code == 401, h
        r = s.get("/files/NoSuchSession12345678", headers=bearer(mint(ed)))
        assert r.status_code == 200
        auth = s.get("/health/detailed", headers=bearer(mint(ed))).json()["auth"]
        assert auth == {"provider": "librechat-jwt", "api_keys": False, "librechat_jwt": True,
                        "trusted_networks": 0}
    finally:
        s.cleanup()


def test_api_key_provider_treats_bearer_as_a_key(ed):
    s = start_server({})
    try:
        r = s.get("/files/NoSuchSession12345678", headers=bearer(mint(ed)))
        assert r.status_code == 401
        r = s.get("/files/NoSuchSession12345678", headers={"Authorization": f"Bearer {s.key}"})
        assert r.status_code == 200
        assert s.get("/health/detailed").json()["auth"]["provider"] == "api-key"
    finally:
        s.cleanup()


def test_both_provider_takes_both(server, ed):
    assert server.get("/files/NoSuchSession12345678").status_code == 200
    assert server.get("/files/NoSuchSession12345678",
                      headers=bearer(mint(ed))).status_code == 200
    assert server.get("/health/detailed").json()["auth"]["provider"] == "both"


# --------------------------------------------------------------------------
# API keys in the JSON body (agents 3.1.x)


@needs_pods
@pytest.mark.parametrize("field", ["LIBRECHAT_CODE_API_KEY", "api_key", "apiKey"])
def test_key_in_body(server, field):
    r = exec_as(server, {}, dict(EXEC, **{field: TEST_KEY}))
    assert r.status_code == 200, r.text
    assert r.json()["stdout"] == "ran\n"
    r = exec_as(server, {}, dict(EXEC, **{field: "wrong-key-0123456789abc"}))
    assert r.status_code == 401
    access_log_line(server, r)  # the log has both requests' lines by now
    assert not any(TEST_KEY in l for l in server.stderr_lines + server.stdout_lines)
    assert not any("wrong-key-0123456789abc" in l for l in server.stderr_lines)


def test_key_in_body_refused_with_librechat_jwt_provider(ed):
    s = jwt_server(ed, {"CODEAPI_AUTH_PROVIDER": "librechat-jwt"}, api_key=None)
    try:
        s.key = None
        r = exec_as(s, {}, dict(EXEC, api_key=TEST_KEY))
        assert r.status_code == 401
    finally:
        s.cleanup()


def test_unauthenticated_body_is_bounded(server):
    """A body read before its sender is known is cut at 4 MiB (413), not
    read up to the 50 MiB of authenticated requests."""
    big = json.dumps(dict(EXEC, code="#" + "x" * (5 << 20)))
    r = server.post("/exec", data=big, headers={"Content-Type": "application/json"})
    assert r.status_code in (401, 413), r.status_code


# --------------------------------------------------------------------------
# Trusted networks


def _raw_get(host, port, path, source, headers=None):
    c = http.client.HTTPConnection(host, port, timeout=30, source_address=(source, 0))
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_trusted_network_peer_needs_no_credentials():
    s = start_server({"AUTH_TRUSTED_NETWORKS": "10.9.0.0/16, 127.0.0.2/32"})
    try:
        st, _ = _raw_get("127.0.0.1", s.port, "/files/NoSuchSession12345678", "127.0.0.2")
        assert st == 200
        st, _ = _raw_get("127.0.0.1", s.port, "/files/NoSuchSession12345678", "127.0.0.1")
        assert st == 401
        # Credentials that are present must be valid, trusted or not.
        st, _ = _raw_get("127.0.0.1", s.port, "/files/NoSuchSession12345678", "127.0.0.2",
                         {"x-api-key": "wrong-key-0123456789abc"})
        assert st == 401
        assert s.get("/health/detailed").json()["auth"]["trusted_networks"] == 2
    finally:
        s.cleanup()


def test_trusted_network_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as t:
            t.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback (::1) on this machine")
    s = start_server({"API_HOST": "::", "AUTH_TRUSTED_NETWORKS": "::1/128"})
    try:
        st, _ = _raw_get("::1", s.port, "/files/NoSuchSession12345678", "::1")
        assert st == 200
        st, _ = _raw_get("127.0.0.1", s.port, "/files/NoSuchSession12345678", "127.0.0.1")
        assert st == 401
    finally:
        s.cleanup()


# --------------------------------------------------------------------------
# Bad settings stop the start with one line naming the variable


@pytest.mark.parametrize("env,name", [
    ({"AUTH_TRUSTED_NETWORKS": "10.0.0.0/33"}, "AUTH_TRUSTED_NETWORKS"),
    ({"AUTH_TRUSTED_NETWORKS": "not-an-ip"}, "AUTH_TRUSTED_NETWORKS"),
    ({"CODEAPI_AUTH_PROVIDER": "librechat-jwt"}, "CODEAPI_AUTH_PROVIDER"),
    ({"CODEAPI_AUTH_PROVIDER": "magic"}, "CODEAPI_AUTH_PROVIDER"),
    ({"CODEAPI_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"},
     "CODEAPI_JWT_PUBLIC_KEY"),
    ({"CODEAPI_JWT_PUBLIC_KEY": "{}"}, "CODEAPI_JWT_PUBLIC_KEY"),
    ({"CODEAPI_JWT_JWKS_JSON": "[]"}, "CODEAPI_JWT_JWKS_JSON"),
    ({"CODEAPI_JWT_PUBLIC_KEY": "@ed", "CODEAPI_JWT_ALLOWED_ALGS": "EdDSA,HS256"},
     "CODEAPI_JWT_ALLOWED_ALGS"),
    ({"CODEAPI_JWT_PUBLIC_KEY": "@ed", "CODEAPI_JWT_ALLOWED_ALGS": "EdDSA,none"},
     "CODEAPI_JWT_ALLOWED_ALGS"),
    ({"CODEAPI_JWT_PUBLIC_KEY": "@ed", "CODEAPI_JWT_HS256_SECRET": "@pem",
      "CODEAPI_JWT_ALLOWED_ALGS": "EdDSA,HS256"}, "CODEAPI_JWT_HS256_SECRET"),
    ({"RATE_LIMIT_EXEC_PER_MINUTE": "-1"}, "RATE_LIMIT_EXEC_PER_MINUTE"),
])
def test_bad_setting_stops_the_start(ed, env, name):
    env = {k: ed.public_pem if v in ("@ed", "@pem") else v for k, v in env.items()}
    code, out, err = run_server_once(env)
    assert code == 2, (code, out, err)
    assert name in err and len(err.strip().splitlines()) == 1, err
