"""Scale-out (issue 15, docs/scale-out.md): two `kcr serve` replicas on one
real redis-server and one real S3-compatible server (s3rver from npm) share
sessions, files, Python state, managed keys and rate limits; a store that
is down gives 503 within its timeout and recovery is automatic; a replica
killed with kill -9 loses nothing acknowledged. Also the mixes (SQLite +
S3, Redis + files) and the settings' errors."""
import os
import threading
import time

import pytest
import requests

from api_util import TEST_KEY, have_pods, needs_pods, run_server_once, start_server
from conftest import wait_for
from redis_util import Redis, needs_redis
from s3_util import S3, needs_s3

MASTER = "master-key-0123456789abcdef"
TIMEOUT_S = 2  # REDIS_SOCKET_TIMEOUT / S3_TIMEOUT_SECONDS of the fault tests


@pytest.fixture(scope="module")
def redis():
    r = Redis().start()
    yield r
    r.cleanup()


@pytest.fixture(scope="module")
def s3():
    s = S3().start()
    yield s
    s.cleanup()


def store_env(redis=None, s3=None, prefix="kcr:", **extra):
    env = {"REDIS_SOCKET_TIMEOUT": str(TIMEOUT_S), "S3_TIMEOUT_SECONDS": str(TIMEOUT_S)}
    if redis:
        env.update(REDIS_URL=redis.url, REDIS_KEY_PREFIX=prefix)
    if s3:
        env.update(s3.env())
    env.update(extra)
    return env


@pytest.fixture
def replicas(redis, s3, request):
    """Two replicas, each with its own data dir (only the spool is local)."""
    prefix = f"t{abs(hash(request.node.name)) % 10**8}:"
    env = store_env(redis, s3, prefix, MASTER_API_KEY=MASTER, RATE_LIMIT_UPLOAD_PER_MINUTE="0")
    a = start_server(env)
    b = start_server(env)
    yield a, b
    a.cleanup()
    b.cleanup()


pytestmark = [needs_redis, needs_s3]


def test_files_across_replicas(replicas):
    a, b = replicas
    data = os.urandom(300_000)
    r = a.upload("data.bin", data, entity_id="agent_scale")
    assert r.status_code == 200, r.text
    sid, fid = r.json()["session_id"], r.json()["files"][0]["fileId"]
    listed = b.get(f"/files/{sid}?detail=simple")
    assert listed.status_code == 200 and fid in [f["id"] for f in listed.json()]
    got = b.get(f"/download/{sid}/{fid}")
    assert got.status_code == 200 and got.content == data
    assert int(got.headers["Content-Length"]) == len(data)
    # A second upload for the same entity, on B, joins A's session.
    r = b.upload("more.txt", b"more", entity_id="agent_scale")
    assert r.status_code == 200 and r.json()["session_id"] == sid
    assert len(a.get(f"/files/{sid}?detail=simple").json()) == 2
    assert b.delete(f"/files/{sid}/{fid}").status_code == 200
    assert a.get(f"/download/{sid}/{fid}").status_code == 404
    assert fid not in [f["id"] for f in a.get(f"/files/{sid}?detail=simple").json()]


def test_state_endpoints_across_replicas(replicas):
    a, b = replicas
    sid = a.upload("seed.txt", b"seed").json()["session_id"]
    blob = b"\x02" + os.urandom(100_000)
    h = {"x-api-key": TEST_KEY, "Content-Type": "application/octet-stream"}
    assert a.post(f"/state/{sid}", data=blob, headers=h).status_code == 201
    r = b.get(f"/state/{sid}")
    assert r.status_code == 200 and r.content == blob
    assert b.delete(f"/state/{sid}").status_code == 204
    assert a.get(f"/state/{sid}").status_code == 404


