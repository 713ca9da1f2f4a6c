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
