"""Programmatic tool calling across replicas (docs/ptc.md, "Several
replicas"; docs/scale-out.md): two `kcr serve` replicas on one real
redis-server, each with KCR_REPLICA_URL. A run paused on A is continued
through B (B finds A in the continuation record and forwards the request;
A authenticates the caller again), cancelled through B (paused, and in
flight), and is another principal's 404 through B as on A. A replica killed
with kill -9 while its run is paused: B answers 404 within a bounded time
and the record is gone. Records never hold the token. Without
KCR_REPLICA_URL nothing changes: a continuation on the other replica is 404
and no record is written. LibreChat's own client, through a proxy that
sends each request to the next replica in turn, completes a run of five
dependent calls. Bad KCR_REPLICA_URL values stop the start."""
import hashlib
import http.server
import threading
import time
import uuid

import pytest
import requests

from api_util import (Server, TEST_KEY, needs_pods, own_pods_env, run_server_once,
                      start_server, stop_and_remove)
from conftest import free_port, wait_for
from redis_util import Redis, needs_redis
from test_api_client import client_dir, node  # noqa: F401  (client_dir: a fixture)
from test_api_ptc import (OTHER_KEY, RID, answer, cancel, cont, in_thread, ok_result, paused,
                          start)

pytestmark = [needs_redis, needs_pods]


@pytest.fixture(scope="module")
def redis():
    r = Redis().start()
    yield r
    r.cleanup()


def replica(redis, prefix, tag, replica_url=True, **extra):
    """A replica on redis (key prefix prefix) with its own pods; with
    KCR_REPLICA_URL its own loopback URL unless replica_url is False, or
    with replica_url "ip" KCR_REPLICA_IP=127.0.0.1 (kcr adds API_PORT)."""
    s = Server(dict(own_pods_env(tag), REDIS_URL=redis.url, REDIS_KEY_PREFIX=prefix,
                    REDIS_SOCKET_TIMEOUT="2", API_KEYS=OTHER_KEY, MAX_EXECUTION_TIME="10",
                    PTC_CONTINUATION_TIMEOUT_SECONDS="30", PTC_MAX_PAUSED="4", **extra))
    s.port = free_port()
    if replica_url == "ip":
        s.extra_env["KCR_REPLICA_IP"] = "127.0.0.1"
    elif replica_url:
        s.extra_env["KCR_REPLICA_URL"] = f"http://127.0.0.1:{s.port}"
    return s.start()


@pytest.fixture(scope="module")
def pair(redis):
    a = replica(redis, "ptcx:", "ptcx-a")
    b = replica(redis, "ptcx:", "ptcx-b", replica_url="ip")  # forwarded to by its IP alone
    yield a, b
    stop_and_remove(a)
    stop_and_remove(b)


def records(redis, prefix):
    return redis.command("KEYS", prefix + "c:*")


def token_record(prefix, token):
    return prefix + "c:" + hashlib.sha256(b"ptc-token\n" + token.encode()).hexdigest()


def test_continuation_through_the_other_replica(pair, redis):
    """A run of three calls paused on A: each continuation goes through the
    replica the caller picks, and the run ends on A with the right output.
    A used token is 404 on both replicas."""
    a, b = pair
    code = ("x = await t(n=1)\ny = await t(n=x + 1)\nz = await t(n=y + 1)\n"
            "print('sum', x + y + z)")
    first = paused(start(a, code), 1)
    sid = first["session_id"]
    tok = first["continuation_token"]
    # The record is under a hash of the token, never the token itself.
    assert redis.command("EXISTS", token_record("ptcx:", tok)) == 1
    assert not any(tok in k for k in records(redis, "ptcx:"))
    assert redis.command("HGET", token_record("ptcx:", tok), "replica") == a.url
    r = cont(b, tok, [ok_result(first["tool_calls"][0], 1)])
    second = paused(r, 1)
    assert second["session_id"] == sid and second["tool_calls"][0]["input"] == {"n": 2}
    assert redis.command("EXISTS", token_record("ptcx:", tok)) == 0  # used
    third = paused(cont(b, second["continuation_token"], [ok_result(second["tool_calls"][0], 2)]))
    r = cont(a, third["continuation_token"], [ok_result(third["tool_calls"][0], 3)])
    done = answer(r, "completed")
    assert done["stdout"] == "sum 6\n" and done["session_id"] == sid
    for s in (a, b):
        r = cont(s, tok, [ok_result(first["tool_calls"][0], 1)])
        assert r.status_code == 404, r.text
    # The run's records went with it.
    assert redis.command("EXISTS", token_record("ptcx:", third["continuation_token"])) == 0


