"""LibreChat >= v0.8.6 as a host of kcr, authenticated only by the bearer JWT
it mints (docs/auth.md, "LibreChat JWTs"; docs/librechat.md), end to end.

The tokens are minted in node by tests/client/codeapi-jwt.cjs with the header
and claims of LibreChat's codeapi.ts (EdDSA and RS256), and the servers know
only the public key: no API key is configured, and the EdDSA server is forced
to CODEAPI_AUTH_PROVIDER=librechat-jwt. What this proves:

* @librechat/agents 3.9.2 (createCodeExecutionTool, `authHeaders` passed as an
  async function as a current host does) runs code with such a token, and the
  session it gets back belongs to that user only: another user's token lists
  none of its files and downloads none of them;
* a token signed by another key makes the tool report "not authorized";
* a replay of the v0.8.7 host's own calls (tests/client/host-replica-v087.cjs:
  upload with kind/id and a nested name, the /sessions/.../objects freshness
  check, writeSandboxFile and readSandboxFile through bash /exec, output
  downloads with ?kind=user&id=) works, and another user gets 404 for the
  first user's objects and downloads, 403 when naming the first user as id.

The classic client with API keys is covered by test_api_client.py."""
import pytest

from api_util import needs_pods
from auth_util import KeyPair, bearer, jwt_server, mint
from test_api_client import client_dir, node  # noqa: F401  (client_dir: a fixture)

ALGS = ["EdDSA", "RS256"]
WRITE_HI = 'print("hi")\nopen("/mnt/data/hi.txt", "w").write("hi from the owner\\n")'


class Setup:
    """One signing key and one kcr serve that knows only its public key."""

    def __init__(self, alg):
        self.alg = alg
        self.key = KeyPair(alg)
        # The EdDSA server proves the JWT-only provider; the RS256 one runs
        # with the provider kcr picks when a JWT key is set and no API key is.
        extra = {"CODEAPI_AUTH_PROVIDER": "librechat-jwt"} if alg == "EdDSA" else {}
        self.server = jwt_server(self.key, extra, api_key=None)

    def token(self, sub):
        return bearer(mint(self.key, sub=sub))

    def get(self, path, sub, **kw):
        return self.server.get(path, headers=self.token(sub), **kw)

    def node(self, client_dir, script, user, key=None, **env):
        """A client script against this server as `user`, minting its tokens
        with `key` (default: this server's own); node()'s result."""
        return node(client_dir, script, {
            "CODE_API_BASEURL": self.server.url + "/v1", "CODE_USER_ID": user,
            "CODEAPI_JWT_PRIVATE_KEY": (key or self.key).private_pem, **env})


@pytest.fixture(scope="module")
def setups():
    made = {}

    def get(alg):
        if alg not in made:
            made[alg] = Setup(alg)
        return made[alg]

    yield get
    for s in made.values():
        s.server.cleanup()


@needs_pods
@pytest.mark.parametrize("alg", ALGS)
def test_agents_current_with_librechat_jwt(setups, client_dir, alg):
    s = setups(alg)
    owner, other = f"lc-owner-{alg}", f"lc-other-{alg}"
    code, out = s.node(client_dir, "run-exec.mjs", owner, AGENTS_PKG="agents-current",
                       CODE=WRITE_HI)
    assert code == 0, out
    assert out["modern"] is True and out["auth"] == "librechat-jwt", out
    assert out["content"].startswith("stdout:\nhi"), out
    sid = out["artifact"]["session_id"]
    assert len(sid) == 21
    [f] = out["artifact"]["files"]
    assert f["name"] == "hi.txt"

    # No credentials at all: refused, so the run above was authenticated.
    assert s.server.get(f"/files/{sid}?detail=summary").status_code == 401

    # The session is the owner's: listed and downloadable with the owner's token...
    r = s.get(f"/files/{sid}?detail=summary", owner)
    assert r.status_code == 200
    assert [e["fileId"] for e in r.json()] == [f["id"]]
    r = s.get(f"/download/{sid}/{f['id']}", owner)
    assert r.status_code == 200 and r.content == b"hi from the owner\n"
    # ...and nothing of it reaches another user of the same tenant.
    r = s.get(f"/files/{sid}?detail=summary", other)
    assert r.status_code == 200 and r.json() == []
    r = s.get(f"/download/{sid}/{f['id']}", other)
    assert r.status_code == 404 and b"hi from the owner" not in r.content


@needs_pods
def test_agents_current_with_wrong_key_is_refused(setups, client_dir):
    s = setups("EdDSA")
    stranger = KeyPair("EdDSA")
    code, out = s.node(client_dir, "run-exec.mjs", "lc-owner-EdDSA", key=stranger,
                       AGENTS_PKG="agents-current")
    assert code == 1
    assert out["auth"] == "librechat-jwt"
    assert "not authorized" in out["error"], out


@needs_pods
@pytest.mark.parametrize("alg", ALGS)
def test_v087_host_replay(setups, client_dir, alg):
    s = setups(alg)
    owner, other = f"lc-host-owner-{alg}", f"lc-host-other-{alg}"
    code, out = s.node(client_dir, "host-replica-v087.cjs", owner)
    assert code == 0 and out["ok"] is True, out
    assert out["checks"] and all(out["checks"].values()), out["checks"]
    for name in ("upload_status", "upload_success", "upload_nested_name", "objects_status",
                 "objects_fresh", "write_stdout", "output_named_by_relative_path",
                 "download_out_bytes", "read_back_equal", "read_input_equal"):
        assert out["checks"].get(name) is True, (name, out)
    assert out["upload_chunked"] is True
    assert out["upload_filename"] == "data/input.csv"
    assert out["objects"]["name"] == "data/input.csv"
    assert out["objects"]["storage_session_id"] == out["storage_session_id"]
    assert out["objects"]["id"] == out["file_id"]
    assert 0 <= out["last_modified_age_ms"] < 60_000
    assert out["output_names"] == ["notes/sub/out.txt"]

    ssid, fid = out["storage_session_id"], out["file_id"]
    [dl] = out["downloads"]
    esid, oid = out["exec_session_id"], dl["id"]
    objects = f"/sessions/{ssid}/objects/{fid}"
    # The owner (a token minted here, in Python) sees them...
    assert s.get(f"{objects}?kind=user&id={owner}", owner).status_code == 200
    assert s.get(f"/download/{esid}/{oid}?kind=user&id={owner}", owner).status_code == 200
    # ...another user asking as himself gets 404, as for a missing id...
    for path in (f"{objects}?kind=user&id={other}", f"/download/{ssid}/{fid}?kind=user&id={other}",
                 f"/download/{esid}/{oid}?kind=user&id={other}"):
        r = s.get(path, other)
        assert r.status_code == 404, (path, r.status_code, r.text)
        assert b"kcr,1" not in r.content and b"notes from the host" not in r.content
    # ...and naming the owner as the user id is forbidden.
    for path in (f"{objects}?kind=user&id={owner}", f"/download/{ssid}/{fid}?kind=user&id={owner}"):
        r = s.get(path, other)
        assert r.status_code == 403, (path, r.status_code, r.text)
