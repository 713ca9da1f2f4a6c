"""kcr serve: the global bounds of issue 13, item 4 — execution slots
(MAX_CONCURRENT_EXECUTIONS with a bounded queue wait), files per session
(MAX_SESSION_FILES), file references copied once, default expiries."""
import concurrent.futures as cf
import datetime
import sqlite3
import time

from api_util import needs_pods, start_server
from conftest import wait_for


def _files(server, sid):
    r = server.get(f"/files/{sid}?detail=simple")
    assert r.status_code == 200, r.text
    return r.json()


def _metric(server, name):
    for line in server.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


@needs_pods
def test_slots_full_then_503_with_retry_after():
    s = start_server({"MAX_CONCURRENT_EXECUTIONS": "1", "EXEC_QUEUE_TIMEOUT_SECONDS": "1"})
    try:
        assert _metric(s, 'kcr_exec_slots{state="max"}') == 1
        with cf.ThreadPoolExecutor(max_workers=2) as ex:
            slow = ex.submit(s.exec, "import time; time.sleep(4); print('slow')")
            wait_for(lambda: _metric(s, 'kcr_exec_slots{state="running"}') == 1, 30,
                     what="the slow execution to hold the only slot")
            t0 = time.monotonic()
            busy = s.exec("print('fast')")
            waited = time.monotonic() - t0
            assert busy.status_code == 503, busy.text
            assert busy.headers.get("Retry-After") == "2"
            assert "execution slots" in busy.json()["error"]
            assert waited >= 0.9, waited  # it queued for its second first
            assert slow.result().status_code == 200
            assert slow.result().json()["stdout"] == "slow\n"
        assert _metric(s, "kcr_exec_refused_total") == 1
        # The slot is back: the next execution runs.
        r = s.exec("print('again')")
        assert r.status_code == 200 and r.json()["stdout"] == "again\n"
    finally:
        s.cleanup()


@needs_pods
def test_slots_full_requests_wait_their_turn():
    s = start_server({"MAX_CONCURRENT_EXECUTIONS": "1", "EXEC_QUEUE_TIMEOUT_SECONDS": "60"})
    try:
        with cf.ThreadPoolExecutor(max_workers=3) as ex:
            runs = list(ex.map(lambda i: s.exec(f"import time; time.sleep(0.5); print({i})"),
                               range(3)))
        assert [r.status_code for r in runs] == [200, 200, 200]
        assert sorted(r.json()["stdout"] for r in runs) == ["0\n", "1\n", "2\n"]
        assert _metric(s, "kcr_exec_refused_total") == 0
    finally:
        s.cleanup()


def test_default_slots_come_from_the_machine():
    s = start_server()
    try:
        n = _metric(s, 'kcr_exec_slots{state="max"}')
        assert 1 <= n <= 4 * (__import__("os").cpu_count() or 1)
    finally:
        s.cleanup()


def test_session_file_cap_on_upload():
    s = start_server({"MAX_SESSION_FILES": "3"})
    try:
        for i in range(3):
            r = s.upload(f"f{i}.txt", b"x", entity_id="capped")
            assert r.status_code == 200, r.text
        sid = r.json()["session_id"]
        r = s.upload("f3.txt", b"x", entity_id="capped")
        assert r.status_code == 413, r.text
        assert "MAX_SESSION_FILES" in r.json()["error"]
        assert len(_files(s, sid)) == 3
        # A multi-file upload is refused whole when it does not fit.
        other = s.upload("a.txt", b"a", entity_id="other").json()["session_id"]
        r = s.post("/upload", data={"entity_id": "other"},
                   files=[("files", ("b.txt", b"b")), ("files", ("c.txt", b"c")),
                          ("files", ("d.txt", b"d"))])
        assert r.status_code == 413, r.text
        assert [f["name"] for f in _files(s, other)] == ["a.txt"]
    finally:
        s.cleanup()


@needs_pods
def test_session_file_cap_on_outputs():
    s = start_server({"MAX_SESSION_FILES": "3"})
    try:
        sid = s.upload("in.txt", b"x").json()["session_id"]
        code = "for i in range(4):\n    open(f'/mnt/data/out{i}.txt', 'w').write(str(i))\n"
        r = s.exec(code, session_id=sid)
        assert r.status_code == 200, r.text
        body = r.json()
        assert [f["name"] for f in body["files"]] == ["out0.txt", "out1.txt"]
        assert "2 output file(s) not kept" in body["stderr"], body
        assert len(_files(s, sid)) == 3
    finally:
        s.cleanup()


@needs_pods
def test_references_to_one_file_are_copied_once():
    s = start_server()
    try:
        up = s.upload("data.csv", b"a,b\n1,2\n", entity_id="source").json()
        src, fid = up["session_id"], up["files"][0]["fileId"]
        dest = s.upload("own.txt", b"own", entity_id="dest").json()["session_id"]
        ref = {"id": fid, "session_id": src, "name": "data.csv"}
        refs = [ref] * 200 + [dict(ref, name="copy1.csv"), dict(ref, name="copy2.csv")]
        r = s.exec("import os\nprint(sorted(f for f in os.listdir('.') if f.endswith('.csv')))\n"
                   "print(open('copy2.csv').read())", session_id=dest, files=refs)
        assert r.status_code == 200, r.text
        assert r.json()["stdout"] == "['copy1.csv', 'copy2.csv', 'data.csv']\na,b\n1,2\n\n"
        names = sorted(f["name"] for f in _files(s, dest))
        assert names == ["data.csv", "own.txt"], names  # one copy, not 202
    finally:
        s.cleanup()


def test_default_state_and_session_expiry():
    s = start_server()
    try:
        sid = s.upload("x.txt", b"x").json()["session_id"]
        r = s.post(f"/state/{sid}", data=b"\x01abc",
                   headers=s.headers(**{"Content-Type": "application/octet-stream"}))
        assert r.status_code == 201
        info = s.get(f"/state/{sid}/info").json()

        def t(v):
            return datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
        ttl = (t(info["expires_at"]) - t(info["created_at"])).total_seconds()
        assert abs(ttl - 7200) < 2, info
        # Sessions expire after 24 h (the record the cleanup reads).
        db = sqlite3.connect(f"file:{s.data_dir}/kcr.db?mode=ro", uri=True)
        created, expires = db.execute("SELECT created_ms, expires_ms FROM sessions WHERE id=?",
                                      (sid,)).fetchone()
        db.close()
        assert expires - created == 24 * 3600 * 1000
    finally:
        s.cleanup()
