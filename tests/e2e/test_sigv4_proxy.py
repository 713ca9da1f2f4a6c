"""The SigV4 verifier of tests/helpers/sigv4-proxy.py, itself checked: it
accepts AWS's published S3 example signatures (AWS S3 API reference,
"Signature Calculations for the Authorization Header", examples with
AKIAIOSFODNN7EXAMPLE), refuses each of them altered, and, as a live proxy in
front of a stub upstream, forwards what curl --aws-sigv4 signs and refuses a
wrong secret or a body that is not the one hashed. Needs no node."""
import datetime
import hashlib
import http.server
import importlib.util
import os
import subprocess
import sys
import threading
import time

import pytest
import requests

from conftest import ROOT, free_port

PROXY = os.path.join(ROOT, "tests", "helpers", "sigv4-proxy.py")
spec = importlib.util.spec_from_file_location("sigv4_proxy", PROXY)
sp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sp)

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NOW = datetime.datetime(2013, 5, 24, 0, 5, tzinfo=datetime.timezone.utc)
EMPTY = hashlib.sha256(b"").hexdigest()
HOST = ("Host", "examplebucket.s3.amazonaws.com")
DATE = ("x-amz-date", "20130524T000000Z")


def auth(signed, sig):
    return ("Authorization", f"AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/"
            f"aws4_request,SignedHeaders={signed},Signature={sig}")


# (method, target, headers, body) of AWS's four S3 header-signing examples.
EXAMPLES = {
    "get-object": ("GET", "/test.txt", [
        HOST, ("Range", "bytes=0-9"), ("x-amz-content-sha256", EMPTY), DATE,
        auth("host;range;x-amz-content-sha256;x-amz-date",
             "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")], b""),
    "put-object": ("PUT", "/test%24file.text", [
        HOST, ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-content-sha256",
         "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
        auth("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
             "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")],
        b"Welcome to Amazon S3."),
    "get-lifecycle": ("GET", "/?lifecycle", [
        HOST, DATE, ("x-amz-content-sha256", EMPTY),
        auth("host;x-amz-content-sha256;x-amz-date",
             "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")], b""),
    "list-objects": ("GET", "/?max-keys=2&prefix=J", [
        HOST, DATE, ("x-amz-content-sha256", EMPTY),
        auth("host;x-amz-content-sha256;x-amz-date",
             "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")], b""),
}


def check(method, target, headers, secret=SK, now=NOW, region="us-east-1"):
    return sp.verify(method, target, headers, AK, secret, region, now=now)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_aws_published_examples_verify(name):
    method, target, headers, body = EXAMPLES[name]
    assert check(method, target, headers) == hashlib.sha256(body).hexdigest()


def test_same_request_spelled_differently_still_verifies():
    # S3 decodes the path and the query before encoding them canonically.
    _, _, headers, _ = EXAMPLES["put-object"]
    check("PUT", "/test$file.text", headers)
    _, _, headers, _ = EXAMPLES["list-objects"]
    check("GET", "/?prefix=J&max-keys=2", headers)
    check("GET", "/?prefix=%4A&max-keys=2", headers)


def swap(headers, name, value):
    return [(k, value if k.lower() == name else v) for k, v in headers]


