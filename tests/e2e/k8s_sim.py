#!/usr/bin/python3
"""k8s_sim — a SIMULATION of the Kubernetes API server, for tests only.

This is not Kubernetes. No real API server can run on the test machine
(docs/kubernetes.md), so this program implements the subset of the core/v1
pods API that kcr's kubernetes backend uses, with the semantics kcr relies on:

  - pods create / get / list with label selectors (k=v, k!=v, k, !k) / delete;
  - resourceVersion as the API server keeps it: every write (create, patch,
    update, status change, delete) gives the object a new, larger version;
    PATCH (JSON merge patch, or JSON patch with `test` ops) and PUT carrying
    metadata.resourceVersion apply only to that version, else 409 Conflict
    with a Status body; a PUT without one is unconditional (pods allow it); a
    failed JSON-patch `test` answers 422 like the API server; a DELETE whose
    DeleteOptions carry preconditions (resourceVersion, uid) that no longer
    hold answers 409;
  - strict validation of every object written (the create body, the object a
    PATCH or PUT produces) against the Kubernetes OpenAPI schema
    (tests/k8s-schema: npm kubernetes-models, pinned): types, enums, required
    fields and unknown fields, as `fieldValidation=Strict` does, whatever the
    request asks: 422 Invalid with a Status naming each field
    (details.causes). A pod's spec cannot change after creation (422);
  - watch=1 as streamed JSON lines (chunked), resumed from resourceVersion;
    a version older than the event history answers an ERROR event with code
    410 (Gone), like the real watch cache;
  - status.phase, status.podIP and the Ready condition.

Each created pod is realised as a REAL local pod: the simulator runs
`kcr pod run --lang <code>` (namespaces + kcr-sidecar on a unix socket; the pod
is destroyed when its stdin closes) and exposes the sidecar on a unique
loopback address (127.0.0.N:<sidecar port>) through a small TCP-to-unix-socket
proxy. That address is the pod IP. The pod turns Ready once its sidecar
answers GET /ready.

`--fake-pods` replaces the real pods with a trivial HTTP responder; it exists
only to develop the client while the local backend was not there and is never
used by the tests.

Test controls (not Kubernetes API): GET /_sim/stats (claims, acquisitions,
creates, deletes, rejected objects, /execute calls per pod, live pods),
POST /_sim/validate (validates the object in the body, no side effect),
POST /_sim/hold?pod=NAME&ms=N (the next guarded write to that pod waits N ms
before its precondition is checked, for races made on purpose), POST /_sim/restart?down_ms=N (the API server goes away: listener
and every connection closed, the watch history dropped and the global
resourceVersion moved on as other objects' writes would, then it listens
again on the same port; pods keep running as they would on the nodes),
POST /_sim/fail?status=S&count=N&method=M (the next N requests of method M
answer S, with Retry-After: 1 for 429).

Usage: k8s_sim.py --port P --kcr build/kcr --schema-dir tests/k8s-schema [--token T]
       [--sidecar-port 8080]
Prints "READY <port>" on stdout once it listens.
"""
import argparse
import collections
import copy
import http.server
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

HISTORY = 2000  # watch events kept; older resourceVersions get 410


def log(msg):
    sys.stderr.write("k8s_sim: %s\n" % msg)
    sys.stderr.flush()


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def status_obj(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reason, "message": message}


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


class JsonPatchError(Exception):
    """An RFC 6902 patch that cannot be applied (a failed `test` among them)."""


def _pointer(doc, path):
    """(parent, key) of an RFC 6901 pointer in doc."""
    if path == "" or not path.startswith("/"):
        raise JsonPatchError("bad path %r" % path)
    toks = [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, list):
            cur = cur[int(t)]
        elif isinstance(cur, dict) and t in cur:
            cur = cur[t]
        else:
            raise JsonPatchError("path %s: %r does not exist" % (path, t))
    return cur, toks[-1]