@needs_pods
def test_exec_and_python_state_across_replicas(replicas):
    a, b = replicas
    r = a.exec("x = 41\nopen('/mnt/data/out.txt', 'w').write('from A')\nprint('set')",
               entity_id="agent_exec")
    assert r.status_code == 200, r.text
    body = r.json()
    sid = body["session_id"]
    assert body["stdout"].strip() == "set"
    out = [f for f in body["files"] if f["name"] == "out.txt"][0]
    # B restores A's Python state and serves A's output file.
    r = b.exec("print(x + 1)", session_id=sid)
    assert r.status_code == 200, r.text
    assert r.json()["stdout"].strip() == "42" and r.json()["session_id"] == sid
    got = b.get(f"/download/{sid}/{out['id']}")
    assert got.status_code == 200 and got.content == b"from A"
    # The file goes back into a run on A by reference.
    r = a.exec("print(open('/mnt/data/out.txt').read())", session_id=sid,
               files=[{"id": out["id"], "session_id": sid, "name": "out.txt"}])
    assert r.status_code == 200 and r.json()["stdout"].strip() == "from A", r.text


def test_managed_key_made_on_one_replica_works_on_the_other(replicas):
    a, b = replicas
    admin_h = {"x-api-key": MASTER}
    r = requests.post(a.url + "/api/v1/admin/keys", json={"name": "shared"}, headers=admin_h,
                      timeout=10)
    assert r.status_code == 200, r.text
    key, h = r.json()["api_key"], r.json()["record"]["key_hash"]
    assert requests.get(b.url + "/files/x", headers={"x-api-key": key}, timeout=10).status_code \
        == 200
    listing = requests.get(b.url + "/api/v1/admin/keys", headers=admin_h, timeout=10).json()
    assert h in [k["key_hash"] for k in listing]
    # Disabled on B: refused on A at once (no cache outlives the store's word).
    assert requests.patch(f"{b.url}/api/v1/admin/keys/{h}", json={"enabled": False},
                          headers=admin_h, timeout=10).status_code == 200
    assert requests.get(a.url + "/files/x", headers={"x-api-key": key}, timeout=10).status_code \
        == 401
    assert requests.delete(f"{a.url}/api/v1/admin/keys/{h}", headers=admin_h,
                           timeout=10).status_code == 200
    assert requests.get(b.url + "/files/x", headers={"x-api-key": key}, timeout=10).status_code \
        == 401


def test_rate_limit_counted_across_replicas(redis, s3):
    env = store_env(redis, s3, "rl:", RATE_LIMIT_UPLOAD_PER_MINUTE="6")
    a, b = start_server(env), start_server(env)
    try:
        left = 60 - time.time() % 60
        if left < 15:  # the requests below must share one window
            time.sleep(left + 0.3)
        codes = []
        for i in range(8):
            s = (a, b)[i % 2]
            codes.append(s.upload(f"f{i}.txt", b"x").status_code)
        assert codes[:6] == [200] * 6 and codes[6:] == [429, 429], codes
    finally:
        a.cleanup()
        b.cleanup()


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def test_redis_paused_gives_503_within_the_timeout_then_recovers(redis, s3):
    env = store_env(redis, s3, "pause:", MASTER_API_KEY=MASTER)
    a, b = start_server(env), start_server(env)
    try:
        r = requests.post(a.url + "/api/v1/admin/keys", json={"name": "k"},
                          headers={"x-api-key": MASTER}, timeout=10)
        managed = r.json()["api_key"]
        r = a.upload("before.txt", b"acknowledged before the pause")
        assert r.status_code == 200
        sid, fid = r.json()["session_id"], r.json()["files"][0]["fileId"]
        redis.pause()
        try:
            for s in (a, b):
                r, took = timed(lambda: s.upload("during.txt", b"x"))
                assert r.status_code == 503, r.text
                assert r.json()["error_type"] == "service_unavailable"
                assert took < TIMEOUT_S + 2, took
                r, took = timed(lambda: s.get("/ready", headers={}))
                assert r.status_code == 503 and took < TIMEOUT_S + 2
                assert r.json()["stores"]["metadata"] == {"store": "redis",
                                                          "status": "unhealthy"}
                r, took = timed(lambda: s.get(f"/download/{sid}/{fid}"))
                assert r.status_code == 503 and took < TIMEOUT_S + 2, r.text
                # A managed key cannot be checked: 503, not "invalid key".
                r, took = timed(lambda: s.get("/files/x", headers={"x-api-key": managed}))
                assert r.status_code == 503 and took < TIMEOUT_S + 2, r.text
        finally:
            redis.resume()
        for s in (a, b):
            wait_for(lambda: s.get("/ready", headers={}).status_code in (200, 503) and
                     s.get("/ready", headers={}).json()["stores"]["metadata"]["status"] ==
                     "healthy", 30, what="readiness after SIGCONT")
            got = s.get(f"/download/{sid}/{fid}")
            assert got.status_code == 200 and got.content == b"acknowledged before the pause"
            assert s.get("/files/x", headers={"x-api-key": managed}).status_code == 200
            assert s.upload("after.txt", b"y").status_code == 200
    finally:
        redis.resume()
        a.cleanup()
        b.cleanup()


