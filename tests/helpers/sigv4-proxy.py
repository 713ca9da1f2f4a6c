#!/usr/bin/python3
"""sigv4-proxy.py — a strict AWS Signature Version 4 verifier in front of
s3rver, for tests only.

s3rver 3.7.1 checks the access key but never the SigV4 signature, so a test
against it alone proves nothing about kcr's signing: a real AWS S3 or MinIO
could still refuse every request. This reverse proxy listens on a loopback
port and, for every request, does what S3 does before it answers:

  * parses `Authorization: AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/s3/
    aws4_request, SignedHeaders=..., Signature=...` (no other scheme, no
    presigned query, no anonymous request);
  * requires `x-amz-date` (within 15 minutes of now, its day the credential
    scope's), the access key and region it was started with, and `host`,
    `x-amz-date` and `x-amz-content-sha256` among the signed headers, plus
    every x-amz-* header the request carries;
  * rebuilds the canonical request as S3 does: the method; the path decoded
    and URI-encoded once again (S3 does not double-encode; '/' kept, every
    byte outside A-Za-z0-9-._~ as %XX, upper-case hex), so a path signed in
    any other spelling fails; the query parameters decoded, re-encoded, sorted
    by name then value, each as name=value; the signed headers lower-cased,
    values trimmed and inner spaces folded, repeats joined with ','; the
    signed-headers list; the payload hash from x-amz-content-sha256;
  * signs "AWS4-HMAC-SHA256\\n<x-amz-date>\\n<scope>\\n<sha256(canonical)>"
    with the key chain HMAC("AWS4"+secret, date, region, "s3", "aws4_request")
    and compares with the request's signature;
  * reads the body (Content-Length or chunked, spooled to disk past 8 MiB)
    and requires x-amz-content-sha256 to be its real sha256: UNSIGNED-PAYLOAD
    and the STREAMING-* forms are refused too, since kcr must send real hashes.

A failure answers like S3: 403 SignatureDoesNotMatch / AccessDenied /
InvalidAccessKeyId / RequestTimeTooSkewed, or 400 XAmzContentSHA256Mismatch
(the status AWS uses for it), with an S3 <Error> XML body (none for HEAD),
and logs why (with the canonical request) on stderr. A request that passes is
forwarded unchanged (hop-by-hop headers aside) to the upstream s3rver and
its answer relayed, streamed; each such request logs one "ok" line.

The secret is read from --secret-file on every request, so a test can rotate
it while kcr runs. Started by tests/helpers/s3rver.sh; the verifier itself is
checked against AWS's published example signatures in
tests/e2e/test_sigv4_proxy.py.

    sigv4-proxy.py --port P --upstream-port U --access-key K --secret-file F
                   [--region us-east-1]
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import http.server
import re
import socketserver
import sys
import tempfile
import threading
import urllib.parse

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = datetime.timedelta(minutes=15)
MAX_BODY = 1 << 30
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
              "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding",
              "upgrade", "expect"}
UNRESERVED = "-_.~"  # with A-Za-z0-9: RFC 3986 unreserved, as AWS's UriEncode


class Reject(Exception):
    def __init__(self, status, code, message, detail=""):
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


def uri_encode(s, keep_slash):
    """AWS's UriEncode of a str (its UTF-8 bytes): unreserved bytes as is,
    '/' kept in paths, the rest %XX with upper-case hex."""
    return urllib.parse.quote(s, safe=UNRESERVED + ("/" if keep_slash else ""))


def canonical_uri(raw_path):
    # S3 decodes the path and encodes it once: no double encoding.
    return uri_encode(urllib.parse.unquote(raw_path, errors="strict"), True) or "/"


def canonical_query(raw_query):
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        name, _, value = part.partition("=")
        # '+' in a query is a space to S3 (and MinIO): it decodes it so.
        name = urllib.parse.unquote_plus(name, errors="strict")
        value = urllib.parse.unquote_plus(value, errors="strict")
        pairs.append((uri_encode(name, False), uri_encode(value, False)))
    pairs.sort()
    return "&".join(f"{n}={v}" for n, v in pairs)


def canonical_headers(headers, signed):
    """headers: [(name, value)] as received; signed: lower-case names."""
    lines = []
    for name in signed:
        values = [v for n, v in headers if n.lower() == name]
        if not values:
            raise Reject(403, "AccessDenied", f"signed header '{name}' is not in the request")
        folded = [re.sub(r"\s+", " ", v.strip()) for v in values]
        lines.append(f"{name}:{','.join(folded)}\n")
    return "".join(lines)


def canonical_request(method, raw_target, headers, signed, payload_hash):
    path, _, query = raw_target.partition("?")
    return "\n".join([method, canonical_uri(path), canonical_query(query),
                      canonical_headers(headers, signed), ";".join(signed), payload_hash])


def signing_key(secret, date, region, service="s3"):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def signature(secret, amz_date, scope, creq):
    date, region, service, _ = scope.split("/")
    sts = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    return hmac.new(signing_key(secret, date, region, service), sts.encode(),
                    hashlib.sha256).hexdigest(), sts


def parse_authorization(value):
    if not value:
        raise Reject(403, "AccessDenied", "no Authorization header (anonymous request)")
    algo, _, rest = value.strip().partition(" ")
    if algo != ALGORITHM:
        raise Reject(400, "InvalidArgument", f"unsupported authorization type '{algo}'")
    fields = {}
    for item in rest.split(","):
        k, eq, v = item.strip().partition("=")
        if not eq or k in fields:
            raise Reject(400, "AuthorizationHeaderMalformed", f"bad Authorization item '{item}'")
        fields[k] = v
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise Reject(400, "AuthorizationHeaderMalformed",
                     f"Authorization fields {sorted(fields)}")
    cred = fields["Credential"].split("/")
    if len(cred) != 5 or cred[3] != "s3" or cred[4] != "aws4_request":
        raise Reject(400, "AuthorizationHeaderMalformed",
                     f"bad Credential '{fields['Credential']}'")
    signed = fields["SignedHeaders"].split(";")
    if signed != sorted(signed) or any(not s or s != s.lower() for s in signed) or \
            len(set(signed)) != len(signed):
        raise Reject(403, "SignatureDoesNotMatch",
                     f"SignedHeaders '{fields['SignedHeaders']}' not sorted lower-case names")
    if not re.fullmatch(r"[0-9a-f]{64}", fields["Signature"]):
        raise Reject(403, "SignatureDoesNotMatch", "Signature is not 64 lower-case hex digits")
    return cred[0], "/".join(cred[1:]), signed, fields["Signature"]


def verify(method, raw_target, headers, access_key, secret, region, now=None):
    """Checks everything but the body's hash against the payload. Returns the
    declared payload hash; raises Reject."""
    get = lambda n: [v for k, v in headers if k.lower() == n]  # noqa: E731
    auth = get("authorization")
    if len(auth) > 1:
        raise Reject(400, "InvalidArgument", "several Authorization headers")
    if "X-Amz-Signature" in raw_target or "X-Amz-Credential" in raw_target:
        raise Reject(403, "AccessDenied", "presigned (query) authentication is not expected")
    key, scope, signed, sig = parse_authorization(auth[0] if auth else "")
    if key != access_key:
        raise Reject(403, "InvalidAccessKeyId", f"unknown access key '{key}'")
    for need in ("host", "x-amz-date", "x-amz-content-sha256"):
        if need not in signed:
            raise Reject(403, "AccessDenied", f"'{need}' is not a signed header")
    unsigned = sorted({k.lower() for k, _ in headers
                       if k.lower().startswith("x-amz-") and k.lower() not in signed})
    if unsigned:
        raise Reject(403, "AccessDenied",
                     f"headers present but not signed: {', '.join(unsigned)}")
    amz_date = get("x-amz-date")[0].strip()
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise Reject(403, "AccessDenied", f"bad x-amz-date '{amz_date}'") from None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if abs(now - when) > MAX_SKEW:
        raise Reject(403, "RequestTimeTooSkewed", f"x-amz-date {amz_date} is off by "
                     f"{abs(now - when)}")
    sdate, sregion = scope.split("/")[:2]
    if sdate != amz_date[:8]:
        raise Reject(403, "SignatureDoesNotMatch",
                     f"credential date {sdate} is not x-amz-date's day {amz_date[:8]}")
    if region and sregion != region:
        raise Reject(400, "AuthorizationHeaderMalformed",
                     f"region '{sregion}' is wrong; expecting '{region}'")
    payload = get("x-amz-content-sha256")
    if len(payload) != 1:
        raise Reject(400, "InvalidArgument", "one x-amz-content-sha256 header is needed")
    payload = payload[0].strip()
    if not re.fullmatch(r"[0-9a-f]{64}", payload):
        # UNSIGNED-PAYLOAD, STREAMING-...: valid for S3, but kcr must hash.
        raise Reject(400, "XAmzContentSHA256Mismatch",
                     f"x-amz-content-sha256 '{payload}' is not a sha256 of the body")
    try:
        creq = canonical_request(method, raw_target, headers, signed, payload)
    except UnicodeDecodeError:
        raise Reject(400, "InvalidURI", "the path or query is not UTF-8 once decoded") from None
    want, sts = signature(secret, amz_date, scope, creq)
    if not hmac.compare_digest(want, sig):
        raise Reject(403, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the signature "
                     "you provided. Check your key and signing method.",
                     f"canonical request:\n{creq}\nstring to sign:\n{sts}\n"
                     f"want {want}, got {sig}")
    return payload


def error_xml(code, message, resource):
    esc = lambda s: (s.replace("&", "&amp;").replace("<", "&lt;")  # noqa: E731
                     .replace(">", "&gt;"))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message><Resource>%s</Resource><RequestId>sigv4-proxy</RequestId>'
            '</Error>' % (esc(code), esc(message), esc(resource))).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sigv4-proxy"

    def log_message(self, fmt, *args):  # the default one logs every request
        pass

    def log(self, msg):
        with self.server.log_lock:
            sys.stderr.write(f"{datetime.datetime.now().isoformat()} {msg}\n")
            sys.stderr.flush()

    def read_body(self):
        """The body, spooled (bounded memory), and its sha256."""
        h = hashlib.sha256()
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te and te != "identity":
            if te != "chunked":
                raise Reject(501, "NotImplemented", f"Transfer-Encoding {te}")
            total = 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise Reject(400, "EntityTooLarge", "body too large")
                self.copy(size, spool, h)
                self.rfile.readline(16)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_BODY:
                raise Reject(400, "EntityTooLarge", "body too large")
            self.copy(n, spool, h)
        spool.seek(0)
        return spool, h.hexdigest()

    def copy(self, n, out, h):
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 16))
            if not chunk:
                raise ConnectionError("client closed the body early")
            h.update(chunk)
            out.write(chunk)
            n -= len(chunk)

    def reject(self, e):
        self.log(f"REJECT {self.command} {self.path}: {e.status} {e.code}: {e.message}"
                 + (f"\n{e.detail}" if e.detail else ""))
        body = b"" if self.command == "HEAD" else error_xml(e.code, e.message, self.path)
        self.send_response(e.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def upstream(self):
        c = getattr(self, "_upstream", None)
        if c is None:
            c = self._upstream = http.client.HTTPConnection(
                "127.0.0.1", self.server.upstream_port, timeout=self.server.upstream_timeout)
        return c

    def forward(self, spool, length):
        """Sends the request upstream; once more on a new connection when a
        kept-alive one turns out closed by the upstream."""
        reused = getattr(self, "_upstream", None) is not None
        try:
            return self.forward_once(spool, length)
        except (ConnectionError, http.client.RemoteDisconnected):
            if not reused:
                raise
            spool.seek(0)
            return self.forward_once(spool, length)

    def forward_once(self, spool, length):
        c = self.upstream()
        try:
            c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    c.putheader(k, v)
            if length or self.command in ("PUT", "POST"):
                c.putheader("Content-Length", str(length))
            c.endheaders()
            while True:
                chunk = spool.read(1 << 16)
                if not chunk:
                    break
                c.send(chunk)
            return c.getresponse()
        except Exception:
            c.close()
            self._upstream = None
            raise

    def relay(self, resp):
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader("Content-Length")
        bodyless = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        chunked = not bodyless and length is None
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if bodyless:
            resp.read()  # done with it: the connection takes the next request
        while not bodyless:
            chunk = resp.read(1 << 16)
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            elif chunk:
                self.wfile.write(chunk)
            if not chunk:
                break
        if resp.will_close:
            self._upstream.close()
            self._upstream = None

    def handle_one(self):
        srv = self.server
        headers = list(self.headers.items())
        try:
            with open(srv.secret_file) as f:
                secret = f.read().strip()
            payload = verify(self.command, self.path, headers, srv.access_key, secret,
                             srv.region)
        except Reject as e:
            # The body is read (and dropped) so that the connection stays usable.
            try:
                self.read_body()[0].close()
            except Exception:
                self.close_connection = True
            return self.reject(e)
        try:
            spool, got = self.read_body()
        except Reject as e:
            self.close_connection = True
            return self.reject(e)
        with spool:
            if got != payload:
                return self.reject(Reject(
                    400, "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was "
                    "computed.", f"declared {payload}, body {got}"))
            length = spool.seek(0, 2)
            spool.seek(0)
            try:
                resp = self.forward(spool, length)
            except (OSError, http.client.HTTPException) as e:
                self.log(f"UPSTREAM {self.command} {self.path}: {e!r}")
                self.close_connection = True
                return self.reject(Reject(503, "ServiceUnavailable", "upstream failed"))
        with srv.log_lock:
            srv.verified += 1
        self.log(f"ok {self.command} {self.path} -> {resp.status}")
        self.relay(resp)

    def do_any(self):
        try:
            self.handle_one()
        except (ConnectionError, TimeoutError, ValueError) as e:
            self.log(f"DROP {self.command} {self.path}: {e!r}")
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_any

    def finish(self):
        c = getattr(self, "_upstream", None)
        if c:
            c.close()
        super().finish()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream-port", type=int, required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--upstream-timeout", type=float, default=300)
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.upstream_port, srv.access_key, srv.secret_file = a.upstream_port, a.access_key, \
        a.secret_file
    srv.region, srv.upstream_timeout = a.region, a.upstream_timeout
    srv.log_lock, srv.verified = threading.Lock(), 0
    sys.stderr.write(f"sigv4-proxy on 127.0.0.1:{a.port} -> 127.0.0.1:{a.upstream_port}\n")
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
