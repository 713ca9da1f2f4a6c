"""kcr serve: /state/* with KubeCodeRun's exact semantics
(docs/api-contract.md rule 13),
except that a state is stored only under one of the caller's live sessions
(issue 13, item 4: POST /state/{anything} was a free 50 MB store)."""
import hashlib

import pytest

from api_util import server  # noqa: F401

UNKNOWN = "StateSession012345678"


@pytest.fixture
def sid(server):
    """A live session of the caller's (an upload makes one)."""
    r = server.upload("seed.txt", b"seed")
    assert r.status_code == 200, r.text
    return r.json()["session_id"]


def test_state_round_trip_etag_and_304(server, sid):
    blob = b"\x02" + bytes(range(256)) * 40
    r = server.post(f"/state/{sid}", data=blob,
                    headers=server.headers(**{"Content-Type": "application/octet-stream"}))
    assert r.status_code == 201, r.text
    assert r.json() == {"message": "state_uploaded", "size": len(blob)}
    digest = hashlib.sha256(blob).hexdigest()

    r = server.get(f"/state/{sid}")
    assert r.status_code == 200
    assert r.content == blob
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["ETag"] == f'"{digest}"'
    assert int(r.headers["Content-Length"]) == len(blob)

    for inm in (f'"{digest}"', digest):
        r = server.get(f"/state/{sid}", headers=server.headers(**{"If-None-Match": inm}))
        assert r.status_code == 304
        assert r.headers["ETag"] == f'"{digest}"' and r.content == b""
    r = server.get(f"/state/{sid}", headers=server.headers(**{"If-None-Match": '"other"'}))
    assert r.status_code == 200

    info = server.get(f"/state/{sid}/info").json()
    assert info["exists"] is True and info["session_id"] == sid
    assert info["size_bytes"] == len(blob) and info["hash"] == digest

    r = server.delete(f"/state/{sid}")
    assert r.status_code == 204 and r.content == b""
    r = server.get(f"/state/{sid}")
    assert r.status_code == 404
    assert "state_not_found" in r.json()["error"]
    assert server.delete(f"/state/{sid}").status_code == 204
    info = server.get(f"/state/{sid}/info").json()
    assert info == {"exists": False, "session_id": sid, "size_bytes": None, "hash": None,
                    "created_at": None, "expires_at": None, "source": None}


def test_state_validation(server, sid):
    h = server.headers(**{"Content-Type": "application/octet-stream"})
    r = server.post(f"/state/{sid}", data=b"\x01", headers=h)
    assert r.status_code == 400 and r.json()["error"] == "State too short"
    r = server.post(f"/state/{sid}", data=b"\x03abc", headers=h)
    assert r.status_code == 400 and r.json()["error"] == "Unknown state version: 3"
    # Version 1 is accepted too, and any content type is (exempt from 415).
    r = server.post(f"/state/{sid}", data=b"\x01abc",
                    headers=server.headers(**{"Content-Type": "image/png"}))
    assert r.status_code == 201


def test_state_size_cap(server, sid):
    big = b"\x01" + b"\0" * (50 * 1024 * 1024)
    r = server.post(f"/state/{sid}", data=big,
                    headers=server.headers(**{"Content-Type": "application/octet-stream"}))
    assert r.status_code == 413
    assert r.json()["error_type"] == "resource_exhausted"
    ok = b"\x01" + b"\0" * (50 * 1024 * 1024 - 1)
    r = server.post(f"/state/{sid}", data=ok,
                    headers=server.headers(**{"Content-Type": "application/octet-stream"}))
    assert r.status_code == 201 and r.json()["size"] == 50 * 1024 * 1024


def test_state_only_for_the_callers_sessions(server, sid):
    h = server.headers(**{"Content-Type": "application/octet-stream"})
    for other in (UNKNOWN, "x", sid[:-1] + ("A" if sid[-1] != "A" else "B")):
        r = server.post(f"/state/{other}", data=b"\x01abc", headers=h)
        assert r.status_code == 404, (other, r.text)
        assert "session_not_found" in r.json()["error"]
        assert server.get(f"/state/{other}/info").json()["exists"] is False
    assert server.post(f"/state/{sid}", data=b"\x01abc", headers=h).status_code == 201