def test_s3_down_uploads_503_nothing_half_visible(redis, s3):
    env = store_env(redis, s3, "s3down:")
    a = start_server(env)
    try:
        r = a.upload("keep.txt", b"kept")
        sid = r.json()["session_id"]
        s3.pause()
        try:
            r, took = timed(lambda: a.post("/upload", files={"file": ("lost.txt", b"z" * 1000)},
                                           data={"session_id": sid}))
            assert r.status_code == 503, r.text
            assert took < TIMEOUT_S + 2
            r = a.get("/ready", headers={})
            assert r.status_code == 503
            assert r.json()["stores"]["files"]["status"] == "unhealthy"
        finally:
            s3.resume()
        names = [f["name"] for f in a.get(f"/files/{sid}?detail=simple").json()]
        assert names == ["keep.txt"]
        wait_for(lambda: a.get("/ready", headers={}).json()["stores"]["files"]["status"] ==
                 "healthy", 30, what="S3 healthy again")
        assert a.upload("after.txt", b"after", entity_id=None).status_code == 200
    finally:
        s3.resume()
        a.cleanup()


def test_kill9_of_a_replica_loses_nothing_acknowledged(redis, s3):
    env = store_env(redis, s3, "kill:")
    a, b = start_server(env), start_server(env)
    acked, outputs = [], []
    stop = threading.Event()

    def uploader(n):
        i = 0
        while not stop.is_set():
            data = os.urandom(40_000 + i) + f"{n}-{i}".encode()
            try:
                r = a.upload(f"f{n}-{i}.bin", data)
            except Exception:
                return
            if r.status_code == 200:
                acked.append((r.json()["session_id"], r.json()["files"][0]["fileId"], data))
            i += 1

    def executor(n):
        i = 0
        while not stop.is_set():
            token = os.urandom(8).hex()
            try:
                r = a.exec(f"x{n} = {i}\nopen('/mnt/data/o{n}.txt', 'w').write({token!r})")
            except Exception:
                return
            if r.status_code == 200:
                body = r.json()
                fid = [f["id"] for f in body["files"] if f["name"] == f"o{n}.txt"][0]
                outputs.append((body["session_id"], fid, token.encode(), n, i))
            i += 1

    try:
        threads = [threading.Thread(target=uploader, args=(n,)) for n in range(3)]
        if have_pods():
            threads += [threading.Thread(target=executor, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acked) > 5 and (not have_pods() or len(outputs) >= 2), 90,
                 what="uploads and executions acknowledged before the kill")
        a.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        for sid, fid, data in acked:
            got = b.get(f"/download/{sid}/{fid}")
            assert got.status_code == 200 and got.content == data, (sid, fid)
        for sid, fid, data, n, i in outputs:
            got = b.get(f"/download/{sid}/{fid}")
            assert got.status_code == 200 and got.content == data
            r = b.exec(f"print(x{n})", session_id=sid)
            assert r.status_code == 200 and r.json()["stdout"].strip() == str(i), r.text
    finally:
        stop.set()
        a.cleanup()
        b.cleanup()


