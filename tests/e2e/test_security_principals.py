"""docs/security.md case 18: another caller gets nothing. Against one real `kcr
serve` that takes LibreChat JWTs, two environment API keys and a managed key,
caller A creates a session with an upload, an output file, Python globals, a
state blob and an entity; caller B then tries every endpoint that takes an
id. Pairs: two users of one tenant, one sub in two tenants, two API keys, a
managed key against an environment key, and a trusted-network peer against a
key. B must read, list, mount, delete and overwrite nothing of A's, and each
answer must be the one B gets for an id that does not exist. Also: kind=user
naming another user is 403; agent files are shared within a tenant only."""
import json

import pytest
import requests

from api_util import needs_pods, start_server
from auth_util import KeyPair, bearer, mint

KEY_A = "env-key-a-0123456789abcdef"
KEY_B = "env-key-b-0123456789abcdef"
MASTER = "master-key-0123456789abcdef"
MISSING_SID = "Missing0Session012345"
MISSING_FID = "Missing0File012345678"


@pytest.fixture(scope="module")
def key():
    return KeyPair("EdDSA")


@pytest.fixture(scope="module")
def server(key):
    s = start_server({"CODEAPI_JWT_PUBLIC_KEY": key.public_pem, "API_KEYS": KEY_B,
                      "MASTER_API_KEY": MASTER, "AUTH_TRUSTED_NETWORKS": "127.0.0.2/32",
                      "MAX_EXECUTION_TIME": "10"}, api_key=KEY_A)
    yield s
    s.cleanup()


class _FromAddress(requests.adapters.HTTPAdapter):
    """Connects from a chosen local address (the trusted peer, 127.0.0.2)."""

    def __init__(self, source):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *a, **kw):
        kw["source_address"] = (self.source, 0)
        super().init_poolmanager(*a, **kw)


class Caller:
    """Requests as one principal: a header set, or the trusted peer address."""

    def __init__(self, server, headers=None, source=None):
        self.s, self.h = server, headers or {}
        self.http = requests.Session()
        if source:
            self.http.mount("http://", _FromAddress(source))

    def req(self, method, path, **kw):
        kw["headers"] = dict(self.h, **kw.get("headers", {}))
        kw.setdefault("timeout", 120)
        return self.http.request(method, self.s.url + path, **kw)

    def exec(self, code, **fields):
        return self.req("POST", "/exec", json=dict({"lang": "py", "code": code}, **fields))

    def upload(self, name, data, **fields):
        return self.req("POST", "/upload", files={"file": (name, data)}, data=fields)


def _managed_key(server):
    r = server.post("/api/v1/admin/keys", json={"name": "iso"}, headers={"x-api-key": MASTER})
    assert r.status_code == 200, r.text
    return r.json()["api_key"]


PAIRS = ["two_users", "same_sub_two_tenants", "two_api_keys", "managed_vs_env_key",
         "trusted_vs_key"]


def callers(server, key, pair):
    if pair == "two_users":
        return (Caller(server, bearer(mint(key, sub="alice", tenant="acme"))),
                Caller(server, bearer(mint(key, sub="bob", tenant="acme"))))
    if pair == "same_sub_two_tenants":
        return (Caller(server, bearer(mint(key, sub="alice", tenant="acme"))),
                Caller(server, bearer(mint(key, sub="alice", tenant="globex"))))
    if pair == "two_api_keys":
        return Caller(server, {"x-api-key": KEY_A}), Caller(server, {"x-api-key": KEY_B})
    if pair == "managed_vs_env_key":
        return (Caller(server, {"x-api-key": _managed_key(server)}),
                Caller(server, {"Authorization": f"Bearer {KEY_A}"}))
    return Caller(server, source="127.0.0.2"), Caller(server, {"x-api-key": KEY_A})


def scrub(r, ids=()):
    """An answer without what differs between any two requests: request ids,
    times, and the ids asked for (ids: (id, placeholder) pairs)."""
    try:
        b = r.json()
    except ValueError:
        return r.status_code, r.content
    if isinstance(b, dict):
        b = {k: v for k, v in b.items() if k not in ("request_id", "timestamp")}
    text = json.dumps(b, sort_keys=True)
    for value, placeholder in ids:
        text = text.replace(value, placeholder)
    return r.status_code, text


