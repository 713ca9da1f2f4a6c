"""Slow clients and foreign callers (issue 13, items 1 and 9).

kcr serve: a request's headers must be in within HTTP_HEADER_TIMEOUT_SECONDS of
the connection's start and its body within HTTP_BODY_TIMEOUT_SECONDS of its
headers, however steadily the bytes trickle (libmicrohttpd's own timeout only
catches idleness); a handler that takes long is not cut. A local sidecar's
socket answers only root and the API's group, not the other sidecars, which
share its uid."""
import socket
import subprocess
import sys
import time

import pytest

from api_util import needs_pods, start_server


def trickle(port, first, then, every=0.3, limit=20.0):
    """Sends first, then `then` one byte every `every` s; returns the seconds
    until the server closed the connection (None: still open at limit)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    t0 = time.monotonic()
    try:
        s.sendall(first)
        i = 0
        while time.monotonic() - t0 < limit:
            try:
                s.sendall(then[i % len(then):i % len(then) + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - t0
            i += 1
            s.settimeout(every)
            try:
                if s.recv(4096) == b"":
                    return time.monotonic() - t0
            except socket.timeout:
                pass
            except ConnectionResetError:
                return time.monotonic() - t0
        return None
    finally:
        s.close()


@pytest.fixture(scope="module")
def server():
    s = start_server({"HTTP_HEADER_TIMEOUT_SECONDS": "2", "HTTP_BODY_TIMEOUT_SECONDS": "3",
                      "MAX_EXECUTION_TIME": "10"})
    yield s
    s.cleanup()


def test_headers_that_trickle_are_cut(server):
    took = trickle(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n")
    assert took is not None and 1.5 <= took <= 6, took
    # The server still answers everyone else.
    assert server.get("/health").status_code == 200


def test_body_that_trickles_is_cut(server):
    head = (b"POST /exec HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"x-api-key: " + server.key.encode() + b"\r\nContent-Length: 100000\r\n\r\n")
    took = trickle(server.port, head, b'{"code": "print(1)"         ')
    assert took is not None and 2.5 <= took <= 8, took
    assert server.get("/health").status_code == 200


@needs_pods
def test_a_long_handler_is_not_cut(server):
    r = server.exec("import time; time.sleep(4); print('late')")
    assert r.status_code == 200 and r.json()["stdout"] == "late\n", r.text


def test_keep_alive_gets_the_idle_timeout_not_the_header_one(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        s.sendall(req)
        assert b"200" in s.recv(4096).split(b"\r\n")[0]
        time.sleep(3)  # past the 2 s header deadline, well within the idle one
        s.sendall(req)
        assert b"200" in s.recv(4096).split(b"\r\n")[0]
    finally:
        s.close()


PEER = r"""
import http.client, os, socket, sys
os.setgroups([]); os.setgid(65532); os.setuid(65532)
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sys.argv[1])
c = C("localhost", timeout=10)
c.request("GET", "/files")  # no body: a 403 from the headers may close at once
print(c.getresponse().status)
"""


@pytest.mark.needs_root
def test_sidecar_refuses_other_sidecars_uid():
    from pod_util import LocalPod
    with LocalPod(lang="bash") as pod:
        other = subprocess.run([sys.executable, "-c", PEER, pod.socket], capture_output=True,
                               text=True, timeout=30)
        assert other.returncode == 0, other.stderr
        assert other.stdout.strip() == "403", other.stdout
        # Root (the API's side here) is still served.
        r = pod.execute("echo ok", lang="bash")
        assert r["stdout"] == "ok\n", r
