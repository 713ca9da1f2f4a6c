"""kcr serve: managed API keys with MASTER_API_KEY (/api/v1/admin/keys)."""
import requests

from api_util import TEST_KEY, start_server

MASTER = "master-key-0123456789abcdef"


def test_managed_keys_lifecycle():
    s = start_server({"MASTER_API_KEY": MASTER})
    try:
        admin = s.url + "/api/v1/admin/keys"
        assert requests.get(admin, timeout=10).status_code == 422
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
        r = requests.get(s.url + "/api/v1/admin/keys", headers={"x-api-key": TEST_KEY},
                         timeout=10)
        assert r.status_code == 500
        assert "no MASTER_API_KEY configured" in r.json()["error"]
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
        for key, status in ((None, "422"), ("not-the-master-key", "403"), (TEST_KEY, "403")):
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
