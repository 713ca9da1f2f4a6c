"""kcr serve: managed API keys with MASTER_API_KEY (/api/v1/admin/keys)."""
import requests

import re

from api_util import TEST_KEY, needs_pods, start_server

MASTER = "master-key-0123456789abcdef"
# Every admin route that reads (the dashboard polls these).
ADMIN_GETS = ("/api/v1/admin/keys", "/api/v1/admin/overview", "/api/v1/admin/metrics/history",
              "/api/v1/admin/sessions/summary", "/api/v1/admin/config")


def test_managed_keys_lifecycle():
    s = start_server({"MASTER_API_KEY": MASTER})
    try:
        admin = s.url + "/api/v1/admin/keys"
        assert requests.get(admin, timeout=10).status_code == 401
        r = requests.get(admin, headers={"x-api-key": TEST_KEY}, timeout=10)
        assert r.status_code == 403 and r.json()["error"] == "Invalid Master API Key"
        r = requests.post(admin, json={"name": "ci"}, headers={"x-api-key": MASTER}, timeout=10)
        assert r.status_code == 200, r.text
        key = r.json()["api_key"]
        rec = r.json()["record"]
        assert key.startswith("sk-") and len(key) >= 32
        assert rec["key_prefix"] == key[:11] and rec["source"] == "managed" and rec["enabled"]
        h = rec["key_hash"]
        # The new key works on the API; only its hash is stored.
        assert requests.get(s.url + "/files/x", headers={"x-api-key": key},
                            timeout=10).status_code == 200
        listing = requests.get(admin, headers={"x-api-key": MASTER}, timeout=10).json()
        assert {k["source"] for k in listing} == {"managed", "environment"}
        assert key not in str(listing)
        # Disabled keys are refused, enabled ones accepted again.
        r = requests.patch(f"{admin}/{h}", json={"enabled": False},
                           headers={"x-api-key": MASTER}, timeout=10)
        assert r.status_code == 200 and r.json() is True
        assert requests.get(s.url + "/files/x", headers={"x-api-key": key},
                            timeout=10).status_code == 401
        requests.patch(f"{admin}/{h}", json={"enabled": True}, headers={"x-api-key": MASTER},
                       timeout=10)
        assert requests.get(s.url + "/files/x", headers={"x-api-key": key},
                            timeout=10).status_code == 200
        # Survives a restart (SQLite), then deletion revokes it.
        s.stop()
        s.start()
        assert requests.get(s.url + "/files/x", headers={"x-api-key": key},
                            timeout=10).status_code == 200
        admin = s.url + "/api/v1/admin/keys"
        assert requests.delete(f"{admin}/{h}", headers={"x-api-key": MASTER},
                               timeout=10).status_code == 200
        assert requests.delete(f"{admin}/{h}", headers={"x-api-key": MASTER},
                               timeout=10).status_code == 404
        assert requests.get(s.url + "/files/x", headers={"x-api-key": key},
                            timeout=10).status_code == 401
        # The master key is itself a valid API key.
        assert requests.get(s.url + "/files/x", headers={"x-api-key": MASTER},
                            timeout=10).status_code == 200
    finally:
        s.cleanup()


def test_admin_disabled_without_master_key():
    s = start_server()
    try:
        for path in ADMIN_GETS:
            r = requests.get(s.url + path, headers={"x-api-key": TEST_KEY}, timeout=10)
            assert r.status_code == 500, path
            assert "no MASTER_API_KEY configured" in r.json()["error"]
            # Without any key the answer is 401 and says nothing more.
            r = requests.get(s.url + path, timeout=10)
            assert r.status_code == 401 and r.json()["error"] == "API key is required", path
    finally:
        s.cleanup()