def test_forwarded_continuation_counts_once(pair):
    """A continuation sent to B and forwarded to A counts once against the
    caller's exec rate limit (the counters are shared through Redis), and its
    answer carries the holder's RateLimit-* numbers."""
    a, b = pair
    # The counts compared below must fall in one one-minute window.
    reset = int(a.exec("print(0)").headers["RateLimit-Reset"])
    if reset < 15:
        time.sleep(reset + 0.5)
    first = start(a, "x = await t(n=1)\nprint('got', x)")
    remaining = int(first.headers["RateLimit-Remaining"])
    tok = paused(first, 1)["continuation_token"]
    call = paused(first, 1)["tool_calls"][0]
    r = cont(b, tok, [ok_result(call, 7)])
    assert answer(r, "completed")["stdout"] == "got 7\n"
    assert int(r.headers["RateLimit-Remaining"]) == remaining - 1, r.headers
    assert r.headers["RateLimit-Limit"] == first.headers["RateLimit-Limit"]
    after = a.exec("print(1)")
    assert after.status_code == 200
    assert int(after.headers["RateLimit-Remaining"]) == remaining - 2, after.headers


def test_replica_known_by_its_ip_is_forwarded_to(pair, redis):
    """B has only KCR_REPLICA_IP: its records carry http://127.0.0.1:<its
    API_PORT>, and a run paused on B is continued through A."""
    a, b = pair
    first = paused(start(b, "x = await t(n=5)\nprint('got', x)"), 1)
    tok = first["continuation_token"]
    assert redis.command("HGET", token_record("ptcx:", tok), "replica") == \
        f"http://127.0.0.1:{b.port}"
    done = answer(cont(a, tok, [ok_result(first["tool_calls"][0], 5)]), "completed")
    assert done["stdout"] == "got 5\n", done


def test_v1_prefix_and_errors_relayed(pair):
    """Through /v1 on B, and a program that fails on A: B relays A's error
    answer as it is."""
    a, b = pair
    first = paused(start(a, "v = await t()\nraise ValueError(v)"), 1)
    r = cont(b, first["continuation_token"], [ok_result(first["tool_calls"][0], "boom")],
             prefix="/v1")
    body = answer(r, "error")
    assert body["error"] == "Sandbox exited with code 1" and "ValueError: boom" in body["stderr"]


def test_another_principal_through_the_other_replica(pair, redis):
    """Another key gets 404 for the token and cancelled false for the
    request id through B (as on A); the owner then goes on through B."""
    a, b = pair
    rid = str(uuid.uuid4())
    first = paused(start(a, 'await t()\nprint("owner")', headers={"x-api-key": TEST_KEY,
                                                                  RID: rid}), 1)
    other = {"x-api-key": OTHER_KEY}
    for s in (b, a):
        r = cont(s, first["continuation_token"], [ok_result(first["tool_calls"][0], 1)],
                 headers=other)
        assert r.status_code == 404, r.text
        r = cancel(s, rid, headers=other)
        assert r.status_code == 200 and r.json()["cancelled"] is False, r.text
    # A forwarded-looking request from a caller is never forwarded: 404 at B.
    r = cont(b, first["continuation_token"], [ok_result(first["tool_calls"][0], 1)],
             headers={"x-api-key": TEST_KEY, "X-Kcr-Forwarded": "1"})
    assert r.status_code == 404, r.text
    r = cont(b, first["continuation_token"], [ok_result(first["tool_calls"][0], 1)])
    assert answer(r, "completed")["stdout"] == "owner\n"


def test_cancel_a_paused_run_through_the_other_replica(pair, redis):
    a, b = pair
    rid = str(uuid.uuid4())
    first = paused(start(a, 'await t()\nprint("never")', headers=a.headers(**{RID: rid})), 1)
    r = cancel(b, rid)
    assert r.status_code == 200 and r.json()["cancelled"] is True, r.text
    for s in (a, b):
        r = cont(s, first["continuation_token"], [ok_result(first["tool_calls"][0], 1)])
        assert r.status_code == 404, r.text
    assert cancel(b, rid).json()["cancelled"] is False
    assert redis.command("EXISTS", token_record("ptcx:", first["continuation_token"])) == 0


