"""Multipart bodies whose boundary is one character (RFC 2046 allows 1 to 70;
libmicrohttpd's post processor refused fewer than 2, src/http/http-multipart.c
replaced it): kcr serve's POST /upload and a local pod sidecar's POST /files
accept them and store the exact bytes, also when the data holds CRLF and
dashes that only look like the start of a delimiter."""
import os

import pytest

from api_util import needs_pods, server  # noqa: F401
from pod_util import LocalPod

# Everything that starts like the delimiter "\r\n--a" but is not one.
TRICKY = b"\r\n-\r\n--\r\n--b\r\n-a\r\n\r\n--\r\r\n--\n--a--a\r\n-"


def payload(n):
    """n random bytes that cannot hold the delimiter (plus the lookalikes)."""
    return TRICKY + os.urandom(n).replace(b"\r\n--a", b"\r\n--b") + TRICKY


def body(field, filename, data, boundary=b"a"):
    b = boundary
    return (b"preamble\r\n--" + b + b"\r\n"
            b'Content-Disposition: form-data; name="' + field + b'"; filename="' + filename +
            b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data +
            b"\r\n--" + b + b"--\r\n")


def test_serve_upload_one_char_boundary(server):
    data = payload(70_000)
    r = server.post("/upload", data=body(b"file", b"one.bin", data),
                    headers=server.headers(**{"Content-Type": "multipart/form-data; boundary=a"}))
    assert r.status_code == 200, r.text
    up = r.json()
    assert up["files"][0]["filename"] == "one.bin"
    d = server.get(f"/download/{up['session_id']}/{up['files'][0]['fileId']}")
    assert d.status_code == 200 and d.content == data


def test_serve_upload_one_char_boundary_chunked(server):
    """Transfer-Encoding: chunked in 3-byte pieces: the delimiter and its
    lookalikes are split across reads."""
    data = TRICKY * 50
    raw = body(b"files", b"tricky.txt", data)
    r = server.post("/upload", data=(raw[i:i + 3] for i in range(0, len(raw), 3)),
                    headers=server.headers(**{"Content-Type": 'multipart/form-data; boundary="a"'}))
    assert r.status_code == 200, r.text
    up = r.json()
    d = server.get(f"/download/{up['session_id']}/{up['files'][0]['fileId']}")
    assert d.content == data


def test_serve_refuses_bad_boundaries_and_bodies(server):
    ct = "multipart/form-data; boundary="
    r = server.post("/upload", data=body(b"file", b"x", b"x", b"b" * 71),
                    headers=server.headers(**{"Content-Type": ct + "b" * 71}))
    assert r.status_code == 400 and "expected a multipart/form-data body" in r.text, r.text
    # No close delimiter: the body ended early.
    truncated = body(b"file", b"x", b"x")[:-5]
    r = server.post("/upload", data=truncated, headers=server.headers(**{"Content-Type": ct + "a"}))
    assert r.status_code == 400 and "malformed multipart/form-data body" in r.text, r.text


@pytest.mark.needs_root
@needs_pods
def test_sidecar_upload_one_char_boundary(build_dir):
    data = payload(20_000)
    with LocalPod("py", build_dir=build_dir) as pod:
        status, resp = pod.request("POST", "/files", body(b"files", b"one.bin", data),
                                   {"Content-Type": "multipart/form-data; boundary=a"})
        assert status // 100 == 2, (status, resp[:300])
        assert pod.get_file("one.bin") == data