def test_sqlite_with_s3(s3):
    s = start_server(store_env(None, s3))
    try:
        r = s.upload("a.txt", b"on s3")
        sid, fid = r.json()["session_id"], r.json()["files"][0]["fileId"]
        assert s.get(f"/download/{sid}/{fid}").content == b"on s3"
        d = s.get("/health/detailed").json()["services"]
        assert d["metadata"]["service"] == "sqlite" and d["files"]["service"] == "s3"
        # Restarted on the same data dir and bucket: still there.
        s.stop()
        s.start()
        assert s.get(f"/download/{sid}/{fid}").content == b"on s3"
    finally:
        s.cleanup()


def test_s3_signatures_verified_and_a_wrong_secret_refused(s3):
    """The proxy in front of s3rver verifies every SigV4 signature and body
    hash: kcr's pass; with the secret rotated under it, uploads answer 503
    (access denied), and recover when it is back; a wrong secret at start
    stops the start."""
    s = start_server(store_env(None, s3))
    try:
        r = s.upload("a b+c=é.txt", b"signed")
        assert r.status_code == 200, r.text
        sid, fid = r.json()["session_id"], r.json()["files"][0]["fileId"]
        s3.set_secret("ROTATED")
        try:
            r = s.upload("b.txt", b"refused")
            assert r.status_code == 503, r.text
            assert s.get(f"/download/{sid}/{fid}").status_code == 503
        finally:
            s3.set_secret("S3RVER")
        assert s.get(f"/download/{sid}/{fid}").content == b"signed"
        assert s.upload("c.txt", b"again").status_code == 200
    finally:
        s.cleanup()
    code, _, err = run_server_once(dict(store_env(None, s3), MINIO_SECRET_KEY="WRONG"))
    assert code != 0 and "access denied" in err, err
    log = s3.proxy_log()
    assert " ok PUT " in log
    refused = [ln for ln in log.splitlines() if " REJECT " in ln
               and not ln.endswith("no Authorization header (anonymous request)")]
    assert refused and all("403 SignatureDoesNotMatch" in ln for ln in refused), refused


def test_redis_with_files(redis):
    s = start_server(store_env(redis, None, "mix:"))
    try:
        r = s.upload("a.txt", b"on disk")
        sid, fid = r.json()["session_id"], r.json()["files"][0]["fileId"]
        assert s.get(f"/download/{sid}/{fid}").content == b"on disk"
        d = s.get("/health/detailed").json()["services"]
        assert d["metadata"]["service"] == "redis" and d["files"]["service"] == "filesystem"
        assert s.get("/ready", headers={}).json()["stores"]["metadata"]["store"] == "redis"
    finally:
        s.cleanup()


@pytest.mark.parametrize("env, names", [
    ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
    ({"REDIS_URL": "redis://127.0.0.1:6379/zero"}, "REDIS_URL"),
    ({"REDIS_HOST": "127.0.0.1", "REDIS_SSL_CERT_REQS": "maybe"}, "REDIS_SSL_CERT_REQS"),
    ({"MINIO_ENDPOINT": "127.0.0.1:9000"}, "MINIO_ACCESS_KEY"),
    ({"MINIO_ENDPOINT": "http://127.0.0.1:9000", "MINIO_ACCESS_KEY": "a",
      "MINIO_SECRET_KEY": "b"}, "MINIO_ENDPOINT"),
    ({"S3_ENDPOINT": "127.0.0.1:9000"}, "S3_ENDPOINT"),
])
def test_bad_store_settings_stop_the_start(env, names):
    code, _, err = run_server_once(env)
    assert code != 0 and names in err, err


def test_unreachable_redis_at_start_fails_clearly():
    from conftest import free_port
    code, _, err = run_server_once({"REDIS_URL": f"redis://127.0.0.1:{free_port()}",
                                    "REDIS_SOCKET_TIMEOUT": "1"}, timeout=30)
    assert code != 0 and "redis" in err.lower(), err