def test_cancel_a_request_in_flight_through_the_other_replica(pair):
    """A program in `while True` on A under a request id; a cancel through B
    (repeated until it finds the run) ends it: A's request answers
    "Execution cancelled"."""
    a, b = pair
    rid = str(uuid.uuid4())
    th, box = in_thread(lambda: start(a, "while True:\n    pass\nawait t()",
                                      headers=a.headers(**{RID: rid}), http=requests))
    wait_for(lambda: cancel(b, rid).json()["cancelled"], 30, interval=0.2,
             what="a cancel through B that finds the run on A")
    th.join(30)
    assert not th.is_alive() and "e" not in box, box
    assert answer(box["r"], "error")["error"] == "Execution cancelled"


def test_holder_killed_while_paused(redis):
    """kill -9 of A while its run is paused: a continuation through B
    answers 404 within a few seconds (the run died with A) and the record
    is deleted."""
    a = replica(redis, "ptck:", "ptck-a")
    b = replica(redis, "ptck:", "ptck-b")
    try:
        first = paused(start(a, 'await t()\nprint("lost")'), 1)
        key = token_record("ptck:", first["continuation_token"])
        assert redis.command("EXISTS", key) == 1
        a.kill9()
        t0 = time.monotonic()
        r = cont(b, first["continuation_token"], [ok_result(first["tool_calls"][0], 1)])
        assert r.status_code == 404, r.text
        assert time.monotonic() - t0 < 10
        assert redis.command("EXISTS", key) == 0
        # And again: 404 at once, from no record.
        r = cont(b, first["continuation_token"], [ok_result(first["tool_calls"][0], 1)])
        assert r.status_code == 404, r.text
    finally:
        stop_and_remove(a)
        stop_and_remove(b)


def test_without_replica_url_nothing_changes(redis):
    """No KCR_REPLICA_URL: no record is written, and a continuation on the
    other replica is 404, as before (the run stays paused on A)."""
    a = replica(redis, "ptcn:", "ptcn-a", replica_url=False)
    b = replica(redis, "ptcn:", "ptcn-b", replica_url=False)
    try:
        first = paused(start(a, 'await t()\nprint("on A")'), 1)
        assert records(redis, "ptcn:") == []
        results = [ok_result(first["tool_calls"][0], 1)]
        assert cont(b, first["continuation_token"], results).status_code == 404
        r = cont(a, first["continuation_token"], results)
        assert answer(r, "completed")["stdout"] == "on A\n"
    finally:
        stop_and_remove(a)
        stop_and_remove(b)


@pytest.mark.parametrize("url", ["10.0.0.5:8000", "ftp://10.0.0.5", "http://10.0.0.5/path",
                                 "http://user:pw@10.0.0.5", "http://10.0.0.5:99999"])
def test_bad_replica_url_stops_the_start(url):
    code, _, err = run_server_once({"KCR_REPLICA_URL": url})
    assert code != 0 and "KCR_REPLICA_URL" in err, err


@pytest.mark.parametrize("ip", ["kcr-0", "10.0.0.5:8000", "[fd00::5]", "10.0.0.256"])
def test_bad_replica_ip_stops_the_start(ip):
    code, _, err = run_server_once({"KCR_REPLICA_IP": ip})
    assert code != 0 and "KCR_REPLICA_IP" in err, err


# ------------------------------------------------ LibreChat's own client

class RoundRobin:
    """An HTTP proxy on a loopback port that sends each request to the next
    replica in turn (as a load balancer without affinity may)."""

    def __init__(self, backends):
        self.backends, self.n, self.seen = backends, 0, []
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                with lock:
                    target = outer.backends[outer.n % len(outer.backends)]
                    outer.n += 1
                    outer.seen.append((target, self.path))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                h = {k: v for k, v in self.headers.items()
                     if k.lower() not in ("host", "content-length", "connection")}
                r = requests.request(self.command, target + self.path, data=body, headers=h,
                                     timeout=120)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding",
                                         "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_DELETE = _any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.timeout(1800)
def test_librechat_client_through_a_round_robin_proxy(pair, client_dir):  # noqa: F811
    a, b = pair
    rr = RoundRobin([a.url, b.url])
    try:
        code, out = node(client_dir, "run-ptc.mjs", {
            "PTC_SCENARIO": "loop", "CODE_API_BASEURL": rr.url + "/v1", "CODE_API_KEY": a.key})
    finally:
        rr.close()
    assert code == 0, out
    assert out["content"].startswith("stdout:\nn = 5"), out
    assert [c["input"] for c in out["calls"] if c["name"] == "add_one"] == \
        [{"n": i} for i in range(5)]
    # Both replicas answered continuations of the one run.
    programmatic = [t for t, p in rr.seen if p.endswith("/exec/programmatic")]
    assert len(programmatic) == 6 and {a.url, b.url} <= set(programmatic), rr.seen