def _raw_post(port, path, headers, first_bytes, timeout=5.0):
    """Sends a request whose Content-Length promises far more than is sent,
    and returns the status line that comes back before the rest (or None)."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        c.sendall(head.encode() + first_bytes)
        try:
            data = c.recv(4096)
        except socket.timeout:
            return None
        return data.split(b"\r\n", 1)[0].decode() if data else None


def test_admin_body_is_never_read_before_the_master_key():
    """Issue 13, item 1: an admin route checks the master key from the headers
    alone; a body of 50 MB that never arrives is not waited for, let alone
    buffered. With the key, admin bodies are capped at a few KB."""
    s = start_server({"MASTER_API_KEY": MASTER})
    try:
        big = {"Content-Type": "application/json", "Content-Length": str(50 << 20)}
        for key, status in ((None, "401"), ("not-the-master-key", "403"), (TEST_KEY, "403")):
            h = dict(big, **({"x-api-key": key} if key else {}))
            line = _raw_post(s.port, "/api/v1/admin/keys", h, b'{"name": "' + b"x" * 1000)
            assert line is not None and f" {status} " in line + " ", (key, line)
        r = requests.post(f"{s.url}/api/v1/admin/keys", headers={"x-api-key": MASTER},
                          json={"name": "n" * (100 << 10)}, timeout=30)
        assert r.status_code == 413, r.text
        r = requests.post(f"{s.url}/api/v1/admin/keys", headers={"x-api-key": MASTER},
                          json={"name": "small"}, timeout=30)
        assert r.status_code in (200, 201), r.text
    finally:
        s.stop()


def test_every_admin_route_needs_the_master_key():
    """No key: 401 (the dashboard's prompt), before any body is read; another
    key, even a valid API key: 403; the master key: 200. Also under /v1."""
    s = start_server({"MASTER_API_KEY": MASTER})
    try:
        h = "0" * 64
        calls = [("GET", p) for p in ADMIN_GETS] + [
            ("POST", "/api/v1/admin/keys"), ("PATCH", f"/api/v1/admin/keys/{h}"),
            ("DELETE", f"/api/v1/admin/keys/{h}")]
        for method, path in calls:
            for prefix in ("", "/v1"):
                url = s.url + prefix + path
                r = requests.request(method, url, json={"name": "x"}, timeout=10)
                assert r.status_code == 401, (method, path, r.text)
                assert r.json()["error"] == "API key is required"
                for key in ("not-the-master-key", TEST_KEY):
                    r = requests.request(method, url, json={"name": "x"},
                                         headers={"x-api-key": key}, timeout=10)
                    assert r.status_code == 403, (method, path, key, r.text)
        for path in ADMIN_GETS:
            r = requests.get(s.url + path, headers={"x-api-key": MASTER}, timeout=10)
            assert r.status_code == 200, (path, r.text)
            assert r.headers["Content-Type"].startswith("application/json")
    finally:
        s.cleanup()


def test_config_is_shown_with_secrets_redacted():
    jwt_secret = "hs256-secret-" + "s" * 40
    s = start_server({"MASTER_API_KEY": MASTER, "API_KEYS": "second-key-0123456789abcdef",
                      "CODEAPI_JWT_HS256_SECRET": jwt_secret,
                      "CODEAPI_JWT_ALLOWED_ALGS": "EdDSA,RS256,HS256",
                      "MAX_EXECUTION_TIME": "7"})
    try:
        r = requests.get(s.url + "/api/v1/admin/config", headers={"x-api-key": MASTER},
                         timeout=10)
        assert r.status_code == 200, r.text
        for secret in (MASTER, TEST_KEY, "second-key-0123456789abcdef", jwt_secret,
                       "hs256-secret", "second-key", "master-key", "test-key"):
            assert secret not in r.text, secret
        cfg = r.json()
        assert cfg["MASTER_API_KEY"] == "[redacted]"
        assert cfg["API_KEYS"] == "[redacted] (2 keys)"
        assert cfg["CODEAPI_JWT_HS256_SECRET"] == "[redacted]"
        assert cfg["CODEAPI_JWT_PUBLIC_KEY"] is None
        assert cfg["MAX_EXECUTION_TIME"] == 7 and cfg["CODEAPI_AUTH_PROVIDER"] == "both"
        assert cfg["KCR_DATA_DIR"] == s.data_dir
    finally:
        s.cleanup()


def test_overview_and_sessions_summary():
    s = start_server({"MASTER_API_KEY": MASTER})
    try:
        m = {"x-api-key": MASTER}
        o = requests.get(s.url + "/api/v1/admin/overview", headers=m, timeout=10).json()
        assert o["version"] == s.get("/health").json()["version"]
        assert o["uptime_seconds"] >= 0 and o["backend"] in ("local", "none")
        assert set(o["services"]) == {"metadata", "files", "pods"}
        assert o["services"]["metadata"]["status"] == "healthy"
        assert o["services"]["files"]["status"] == "healthy"
        assert set(o["exec_slots"]) == {"max", "running", "waiting", "refused"}
        if o["backend"] == "local":
            pool = o["services"]["pods"]["pool"]
            assert pool["py"]["target"] == 1 and pool["js"]["target"] == 0
            assert set(pool["py"]) >= {"target", "warm", "creating", "in_use"}
        empty = requests.get(s.url + "/api/v1/admin/sessions/summary", headers=m,
                             timeout=10).json()
        assert empty["sessions"] == 0 and empty["oldest_created_at"] is None
        assert empty["bytes"] == 0
        r = s.upload("a.txt", b"x" * 1000)
        assert r.status_code == 200, r.text
        r = s.upload("b.txt", b"y" * 24)
        assert r.status_code == 200, r.text
        summary = requests.get(s.url + "/api/v1/admin/sessions/summary", headers=m,
                               timeout=10).json()
        assert summary["sessions"] == 2 and summary["files"] == 2
        assert summary["file_bytes"] == 1024 and summary["bytes"] == 1024
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                            summary["oldest_created_at"])
        assert summary["oldest_age_seconds"] >= 0
    finally:
        s.cleanup()


def metrics_exec_counts(s):
    """{(language, outcome): n} of kcr_executions_total in /metrics."""
    text = s.get("/metrics").text
    return {(lang, outcome): int(n) for lang, outcome, n in re.findall(
        r'^kcr_executions_total\{language="([^"]+)",outcome="([^"]+)"\} (\d+)$', text, re.M)}


@needs_pods
def test_history_counts_what_metrics_counts():
    """The dashboard's history is fed by the same call as /metrics: after a
    few executions, its totals are kcr_executions_total, its last hour counts
    them by language and outcome, and the slowest carry request ids, no code."""
    s = start_server({"MASTER_API_KEY": MASTER, "MAX_EXECUTION_TIME": "5"})
    try:
        ids = set()
        for lang, code in (("py", "print(1)"), ("bash", "echo 2"), ("py", "raise SystemExit(3)")):
            r = s.exec(code, lang=lang)
            assert r.status_code == 200, r.text
            ids.add(r.headers["X-Request-ID"])
        h = requests.get(s.url + "/api/v1/admin/metrics/history",
                         headers={"x-api-key": MASTER}, timeout=10).json()
        counts = metrics_exec_counts(s)
        for lang, by in h["totals"].items():
            for outcome, n in by.items():
                assert counts[(lang, outcome)] == n, (lang, outcome)
        assert h["totals"]["py"]["completed"] == 1 and h["totals"]["py"]["failed"] == 1
        assert h["totals"]["bash"]["completed"] == 1
        assert len(h["minutes"]) == 60
        assert h["hour"]["count"] == 3 == sum(m["count"] for m in h["minutes"])
        assert h["hour"]["languages"] == {"py": {"completed": 1, "failed": 1},
                                          "bash": {"completed": 1}}
        assert 0 < h["hour"]["p50_ms"] <= h["hour"]["p95_ms"] <= h["hour"]["p99_ms"]
        assert {e["request_id"] for e in h["slowest"]} == ids
        durations = [e["duration_ms"] for e in h["slowest"]]
        assert durations == sorted(durations, reverse=True)
        assert "print(1)" not in str(h) and "SystemExit" not in str(h)
    finally:
        s.cleanup()