def json_patch(doc, ops):
    """RFC 6902 on a copy of doc."""
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise ValueError("a JSON patch is an array of operations")
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        try:
            parent, key = _pointer(doc, path)
            if kind in ("test", "remove", "replace"):
                cur = parent[int(key)] if isinstance(parent, list) else parent[key]
            if kind == "test":
                if cur != op.get("value"):
                    raise JsonPatchError("testing value %s failed" % path)
            elif kind == "remove":
                del parent[int(key) if isinstance(parent, list) else key]
            elif kind in ("add", "replace"):
                if isinstance(parent, list):
                    if kind == "add":
                        parent.insert(len(parent) if key == "-" else int(key), op["value"])
                    else:
                        parent[int(key)] = op["value"]
                else:
                    parent[key] = copy.deepcopy(op["value"])
            else:
                raise JsonPatchError("unsupported op %r" % kind)
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise JsonPatchError("%s %s: %s" % (kind, path, e)) from None
    return doc


class Validator:
    """The strict schema validator: tests/k8s-schema/validate.mjs, one node
    process, fed one JSON line per object."""

    def __init__(self, schema_dir):
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(["node", os.path.join(schema_dir, "validate.mjs")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=schema_dir)
        if self.check({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
                       "spec": {"containers": [{"name": "c", "image": "i"}]}}):
            raise RuntimeError("the schema validator rejects a minimal pod")

    def check(self, obj):
        """[] when obj is valid, else the errors [{field, reason, message}]."""
        with self.lock:
            self.proc.stdin.write(json.dumps({"id": 0, "object": obj}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the schema validator died")
        r = json.loads(line)
        return [] if r.get("ok") else r["errors"]

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def invalid_status(kind, name, errors):
    """The API server's 422 for an object that fails validation."""
    causes = [{"reason": e["reason"], "message": e["message"], "field": e["field"]}
              for e in errors]
    return dict(status_obj(422, "Invalid", '%s "%s" is invalid: %s' % (
        kind, name, "; ".join(e["message"] for e in errors))),
        details={"name": name, "kind": kind, "causes": causes})


def parse_selector(sel):
    reqs = []
    for part in filter(None, (p.strip() for p in (sel or "").split(","))):
        if "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append(("ne", k.strip(), v.strip()))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append(("eq", k.strip(), v.strip()))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append(("eq", k.strip(), v.strip()))
        elif part.startswith("!"):
            reqs.append(("absent", part[1:].strip(), None))
        else:
            reqs.append(("exists", part, None))
    return reqs


def matches(pod, reqs):
    labels = pod.get("metadata", {}).get("labels") or {}
    for op, k, v in reqs:
        if op == "eq" and labels.get(k) != v:
            return False
        if op == "ne" and labels.get(k) == v:
            return False
        if op == "exists" and k not in labels:
            return False
        if op == "absent" and k in labels:
            return False
    return True


# --------------------------------------------------------------------------
# Pod realisation: a real local pod behind a loopback TCP proxy

class Proxy:
    """Accepts TCP on (ip, port) and pipes each connection to a unix socket."""

    def __init__(self, ip, port, unix_path, on_execute=None):
        self.unix_path = unix_path
        self.on_execute = on_execute
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(64)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            u.connect(self.unix_path)
        except OSError:
            c.close()
            u.close()
            return

        def pump(a, b, sniff=False):
            tail = b"\r\n"
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    if sniff and self.on_execute:
                        # Request lines of the client's stream (the test
                        # programs never print this text themselves).
                        n = (tail + d).count(b"\r\nPOST /execute ")
                        if tail == b"\r\n" and d.startswith(b"POST /execute "):
                            n = max(n, 1)
                        for _ in range(n):
                            self.on_execute()
                        tail = d[-16:]
                    b.sendall(d)
            except OSError:
                pass
            try:
                b.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        t = threading.Thread(target=pump, args=(u, c), daemon=True)
        t.start()
        pump(c, u, sniff=True)
        t.join(timeout=600)
        c.close()
        u.close()

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class FakeResponder(http.server.BaseHTTPRequestHandler):
    """--fake-pods only: answers /ready and /execute trivially (development aid)."""
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def _reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._reply({"status": "ready"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        self._reply({"exit_code": 0, "stdout": "fake\n", "stderr": "", "execution_time_ms": 1,
                     "timed_out": False, "oom_killed": False})


def unix_http_get(path, url, timeout=2.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % url)
                  .encode())
        data = b""
        while len(data) < 65536:
            d = s.recv(4096)
            if not d:
                break
            data += d
        line = data.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) >= 2 else 0
    except OSError:
        return 0
    finally:
        s.close()


class RealPod:
    """One created pod: `kcr pod run` (or the fake responder) plus its proxy."""

    def __init__(self, sim, name, lang, ip, spec):
        self.sim, self.name, self.lang, self.ip = sim, name, lang, ip
        self.spec = spec
        self.proc = None
        self.socket = self.working_dir_host = None
        self.proxy = None
        self.fake = None
        self.stopped = threading.Event()

    def start(self):
        port = self.sim.sidecar_port
        if self.sim.fake_pods:
            self.fake = socketserver.ThreadingTCPServer((self.ip, port), FakeResponder,
                                                        bind_and_activate=False)
            self.fake.allow_reuse_address = True
            self.fake.daemon_threads = True
            self.fake.server_bind()
            self.fake.server_activate()
            threading.Thread(target=self.fake.serve_forever, daemon=True).start()
            return True
        self.proc = subprocess.Popen([self.sim.kcr, "pod", "run", "--lang", self.lang],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.sim.pod_log, close_fds=True,
                                     env=self.local_env())
        line = self.proc.stdout.readline()
        try:
            info = json.loads(line)
        except ValueError:
            log("pod %s: kcr pod run printed %r" % (self.name, line[:200]))
            return False
        sock = info.get("socket") or info.get("unix_socket") or info.get("sidecar_socket")
        self.socket, self.working_dir_host = sock, info.get("working_dir_host")
        if not sock:
            log("pod %s: no socket in %r" % (self.name, info))
            return False
        deadline = time.time() + 30
        while time.time() < deadline and not self.stopped.is_set():
            if unix_http_get(sock, "/ready") == 200:
                break
            time.sleep(0.05)
        else:
            return False
        self.proxy = Proxy(self.ip, port, sock, on_execute=self.count_execute)
        return True

    def local_env(self):
        """The pod spec's limits, as the local pod's settings: what the
        kubelet would enforce from the manifest (sidecar env and resources,
        emptyDir sizes) is what `kcr pod run` enforces here."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MAX_", "LANG_", "POD_"))}
        side = next((c for c in self.spec.get("containers", []) if c.get("name") == "kcr-sidecar"),
                    {})
        senv = {e.get("name"): e.get("value") for e in side.get("env") or []}
        code = self.lang.upper()
        # The manifest carries limits already multiplied for the language.
        env["LANG_MEM_MULT_" + code] = "1"
        env["LANG_TIME_MULT_" + code] = "1"
        for k in ("MAX_MEMORY_MB", "MAX_EXECUTION_TIME", "MAX_OUTPUT_SIZE", "MAX_PIDS",
                  "RUNNER_PRELOAD"):
            if senv.get(k):
                env[k] = senv[k]
        # A Kubernetes pod has no fork-server: its runner preloads itself
        # (RUNNER_PRELOAD, from the manifest).
        env["FORKSERVER"] = "false"
        cpu = ((side.get("resources") or {}).get("limits") or {}).get("cpu")
        if cpu:
            env["MAX_CPUS"] = "%.3f" % (int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu))
        for v in self.spec.get("volumes") or []:
            size = (v.get("emptyDir") or {}).get("sizeLimit", "")
            if size.endswith("Mi") and v.get("name") in ("data", "tmp"):
                env["POD_DATA_MB" if v["name"] == "data" else "POD_TMP_MB"] = size[:-2]
        return env

    def count_execute(self):
        with self.sim.lock:
            ex = self.sim.stats["executes"]
            ex[self.name] = ex.get(self.name, 0) + 1

    def alive(self):
        return self.fake is not None or (self.proc is not None and self.proc.poll() is None)

    def stop(self):
        self.stopped.set()
        if self.proxy:
            self.proxy.close()
        if self.fake:
            self.fake.shutdown()
            self.fake.server_close()
        if self.proc:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------
# API state

class State:
    def __init__(self, args):
        self.lock = threading.Condition()
        self.rv = 1
        self.floor = 1  # events with rv > floor are in history
        self.history = collections.deque(maxlen=HISTORY)
        self.pods = {}  # (ns, name) -> object
        self.real = {}  # (ns, name) -> RealPod
        self.kcr = args.kcr
        self.fake_pods = args.fake_pods
        self.sidecar_port = args.sidecar_port
        self.token = args.token
        self.pod_log = open(args.pod_log, "ab") if args.pod_log else subprocess.DEVNULL
        # claims: warm -> claimed transitions; acquired: every pod handed to
        # a replica (claimed from the pool, or created already claimed);
        # executes: POST /execute calls that reached each pod's sidecar;
        # rejected: objects refused by validation (422);
        # field_validation: the fieldValidation parameter of each write.
        self.stats = {"creates": 0, "deletes": 0, "claims": [], "acquired": [], "conflicts": 0,
                      "ips_in_use": 0, "executes": {}, "rejected": [], "field_validation": {}}
        self.validator = Validator(args.schema_dir)
        self.holds = []  # [ms, remaining]: guarded writes wait before their check
        self.ips = set()
        self.faults = []  # [method, status, remaining]
        self.epoch = 0  # bumped on restart: watch streams of older epochs end

    def next_rv(self):
        self.rv += 1
        return self.rv

    def emit(self, etype, obj):
        """Records an event (caller holds the lock) and wakes watchers."""
        self.history.append((int(obj["metadata"]["resourceVersion"]), etype, copy.deepcopy(obj)))
        if len(self.history) == HISTORY:
            self.floor = self.history[0][0] - 1
        self.lock.notify_all()

    def alloc_ip(self):
        for n in range(2, 255):
            for m in range(1, 255):
                ip = "127.0.%d.%d" % (m, n)
                if ip in self.ips:
                    continue
                s = socket.socket()
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((ip, self.sidecar_port))
                except OSError:
                    continue
                finally:
                    s.close()
                self.ips.add(ip)
                return ip
        raise RuntimeError("no free loopback address")

    # -- pod lifecycle (runs on worker threads) --

    def realise(self, key, lang):
        with self.lock:
            ip = self.alloc_ip()
            spec = copy.deepcopy((self.pods.get(key) or {}).get("spec") or {})
            rp = RealPod(self, key[1], lang, ip, spec)
            self.real[key] = rp
        ok = False
        try:
            ok = rp.start()
        except Exception as e:  # noqa: BLE001 - any failure is a failed pod
            log("pod %s: start failed: %s" % (key[1], e))
        with self.lock:
            pod = self.pods.get(key)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                return  # deleted while starting; the delete path stops it
            st = pod.setdefault("status", {})
            if ok:
                st.update({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                           "hostIP": "127.0.0.1", "startTime": now_iso(),
                           "conditions": [{"type": "Ready", "status": "True"},
                                          {"type": "ContainersReady", "status": "True"}]})
            else:
                st.update({"phase": "Failed", "reason": "StartError",
                           "conditions": [{"type": "Ready", "status": "False"}]})
            pod["metadata"]["resourceVersion"] = str(self.next_rv())
            self.emit("MODIFIED", pod)
        if ok:
            threading.Thread(target=self.monitor, args=(key, rp), daemon=True).start()

    def monitor(self, key, rp):
        """A pod whose process died becomes Failed (like a crashed container)."""
        while not rp.stopped.is_set():
            time.sleep(0.5)
            if not rp.alive() and not rp.stopped.is_set():
                with self.lock:
                    pod = self.pods.get(key)
                    if pod is None or pod["metadata"].get("deletionTimestamp"):
                        return
                    pod["status"].update({"phase": "Failed",
                                          "conditions": [{"type": "Ready", "status": "False"}]})
                    pod["metadata"]["resourceVersion"] = str(self.next_rv())
                    self.emit("MODIFIED", pod)
                return

    def teardown(self, key):
        with self.lock:
            rp = self.real.pop(key, None)
        if rp:
            rp.stop()
        with self.lock:
            if rp:
                self.ips.discard(rp.ip)
            pod = self.pods.pop(key, None)
            if pod is not None:
                pod["metadata"]["resourceVersion"] = str(self.next_rv())
                self.emit("DELETED", pod)

    def shutdown_pods(self):
        with self.lock:
            keys = list(self.real)
        for k in keys:
            self.teardown(k)


# --------------------------------------------------------------------------
# HTTP

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "k8s-sim"

    def log_message(self, *a):
        pass

    @property
    def st(self):
        return self.server.state

    def send_json(self, code, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_pod_not_found(self, name):
        return self.send_json(404, status_obj(404, "NotFound", 'pods "%s" not found' % name))

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 4 << 20:
            raise ValueError("body too large")
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw) if raw else None

    def route(self):
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query).items()}
        parts = u.path.strip("/").split("/")
        if len(parts) >= 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            name = urllib.parse.unquote(parts[5]) if len(parts) == 6 else None
            if len(parts) > 6:
                return None, None, None, q
            return "pods", urllib.parse.unquote(parts[3]), name, q
        if u.path.startswith("/_sim/"):
            return u.path[len("/_sim/"):], None, None, q
        return None, None, None, q

    def check_auth_and_faults(self, kind):
        if kind and not kind.startswith("pods"):
            return True
        if self.st.token and self.headers.get("Authorization") != "Bearer " + self.st.token:
            self.send_json(401, status_obj(401, "Unauthorized", "Unauthorized"))
            return False
        with self.st.lock:
            for f in self.st.faults:
                if f[0] == self.command and f[2] > 0:
                    f[2] -= 1
                    code = f[1]
                    break
            else:
                return True
        self.send_json(code, status_obj(code, "Injected", "injected by the simulator"),
                       {"Retry-After": "1"} if code == 429 else None)
        return False

    def handle_one(self):
        try:
            kind, ns, name, q = self.route()
            if kind is None:
                return self.send_json(404, status_obj(404, "NotFound", "no such path"))
            if not self.check_auth_and_faults(kind):
                return None
            if kind != "pods":
                return self.sim_control(kind, q)
            m = self.command
            if m in ("POST", "PUT", "PATCH"):
                with self.st.lock:
                    fv = self.st.stats["field_validation"]
                    k = q.get("fieldValidation", "")
                    fv[k] = fv.get(k, 0) + 1
            if m == "GET" and name is None and q.get("watch") in ("1", "true"):
                return self.watch(ns, q)
            if m == "GET" and name is None:
                return self.list(ns, q)
            if m == "GET":
                return self.get(ns, name)
            if m == "POST" and name is None:
                return self.create(ns, self.read_body())
            if m in ("PATCH", "PUT") and name:
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if m == "PATCH" and ctype not in ("application/merge-patch+json",
                                                  "application/json-patch+json"):
                    return self.send_json(415, status_obj(
                        415, "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media "
                        "types include: application/json-patch+json, "
                        "application/merge-patch+json"))
                return self.update(ns, name, self.read_body(), m == "PUT",
                                   ctype == "application/json-patch+json")
            if m == "DELETE" and name:
                return self.delete(ns, name, self.read_body())
            return self.send_json(405, status_obj(405, "MethodNotAllowed", "not supported"))
        except (ValueError, KeyError, TypeError) as e:
            return self.send_json(400, status_obj(400, "BadRequest", str(e)))

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_one

    def sim_control(self, kind, q):
        st = self.st
        if kind == "stats":
            with st.lock:
                live = []
                for key, p in st.pods.items():
                    rp = st.real.get(key)
                    live.append({"name": p["metadata"]["name"],
                                 "labels": p["metadata"].get("labels", {}),
                                 "phase": p.get("status", {}).get("phase"),
                                 "deleting": bool(p["metadata"].get("deletionTimestamp")),
                                 # Node-side facts, for tests that inspect the real pod.
                                 "socket": rp.socket if rp else None,
                                 "working_dir_host": rp.working_dir_host if rp else None})
                body = dict(st.stats, live=live, resourceVersion=st.rv, floor=st.floor,
                            epoch=st.epoch)
            return self.send_json(200, body)
        if kind == "restart" and self.command == "POST":
            self.server.restart_ms = int(q.get("down_ms", "1000"))
            self.send_json(200, {"restarting": True})
            self.server.restart_event.set()
            return None
        if kind == "validate" and self.command == "POST":
            errors = st.validator.check(self.read_body())
            return self.send_json(200, {"ok": not errors, "errors": errors})
        if kind == "hold" and self.command == "POST":
            with st.lock:
                st.holds.append([int(q.get("ms", "1000")), int(q.get("count", "2"))])
            return self.send_json(200, {"ok": True})
        if kind == "fail" and self.command == "POST":
            with st.lock:
                st.faults.append([q.get("method", "GET"), int(q.get("status", "503")),
                                  int(q.get("count", "1"))])
            return self.send_json(200, {"ok": True})
        return self.send_json(404, status_obj(404, "NotFound", "no such control"))

    def list(self, ns, q):
        reqs = parse_selector(q.get("labelSelector"))
        with self.st.lock:
            items = [copy.deepcopy(p) for (pns, _), p in sorted(self.st.pods.items())
                     if pns == ns and matches(p, reqs)]
            rv = str(self.st.rv)
        self.send_json(200, {"kind": "PodList", "apiVersion": "v1",
                             "metadata": {"resourceVersion": rv}, "items": items})

    def get(self, ns, name):
        with self.st.lock:
            p = copy.deepcopy(self.st.pods.get((ns, name)))
        if p is None:
            return self.send_pod_not_found(name)
        return self.send_json(200, p)

    def reject(self, kind, name, errors):
        with self.st.lock:
            self.st.stats["rejected"].append({"name": name, "errors": errors})
        log("rejected %s %s: %s" % (kind, name, errors))
        return self.send_json(422, invalid_status(kind, name, errors))

    def create(self, ns, body):
        st = self.st
        if not isinstance(body, dict):
            return self.send_json(400, status_obj(400, "BadRequest", "body must be an object"))
        if body.get("apiVersion") != "v1" or body.get("kind") != "Pod":
            return self.send_json(400, status_obj(
                400, "BadRequest", "the API version in the data (%s) and kind (%s) do not match "
                "the endpoint (v1, Pod)" % (body.get("apiVersion"), body.get("kind"))))
        meta = body.get("metadata") or {}
        name = meta.get("name") if isinstance(meta, dict) else None
        errors = st.validator.check(body)
        if errors:
            return self.reject("Pod", name or "", errors)
        if not name:
            return self.reject("Pod", "", [{"field": "metadata.name", "reason":
                                            "FieldValueRequired", "message":
                                            "metadata.name: Required value: name is required"}])
        if meta.get("resourceVersion"):
            return self.send_json(400, status_obj(
                400, "BadRequest", "resourceVersion should not be set on objects to be created"))
        containers = (body.get("spec") or {}).get("containers") or []
        lang = None
        for c in containers:
            for e in c.get("env") or []:
                if e.get("name") == "LANGUAGE":
                    lang = e.get("value")
        lang = lang or (meta.get("labels") or {}).get("kcr.dev/language")
        if not lang:
            return self.send_json(422, status_obj(422, "Invalid", "no LANGUAGE"))
        with st.lock:
            key = (ns, name)
            if key in st.pods:
                return self.send_json(409, status_obj(409, "AlreadyExists",
                                                      'pods "%s" already exists' % name))
            pod = copy.deepcopy(body)
            m = pod["metadata"]
            m.update({"namespace": ns, "uid": str(uuid.uuid4()), "creationTimestamp": now_iso(),
                      "resourceVersion": str(st.next_rv())})
            pod["status"] = {"phase": "Pending",
                             "conditions": [{"type": "Ready", "status": "False"}]}
            st.pods[key] = pod
            st.stats["creates"] += 1
            labels = m.get("labels") or {}
            if labels.get("kcr.dev/pool") == "claimed":
                st.stats["acquired"].append({"pod": name, "owner": labels.get("kcr.dev/owner"),
                                             "how": "create"})
            st.emit("ADDED", pod)
            out = copy.deepcopy(pod)
        threading.Thread(target=st.realise, args=(key, lang), daemon=True).start()
        return self.send_json(201, out)

    def wait_hold(self):
        """A test's /_sim/hold: this guarded write waits before its check."""
        with self.st.lock:
            h = next((h for h in self.st.holds if h[1] > 0), None)
            if h:
                h[1] -= 1
        if h:
            time.sleep(h[0] / 1000.0)

    def conflict(self, name):
        self.st.stats["conflicts"] += 1
        return self.send_json(409, dict(status_obj(
            409, "Conflict", 'Operation cannot be fulfilled on pods "%s": the object has been '
            'modified; please apply your changes to the latest version and try again' % name),
            details={"name": name, "kind": "pods"}))

    def update(self, ns, name, body, replace, json_patch_type=False):
        """PUT, or PATCH (merge patch, or JSON patch): applied to the current
        object, preconditioned on the resourceVersion the result carries (a
        stale one: 409), validated whole (422), spec immutable (422)."""
        st = self.st
        if json_patch_type:
            if not isinstance(body, list):
                return self.send_json(400, status_obj(400, "BadRequest",
                                                      "a JSON patch must be an array"))
            guarded = any(op.get("op") == "test" or op.get("path") == "/metadata/resourceVersion"
                          for op in body if isinstance(op, dict))
        elif not isinstance(body, dict):
            return self.send_json(400, status_obj(400, "BadRequest", "body must be an object"))
        else:
            guarded = (body.get("metadata") or {}).get("resourceVersion") is not None
        if guarded:
            self.wait_hold()
        with st.lock:
            key = (ns, name)
            cur = st.pods.get(key)
            if cur is None:
                return self.send_pod_not_found(name)
            cur_rv = cur["metadata"]["resourceVersion"]
            if json_patch_type:
                try:
                    new = json_patch(cur, body)
                except JsonPatchError as e:
                    # The API server: a patch that cannot be applied (a
                    # failed test among them) is 422, not a conflict.
                    return self.send_json(422, status_obj(422, "", str(e)))
            elif replace:
                new = copy.deepcopy(body)
            else:
                new = merge_patch(copy.deepcopy(cur), copy.deepcopy(body))
            if not isinstance(new.get("metadata"), dict):
                return self.send_json(422, status_obj(422, "Invalid", "metadata is required"))
            nm = new["metadata"]
            # The precondition is the version the result carries: the one in
            # the patch or the body; absent (a PUT without it), unconditional.
            want = nm.get("resourceVersion")
            if want is not None and str(want) != cur_rv:
                return self.conflict(name)
            if replace and want is None:
                nm["resourceVersion"] = cur_rv
            if nm.get("name", name) != name:
                return self.send_json(400, status_obj(400, "BadRequest",
                                                      "the name of the object does not match"))
            # status is not written through the main resource; server-set
            # metadata is kept.
            new["status"] = copy.deepcopy(cur.get("status"))
            for k in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp"):
                if k in cur["metadata"]:
                    nm[k] = cur["metadata"][k]
            new.setdefault("apiVersion", "v1")
            new.setdefault("kind", "Pod")
            errors = st.validator.check(new)
            if not errors and new.get("spec") != cur.get("spec"):
                errors = [{"field": "spec", "reason": "FieldValueForbidden", "message":
                           "spec: Forbidden: pod updates may not change fields other than "
                           "image, activeDeadlineSeconds, tolerations, ..."}]
            if errors:
                st.stats["rejected"].append({"name": name, "errors": errors})
                return self.send_json(422, invalid_status("Pod", name, errors))
            before = (cur["metadata"].get("labels") or {}).get("kcr.dev/pool")
            nm["resourceVersion"] = str(st.next_rv())
            st.pods[key] = new
            after = (nm.get("labels") or {}).get("kcr.dev/pool")
            if before != "claimed" and after == "claimed":
                claim = {"pod": name, "owner": (nm.get("labels") or {}).get("kcr.dev/owner"),
                         "rv": want}
                st.stats["claims"].append(claim)
                st.stats["acquired"].append(dict(claim, how="claim"))
            st.emit("MODIFIED", new)
            out = copy.deepcopy(new)
        return self.send_json(200, out)

    def delete(self, ns, name, opts=None):
        st = self.st
        pre = (opts or {}).get("preconditions") or {} if isinstance(opts, dict) else {}
        with st.lock:
            key = (ns, name)
            cur = st.pods.get(key)
            if cur is None:
                return self.send_pod_not_found(name)
            if (pre.get("resourceVersion") is not None
                    and str(pre["resourceVersion"]) != cur["metadata"]["resourceVersion"]) or \
                    (pre.get("uid") is not None and pre["uid"] != cur["metadata"]["uid"]):
                st.stats["conflicts"] += 1
                return self.send_json(409, status_obj(
                    409, "Conflict", 'Operation cannot be fulfilled on Pod "%s": Precondition '
                    'failed: UID in precondition: %s, UID in object meta: %s / resourceVersion '
                    'in precondition: %s, resourceVersion in object meta: %s' % (
                        name, pre.get("uid"), cur["metadata"]["uid"],
                        pre.get("resourceVersion"), cur["metadata"]["resourceVersion"])))
            if not cur["metadata"].get("deletionTimestamp"):
                cur["metadata"]["deletionTimestamp"] = now_iso()
                cur["metadata"]["resourceVersion"] = str(st.next_rv())
                st.stats["deletes"] += 1
                st.emit("MODIFIED", cur)
                threading.Thread(target=st.teardown, args=(key,), daemon=True).start()
            out = copy.deepcopy(cur)
        return self.send_json(200, out)

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, ns, q):
        st = self.st
        reqs = parse_selector(q.get("labelSelector"))
        timeout = min(int(q.get("timeoutSeconds", "300")), 1800)
        rv = q.get("resourceVersion")
        epoch = st.epoch
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pending = []
        with st.lock:
            if rv in (None, "", "0"):
                last = st.rv
                for (pns, _), p in sorted(st.pods.items()):
                    if pns == ns and matches(p, reqs):
                        pending.append(("ADDED", copy.deepcopy(p)))
            elif int(rv) < st.floor:
                pending.append(("ERROR", status_obj(
                    410, "Expired", "too old resource version: %s (%d)" % (rv, st.floor))))
                last = None
            else:
                last = int(rv)
        deadline = time.time() + timeout
        try:
            while True:
                for etype, obj in pending:
                    self.write_chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")
                if last is None:
                    break
                pending = []
                with st.lock:
                    while True:
                        if st.epoch != epoch or self.server.stopping:
                            raise ConnectionError("server restarting")
                        new = [(r, t, o) for (r, t, o) in st.history if r > last]
                        if new or time.time() >= deadline:
                            break
                        st.lock.wait(timeout=0.5)
                    if last < st.floor:
                        pending.append(("ERROR", status_obj(410, "Expired", "too old")))
                        last = None
                        continue
                for r, t, o in new:
                    last = max(last, r)
                    if o["metadata"].get("namespace") == ns and matches(o, reqs):
                        pending.append((t, o))
                if not pending and time.time() >= deadline:
                    break
            self.write_chunk(b"")
        except (ConnectionError, OSError):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, addr, state, restart_event):
        self.state = state
        self.restart_event = restart_event
        self.restart_ms = 0
        self.stopping = False
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, Handler)

    def process_request(self, request, client_address):
        with self.conns_lock:
            self.conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def drop_connections(self):
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--kcr", default=os.path.join(os.environ.get("KCR_BUILD", "build"), "kcr"))
    ap.add_argument("--token", default=None)
    ap.add_argument("--sidecar-port", type=int, default=8080)
    ap.add_argument("--pod-log", default=None)
    ap.add_argument("--fake-pods", action="store_true")
    ap.add_argument("--restart-rv-bump", type=int, default=100)
    ap.add_argument("--schema-dir", required=True,
                    help="tests/k8s-schema with node_modules installed (npm ci)")
    args = ap.parse_args()

    state = State(args)
    restart = threading.Event()
    done = threading.Event()

    def on_term(signum, frame):
        done.set()
        restart.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    port = args.port
    first = True
    while not done.is_set():
        srv = Server((args.host, port), state, restart)
        port = srv.server_address[1]
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                             daemon=True)
        t.start()
        if first:
            print("READY %d" % port, flush=True)
            first = False
        restart.wait()
        restart.clear()
        # The API server goes away: stop accepting, cut every connection
        # (watch streams included) and forget the watch history, as a
        # restarted apiserver's watch cache does.
        srv.stopping = True
        srv.shutdown()
        srv.server_close()
        srv.drop_connections()
        with state.lock:
            state.epoch += 1
            state.history.clear()
            # etcd's revision is global: other objects of a real cluster
            # (Events, Leases...) move it on while the API server is away, so
            # a watcher's last version is older than the new watch cache.
            state.rv += args.restart_rv_bump
            state.floor = state.rv
            state.lock.notify_all()
        if done.is_set():
            break
        log("restart: down for %d ms" % srv.restart_ms)
        time.sleep(srv.restart_ms / 1000.0)
    state.shutdown_pods()
    state.validator.close()


if __name__ == "__main__":
    main()
