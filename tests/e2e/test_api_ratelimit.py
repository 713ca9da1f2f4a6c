"""Rate limits per principal (docs/auth.md) on a real `kcr serve`: requests
per minute for exec, upload and download counted apart, the 429 body
LibreChat parses with Retry-After and RateLimit-* headers (also on every
answer of a limited route), callers counted apart, managed keys' own limits,
the window resetting at the minute, and LibreChat's 3.9.2 client turning the
429 into "Retry after N seconds"."""
import time

import pytest

from api_util import TEST_KEY, ROOT_DIR, start_server
from test_api_client import client_dir, node  # noqa: F401

OTHER = "other-key-0123456789abcdef"
MASTER = "master-key-0123456789abcdef"
LIMITS = {"RATE_LIMIT_EXEC_PER_MINUTE": "3", "RATE_LIMIT_UPLOAD_PER_MINUTE": "2",
          "RATE_LIMIT_DOWNLOAD_PER_MINUTE": "2"}
# A body /exec refuses (422) before any pod is involved: it still counts.
CHEAP = {"lang": "py"}


@pytest.fixture(scope="module")
def server():
    s = start_server(dict(LIMITS, API_KEYS=OTHER, MASTER_API_KEY=MASTER))
    yield s
    s.cleanup()


def fresh_window(server, need=15):
    """Waits for a new minute when fewer than `need` seconds are left in
    this one, so that a test's requests share a window."""
    r = server.get("/health/detailed")
    left = 60 - time.time() % 60
    if left < need:
        time.sleep(left + 0.3)
    return r


def headers_of(r):
    return {k: int(r.headers[k]) for k in ("RateLimit-Limit", "RateLimit-Remaining",
                                           "RateLimit-Reset")}


def test_exec_limit_429_body_and_headers(server):
    fresh_window(server)
    h = {"x-api-key": TEST_KEY}
    seen = [server.post("/exec", json=CHEAP, headers=h) for _ in range(3)]
    assert [r.status_code for r in seen] == [422, 422, 422]
    assert [headers_of(r)["RateLimit-Remaining"] for r in seen] == [2, 1, 0]
    assert all(headers_of(r)["RateLimit-Limit"] == 3 for r in seen)
    r = server.post("/exec", json=CHEAP, headers=h)
    assert r.status_code == 429
    body = r.json()
    assert body["error"] == "rate_limited" and body["message"]
    n = body["retry_after_seconds"]
    assert isinstance(n, int) and 1 <= n <= 60
    assert int(r.headers["Retry-After"]) == n
    assert headers_of(r) == {"RateLimit-Limit": 3, "RateLimit-Remaining": 0,
                             "RateLimit-Reset": n}
    # Another caller is counted apart, and other routes have their own windows.
    r = server.post("/exec", json=CHEAP, headers={"x-api-key": OTHER})
    assert r.status_code == 422 and headers_of(r)["RateLimit-Remaining"] == 2
    up = server.post("/upload", files={"file": ("a.txt", b"a")}, headers=h)
    assert up.status_code == 200 and headers_of(up)["RateLimit-Limit"] == 2
    # Routes without a limit carry no RateLimit headers.
    assert "RateLimit-Limit" not in server.get("/files/NoSuchSession12345678").headers


def test_upload_and_download_limits(server):
    fresh_window(server)
    h = {"x-api-key": OTHER}
    ups = [server.post("/upload", files={"file": ("b.txt", b"b")}, headers=h) for _ in range(3)]
    assert [u.status_code for u in ups] == [200, 200, 429]
    sid, fid = ups[0].json()["session_id"], ups[0].json()["files"][0]["fileId"]
    downs = [server.get(f"/download/{sid}/{fid}", headers=h) for _ in range(3)]
    assert [d.status_code for d in downs] == [200, 200, 429]
    assert downs[0].content == b"b"
    assert downs[2].json()["error"] == "rate_limited"


def test_window_resets(server):
    h = {"x-api-key": MASTER}
    fresh_window(server)
    while True:
        r = server.post("/exec", json=CHEAP, headers=h)
        if r.status_code == 429:
            break
    wait = int(r.headers["RateLimit-Reset"])
    time.sleep(wait + 0.5)
    r = server.post("/exec", json=CHEAP, headers=h)
    assert r.status_code == 422, r.text
    assert headers_of(r)["RateLimit-Remaining"] == 2


def test_managed_key_own_limits(server):
    admin = {"x-api-key": MASTER}
    r = server.post("/api/v1/admin/keys", headers=admin,
                    json={"name": "tight", "rate_limits": {"exec_per_minute": 1}})
    assert r.status_code == 200, r.text
    key, rec = r.json()["api_key"], r.json()["record"]
    assert rec["rate_limits"]["exec_per_minute"] == 1
    assert rec["rate_limits"]["upload_per_minute"] is None
    fresh_window(server)
    h = {"x-api-key": key}
    assert [server.post("/exec", json=CHEAP, headers=h).status_code for _ in range(2)] == [422, 429]
    # KubeCodeRun's per_minute sets every route; a PATCH changes them.
    r = server.http.patch(f"{server.url}/api/v1/admin/keys/{rec['key_hash']}", headers=admin,
                          json={"rate_limits": {"per_minute": 5}}, timeout=30)
    assert r.status_code == 200
    listed = {k["key_hash"]: k for k in server.get("/api/v1/admin/keys", headers=admin).json()}
    assert listed[rec["key_hash"]]["rate_limits"]["upload_per_minute"] == 5
    # Periods kcr does not count are refused, not ignored.
    r = server.post("/api/v1/admin/keys", headers=admin,
                    json={"name": "hourly", "rate_limits": {"hourly": 100}})
    assert r.status_code == 422


def test_limits_off():
    s = start_server({"RATE_LIMIT_ENABLED": "false", "RATE_LIMIT_EXEC_PER_MINUTE": "1"})
    try:
        rs = [s.post("/exec", json=CHEAP) for _ in range(3)]
        assert [r.status_code for r in rs] == [422, 422, 422]
        assert "RateLimit-Limit" not in rs[0].headers
    finally:
        s.cleanup()


def test_librechat_client_reads_retry_after(client_dir):  # noqa: F811
    """agents 3.9.2 turns kcr's 429 into "... Retry after N seconds"."""
    s = start_server({"RATE_LIMIT_EXEC_PER_MINUTE": "1"})
    try:
        fresh_window(s, need=20)
        s.post("/exec", json=CHEAP)
        code, out = node(client_dir, "run-exec.mjs", {
            "AGENTS_PKG": "agents-current", "CODE_API_BASEURL": s.url + "/v1",
            "CODE_API_KEY": s.key})
        assert code == 1
        assert "rate-limited" in out["error"] and "Retry after" in out["error"], out
    finally:
        s.cleanup()
