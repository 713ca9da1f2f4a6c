"""kcr serve: kill -9 at any moment loses no acknowledged upload or output and
leaves no half-written file visible; a restart serves everything again."""
import os
import threading
import time

from api_util import have_pods, needs_pods, start_server
from conftest import wait_for


def visible_temporaries(data_dir):
    """Names a crash could leave half-written: anything temporary outside the
    unnamed-file directory (whose O_TMPFILE files have no names at all)."""
    found = []
    for root, dirs, files in os.walk(os.path.join(data_dir, "blobs")):
        for f in files:
            if f.startswith(".tmp"):
                found.append(os.path.join(root, f))
    return found


def test_kill9_during_uploads_and_executions_then_restart_serves_everything():
    s = start_server()
    acked = []
    stop = threading.Event()

    def uploader(n):
        i = 0
        while not stop.is_set():
            data = os.urandom(50_000 + i) + f"{n}-{i}".encode()
            try:
                r = s.upload(f"f{n}-{i}.bin", data)
            except Exception:
                return  # the server died mid-request: not acknowledged
            if r.status_code == 200:
                b = r.json()
                acked.append((b["session_id"], b["files"][0]["fileId"], data))
            i += 1

    outputs = []

    def executor(n):
        """Executions writing two files each, running when the kill comes."""
        i = 0
        while not stop.is_set():
            token = f"output {n}-{i} " + os.urandom(8).hex()
            code = (f"open('/mnt/data/a{n}.txt', 'w').write({token!r})\n"
                    f"open('/mnt/data/b{n}.bin', 'wb').write(bytes(range(256)) * {100 + i})\n")
            try:
                r = s.exec(code)
            except Exception:
                return  # died mid-request: not acknowledged
            if r.status_code == 200:
                b = r.json()
                by_name = {f["name"]: f["id"] for f in b["files"]}
                outputs.append((b["session_id"], by_name[f"a{n}.txt"], token.encode()))
                outputs.append((b["session_id"], by_name[f"b{n}.bin"],
                                bytes(range(256)) * (100 + i)))
            i += 1

    try:
        threads = [threading.Thread(target=uploader, args=(n,)) for n in range(4)]
        if have_pods():
            threads += [threading.Thread(target=executor, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        # Killed mid-flight, with uploads and outputs half-received, half-
        # stored: after 1.5 s of load (the scenario), and not before enough
        # was acknowledged for the checks below (a slow machine needs longer).
        time.sleep(1.5)
        wait_for(lambda: len(acked) > 5 and (not have_pods() or len(outputs) >= 4), 60,
                 what="uploads and executions acknowledged before the kill")
        s.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        assert len(acked) > 5, "too few uploads acknowledged before the kill"
        if have_pods():
            assert len(outputs) >= 4, "too few executions acknowledged before the kill"
        assert visible_temporaries(s.data_dir) == []  # before the restart's sweep too

        s.start()
        for sid, fid, data in acked + outputs:
            r = s.get(f"/download/{sid}/{fid}")
            assert r.status_code == 200, (sid, fid)
            assert r.content == data
            names = [f["id"] for f in s.get(f"/files/{sid}?detail=simple").json()]
            assert fid in names
        assert visible_temporaries(s.data_dir) == []
    finally:
        stop.set()
        s.cleanup()


OLD_SCHEMA = """
CREATE TABLE sessions(id TEXT PRIMARY KEY, entity_id TEXT NOT NULL, user_id TEXT NOT NULL,
  created_ms INTEGER NOT NULL, last_activity_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE INDEX sessions_entity ON sessions(entity_id, last_activity_ms);
CREATE TABLE files(session_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
  content_type TEXT NOT NULL, size INTEGER NOT NULL, created_ms INTEGER NOT NULL,
  kind INTEGER NOT NULL, PRIMARY KEY(session_id, id));
CREATE INDEX files_name ON files(session_id, name);
CREATE TABLE states(session_id TEXT PRIMARY KEY, size INTEGER NOT NULL, hash TEXT NOT NULL,
  created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE TABLE api_keys(hash TEXT PRIMARY KEY, prefix TEXT NOT NULL, name TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1, created_ms INTEGER NOT NULL);
"""


@needs_pods
def test_data_from_before_owners_stays_reachable_by_api_keys():
    """An upgrade loses nothing: a data dir written before principals existed
    (the first schema, legacy state keys) is every API key's, and no
    LibreChat user's (docs/auth.md)."""
    import hashlib
    import pathlib
    import shutil
    import sqlite3
    import tempfile
    import time
    from auth_util import KeyPair, bearer, mint
    top = tempfile.mkdtemp(prefix="kcr-upgrade-")
    os.chmod(top, 0o755)  # kcr serve drops to KCR_SERVE_UID, which must reach it
    data = pathlib.Path(top) / "data"
    blobs = data / "blobs"
    sid, fid, now = "OldSession0123456789a", "OldFile0123456789abcd", int(time.time() * 1000)
    (blobs / sid).mkdir(parents=True)
    (blobs / "state").mkdir()
    (blobs / sid / fid).write_bytes(b"legacy bytes")
    state = b"\x01legacy-state"
    (blobs / "state" / sid).write_bytes(state)
    db = sqlite3.connect(data / "kcr.db")
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO sessions VALUES(?,?,?,?,?,0)", (sid, "agent_old", "", now, now))
    db.execute("INSERT INTO files VALUES(?,?,?,?,?,?,0)",
               (sid, fid, "old.txt", "text/plain", 12, now))
    db.execute("INSERT INTO states VALUES(?,?,?,?,0)",
               (sid, len(state), hashlib.sha256(state).hexdigest(), now))
    db.commit()
    db.close()
    key = KeyPair("EdDSA")
    other = "second-key-0123456789abcdef"
    s = start_server({"CODEAPI_JWT_PUBLIC_KEY": key.public_pem, "API_KEYS": other},
                     data_dir=str(data))
    try:
        for h in ({"x-api-key": s.key}, {"x-api-key": other}):
            names = [f["name"] for f in s.get(f"/files/{sid}?detail=simple", headers=h).json()]
            assert names == ["old.txt"], h
            assert s.get(f"/download/{sid}/{fid}", headers=h).content == b"legacy bytes"
            assert s.get(f"/sessions/{sid}/objects/{fid}", headers=h).status_code == 200
            assert s.get(f"/state/{sid}", headers=h).content == state
        user = bearer(mint(key, sub="alice"))
        assert s.get(f"/files/{sid}", headers=user).json() == []
        assert s.get(f"/download/{sid}/{fid}", headers=user).status_code == 404
        assert s.get(f"/state/{sid}", headers=user).status_code == 404
        r = s.exec("cat old.txt", lang="bash", entity_id="agent_old",
                   files=[{"id": fid, "session_id": sid, "name": "old.txt"}])
        assert r.status_code == 200 and r.json()["session_id"] == sid, r.text
        assert r.json()["stdout"] == "legacy bytes\n"
        r = s.post("/exec", json={"lang": "py", "code": "print(1)", "session_id": sid},
                   headers=user)
        assert r.status_code == 200 and r.json()["session_id"] != sid
    finally:
        s.cleanup()
        shutil.rmtree(top, ignore_errors=True)