@pytest.mark.parametrize("case, code", [
    ("wrong secret", "SignatureDoesNotMatch"),
    ("other method", "SignatureDoesNotMatch"),
    ("other key", "SignatureDoesNotMatch"),
    ("other query value", "SignatureDoesNotMatch"),
    ("plus for space in the query", "SignatureDoesNotMatch"),
    ("double-encoded path", "SignatureDoesNotMatch"),
    ("signed header changed", "SignatureDoesNotMatch"),
    ("signature flipped", "SignatureDoesNotMatch"),
    ("date skewed", "RequestTimeTooSkewed"),
    ("other access key", "InvalidAccessKeyId"),
    ("other region", "AuthorizationHeaderMalformed"),
    ("no authorization", "AccessDenied"),
    ("unsigned payload", "XAmzContentSHA256Mismatch"),
    ("unsigned x-amz header", "AccessDenied"),
    ("payload hash not signed", "AccessDenied"),
])
def test_altered_examples_are_refused(case, code):
    method, target, headers, _ = EXAMPLES["get-object"]
    kw = {}
    if case == "wrong secret":
        kw["secret"] = SK + "x"
    elif case == "other method":
        method = "HEAD"
    elif case == "other key":
        target = "/test.txT"
    elif case == "other query value":
        method, target, headers, _ = EXAMPLES["list-objects"]
        target = "/?max-keys=3&prefix=J"
    elif case == "plus for space in the query":
        method, target, headers, _ = EXAMPLES["list-objects"]
        target = "/?max-keys=2&prefix=J+"
    elif case == "double-encoded path":
        method, target, headers, _ = EXAMPLES["put-object"]
        target = "/test%2524file.text"
    elif case == "signed header changed":
        headers = swap(headers, "range", "bytes=0-10")
    elif case == "signature flipped":
        a = dict(headers)["Authorization"]
        headers = swap(headers, "authorization", a[:-1] + ("0" if a[-1] != "0" else "1"))
    elif case == "date skewed":
        kw["now"] = NOW + datetime.timedelta(minutes=16)
    elif case == "other access key":
        headers = swap(headers, "authorization",
                       dict(headers)["Authorization"].replace(AK, "AKIAOTHER"))
    elif case == "other region":
        kw["region"] = "eu-west-1"
    elif case == "no authorization":
        headers = [h for h in headers if h[0] != "Authorization"]
    elif case == "unsigned payload":
        headers = swap(headers, "x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    elif case == "unsigned x-amz header":
        headers = headers + [("x-amz-meta-extra", "1")]
    elif case == "payload hash not signed":
        headers = swap(headers, "authorization", auth(
            "host;range;x-amz-date",
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")[1])
    with pytest.raises(sp.Reject) as e:
        check(method, target, headers, **kw)
    assert e.value.code == code, e.value.message


class Stub(http.server.BaseHTTPRequestHandler):
    """The upstream: answers 200 with what it got."""
    protocol_version = "HTTP/1.1"
    got = []

    def log_message(self, *a):
        pass

    def do_PUT(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        Stub.got.append((self.path, body))
        out = b"<ok/>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.send_header("ETag", '"stub"')
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_PUT


@pytest.fixture
def live(tmp_path):
    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    secret = tmp_path / "secret"
    secret.write_text("S3CRET\n")
    port = free_port()
    log = open(tmp_path / "proxy.log", "w+")
    p = subprocess.Popen([sys.executable, PROXY, "--port", str(port), "--upstream-port",
                          str(up.server_address[1]), "--access-key", "AK",
                          "--secret-file", str(secret)], stderr=log)
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    Stub.got = []
    yield port, log
    p.terminate()
    p.wait(10)
    up.shutdown()
    log.close()


def curl(port, path, body, secret="S3CRET", sha=None):
    f = f"/tmp/sigv4-body-{os.getpid()}"
    with open(f, "wb") as out:
        out.write(body)
    sha = sha or hashlib.sha256(body).hexdigest()
    try:
        p = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-T", f,
                            "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"AK:{secret}",
                            "-H", f"x-amz-content-sha256: {sha}",
                            f"http://127.0.0.1:{port}{path}"],
                           capture_output=True, timeout=30)
    finally:
        os.unlink(f)
    out, _, code = p.stdout.rpartition(b"\n")
    return int(code), out


def test_live_proxy_forwards_signed_and_refuses_the_rest(live):
    port, log = live
    body = os.urandom(3 << 20)  # curl sends Expect: 100-continue
    code, out = curl(port, "/b/a%20b%2Bc%3D%C3%A9?partNumber=1&uploadId=x%2By", body)
    assert code == 200 and out == b"<ok/>", out
    assert Stub.got == [("/b/a%20b%2Bc%3D%C3%A9?partNumber=1&uploadId=x%2By", body)]
    code, out = curl(port, "/b/k", b"data", secret="WRONG")
    assert code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in out
    code, out = curl(port, "/b/k", b"data", sha=hashlib.sha256(b"other").hexdigest())
    assert code == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in out
    code, out = curl(port, "/b/k", b"data", sha="UNSIGNED-PAYLOAD")
    assert code == 400 and b"XAmzContentSHA256Mismatch" in out
    assert len(Stub.got) == 1
    log.seek(0)
    text = log.read()
    assert text.count("REJECT PUT") == 3 and "canonical request:" in text, text