def setup_a(a, entity):
    """A's data: an upload (for entity), an exec in that session with
    globals, an output file and saved state."""
    up = a.upload("secret.csv", b"a-secret\n", entity_id=entity)
    assert up.status_code == 200, up.text
    sid, fid = up.json()["session_id"], up.json()["files"][0]["fileId"]
    r = a.exec("secret_global = 'A-ONLY'\nopen('out.txt','w').write('a-output')",
               session_id=sid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["session_id"] == sid and body["has_state"], body
    [out] = body["files"]
    return sid, fid, out["id"]


@needs_pods
@pytest.mark.parametrize("pair", PAIRS)
def test_18_another_caller_gets_nothing(server, key, pair):
    a, b = callers(server, key, pair)
    entity = "iso_" + pair  # callers recur across pairs: each pair its own entity
    sid, fid, out_id = setup_a(a, entity)
    def same(path):
        mine = b.req("GET", path.format(sid=sid, fid=fid))
        missing = b.req("GET", path.format(sid=MISSING_SID, fid=MISSING_FID))
        return scrub(mine, ((sid, "S"), (fid, "F"))) == scrub(
            missing, ((MISSING_SID, "S"), (MISSING_FID, "F")))

    # Reading and listing: exactly the answers for ids that do not exist.
    for path in ("/files/{sid}", "/files/{sid}?detail=summary", "/files/{sid}?detail=simple",
                 "/download/{sid}/{fid}", "/sessions/{sid}/objects/{fid}", "/state/{sid}",
                 "/state/{sid}/info"):
        assert same(path), (pair, path)
    assert b.req("GET", f"/files/{sid}").json() == []
    assert b.req("GET", f"/download/{sid}/{out_id}").status_code == 404
    assert b.req("GET", f"/sessions/{sid}/objects/{out_id}").status_code == 404

    # Executing: A's session id and entity give B a fresh session without A's
    # globals; A's file reference is 404 like a missing one and is not mounted.
    r = b.exec("print(globals().get('secret_global'))\nimport os\nprint(sorted(os.listdir('.')))",
               session_id=sid)
    assert r.status_code == 200, r.text
    assert r.json()["session_id"] != sid
    assert r.json()["stdout"].splitlines()[0] == "None"
    assert "secret.csv" not in r.json()["stdout"] and "out.txt" not in r.json()["stdout"]
    r = b.exec("print(1)", entity_id=entity)
    assert r.status_code == 200 and r.json()["session_id"] != sid
    mine = scrub(b.exec("print(open('secret.csv').read())",
                        files=[{"id": fid, "session_id": sid, "name": "secret.csv"}]),
                 ((sid, "S"), (fid, "F")))
    missing = scrub(b.exec("print(open('secret.csv').read())",
                           files=[{"id": MISSING_FID, "session_id": MISSING_SID,
                                   "name": "secret.csv"}]),
                    ((MISSING_SID, "S"), (MISSING_FID, "F")))
    assert mine == missing and mine[0] == 404, (mine, missing)
    assert "a-secret" not in mine[1]
    up = b.upload("mine.csv", b"b\n", entity_id=entity)
    assert up.status_code == 200 and up.json()["session_id"] != sid

    # Deleting and overwriting: B's attempts change nothing of A's.
    assert scrub(b.req("DELETE", f"/files/{sid}/{fid}"), ((sid, "S"), (fid, "F"))) == scrub(
        b.req("DELETE", f"/files/{MISSING_SID}/{MISSING_FID}"),
        ((MISSING_SID, "S"), (MISSING_FID, "F")))
    # A state belongs to a session of the caller's: B cannot store one
    # under A's session id (nor under any id that is not B's session).
    assert b.req("POST", f"/state/{sid}", data=b"\x01B-STATE",
                 headers={"Content-Type": "application/octet-stream"}).status_code == 404
    assert b.req("DELETE", f"/state/{sid}").status_code == 204
    assert b.req("POST", f"/state/{sid}", data=b"\x01B-STATE",
                 headers={"Content-Type": "application/octet-stream"}).status_code == 404

    # A still has everything, unchanged.
    assert a.req("GET", f"/download/{sid}/{fid}").content == b"a-secret\n"
    assert a.req("GET", f"/download/{sid}/{out_id}").content == b"a-output"
    names = sorted(f["name"] for f in a.req("GET", f"/files/{sid}?detail=simple").json())
    assert names == ["out.txt", "secret.csv"]
    r = a.exec("print(secret_global)", session_id=sid)
    assert r.status_code == 200 and r.json()["stdout"] == "A-ONLY\n", r.text
    assert a.req("GET", f"/sessions/{sid}/objects/{fid}").status_code == 200


@needs_pods
def test_18_trusted_peer_and_keys_are_apart(server, key):
    """The trusted principal is one principal: a key does not see its data,
    and it does not see a key's."""
    t, k = callers(server, key, "trusted_vs_key")
    r = t.exec("print('t')")
    assert r.status_code == 200, r.text
    sid = r.json()["session_id"]
    assert k.req("GET", f"/files/{sid}?detail=summary").json() == []
    ks = k.exec("open('k.txt','w').write('k')").json()
    assert t.req("GET", f"/files/{ks['session_id']}").json() == []


def test_18_kind_user_naming_another_user_is_403(server, key):
    alice = Caller(server, bearer(mint(key, sub="alice", tenant="acme")))
    up = alice.upload("mine.txt", b"x", kind="user", id="alice")
    assert up.status_code == 200, up.text
    sid, fid = up.json()["session_id"], up.json()["files"][0]["fileId"]
    assert alice.upload("theirs.txt", b"x", kind="user", id="bob").status_code == 403
    for path in (f"/download/{sid}/{fid}", f"/sessions/{sid}/objects/{fid}", f"/files/{sid}"):
        assert alice.req("GET", path + "?kind=user&id=bob").status_code == 403, path
        assert alice.req("GET", path + "?kind=user&id=alice").status_code == 200, path
    assert alice.req("GET", f"/download/{sid}/{fid}?kind=robot&id=x").status_code == 400
    assert alice.req("GET", f"/download/{sid}/{fid}?kind=user").status_code == 400


@needs_pods
def test_18_agent_files_are_shared_within_the_tenant_only(server, key):
    alice = Caller(server, bearer(mint(key, sub="alice", tenant="acme")))
    bob = Caller(server, bearer(mint(key, sub="bob", tenant="acme")))
    eve = Caller(server, bearer(mint(key, sub="bob", tenant="globex")))
    keyed = Caller(server, {"x-api-key": KEY_A})
    up = alice.upload("kb.csv", b"shared,kb\n", kind="agent", id="agent_x")
    assert up.status_code == 200, up.text
    sid, fid = up.json()["storage_session_id"], up.json()["files"][0]["fileId"]
    q = "?kind=agent&id=agent_x"
    assert bob.req("GET", f"/sessions/{sid}/objects/{fid}{q}").status_code == 200
    assert bob.req("GET", f"/download/{sid}/{fid}{q}").content == b"shared,kb\n"
    listed = bob.req("GET", f"/files/{sid}{q}").json()
    assert [(e["id"], e["kind"], e["resource_id"]) for e in listed] == [(fid, "agent", "agent_x")]
    ref = {"id": fid, "storage_session_id": sid, "name": "kb.csv", "kind": "agent",
           "resource_id": "agent_x"}
    r = bob.exec("print(open('kb.csv').read(), end='')", files=[ref])
    assert r.status_code == 200 and r.json()["stdout"] == "shared,kb\n", r.text
    assert r.json()["session_id"] != sid  # bob runs in his own session, on a copy
    # Not without naming the agent, not another agent, not another tenant, not a key.
    for who, query in ((bob, ""), (bob, "?kind=agent&id=agent_y"), (eve, q), (keyed, q)):
        assert who.req("GET", f"/download/{sid}/{fid}{query}").status_code == 404, query
    assert eve.exec("print(1)", files=[ref]).status_code == 404
    # Shared for reading only.
    assert bob.req("DELETE", f"/files/{sid}/{fid}").status_code == 404
    assert alice.req("GET", f"/download/{sid}/{fid}").content == b"shared,kb\n"
