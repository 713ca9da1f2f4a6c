"""LocalPod: one local pod (`kcr pod run`) and its sidecar's HTTP API, for
black-box tests and benchmarks.

    with LocalPod("py") as pod:           # creates the pod (root: namespaces + cgroups)
        r = pod.execute("print(1)")       # POST /execute -> dict (exit_code, stdout, ...)
        pod.put_file("a.txt", b"hi")      # POST /files (multipart field "files")
        pod.list_files(recursive=True)    # GET /files[?recursive=1] -> list of dicts
        pod.get_file("a.txt")             # GET /files/{name} -> bytes
        pod.ready()                       # GET /ready == 200
    # leaving the block destroys the pod and waits for `kcr pod run` to exit

Attributes after __enter__: id, socket (host path of the sidecar's unix
socket), working_dir_host (host path of the pod's /mnt/data, visible only
inside the pod's mount namespaces), health (the backend's health() JSON:
status, isolation, cgroups...), proc (the `kcr pod run` Popen).
LocalPod(run_as=65534) runs `kcr pod run` as that uid: rootless mode.
Construction never hangs: a pod that does not come up within `start_timeout`
seconds raises PodError with kcr's stderr. The environment of `kcr pod run`
is os.environ plus `env`; KCR_RUN_DIR, KCR_CGROUP_PARENT, MAX_MEMORY_MB,
MAX_PIDS, MAX_CPUS and the like select where and how the pod is made.
"""
import http.client
import json
import os
import select
import socket
import subprocess
import tempfile
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def kcr_binary(build_dir=None):
    build = build_dir or os.environ.get("KCR_BUILD", os.path.join(ROOT, "build"))
    return os.path.join(build, "kcr")


class PodError(Exception):
    """The pod could not be created (message: kcr's own error line)."""


class PodHTTPError(Exception):
    """The sidecar answered with a non-2xx status."""

    def __init__(self, status, body):
        super().__init__(f"sidecar answered {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix stream socket."""

    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class LocalPod:
    def __init__(self, lang="py", build_dir=None, env=None, start_timeout=30, run_as=None):
        self.lang = lang
        self.run_as = run_as  # uid to run `kcr pod run` as (rootless mode); None: ours
        self.kcr = kcr_binary(build_dir)
        self.env = dict(os.environ)
        # The fork-server stays on, as by default, with nothing to preload:
        # its template then starts in ~0.1 s instead of importing the
        # data-science stack for every pod of the suite. test_forkserver.py
        # runs the real preload.
        self.env.setdefault("PRELOAD_PY", "none")
        self.env.update(env or {})
        self.start_timeout = start_timeout
        self.proc = None
        self.id = self.socket = self.working_dir_host = None
        self._stderr = None

    # --- lifecycle -------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        # stderr goes to a file: the sidecar logs a line per request, and a
        # full pipe would block it.
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([self.kcr, "pod", "run", "--lang", self.lang],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=self.env,
                                     **self._user_args())
        deadline = time.monotonic() + self.start_timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise PodError(f"pod not up within {self.start_timeout}s: {self.stderr_text()}")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.proc.wait(timeout=10)
                err = self.stderr_text()
                self.close()
                raise PodError(err.strip() or f"kcr pod run exited {self.proc.returncode}")
            line += chunk
        info = json.loads(line)
        self.id, self.socket = info["id"], info["socket"]
        self.working_dir_host = info["working_dir_host"]
        self.health = info.get("health", {})
        self.create_ms = info.get("create_ms")  # backend create() incl. /ready, measured by kcr

    def _user_args(self):
        if self.run_as is None:
            return {}
        return {"user": self.run_as, "group": self.run_as, "extra_groups": []}

    def close(self, timeout=30):
        """Destroys the pod (EOF on kcr's stdin) and waits for kcr to exit."""
        if not self.proc:
            return
        try:
            if self.proc.stdin and not self.proc.stdin.closed:
                self.proc.stdin.close()
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        finally:
            if self.proc.stdout:
                self.proc.stdout.close()

    def stderr_text(self):
        if not self._stderr:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").splitlines()
        # kcr's own error is the plain line; the JSON lines are sidecar logs.
        plain = [l for l in lines if not l.startswith("{")]
        return "\n".join(plain or lines[-5:])

    # --- HTTP --------------------------------------------------------------
    def connection(self, timeout):
        """An HTTP connection to the pod's sidecar."""
        return UnixHTTPConnection(self.socket, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=60):
        """Raw request: returns (status, body bytes)."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def _json(self, method, path, body=None, headers=None, timeout=60):
        status, data = self.request(method, path, body, headers, timeout)
        if status // 100 != 2:
            raise PodHTTPError(status, data)
        return json.loads(data)

    def ready(self):
        try:
            return self.request("GET", "/ready", timeout=5)[0] == 200
        except OSError:
            return False

    def execute(self, code, lang=None, timeout=10, args=None, stdin=None, list_files=None):
        req = {"code": code, "timeout": timeout}
        if lang:
            req["lang"] = lang
        if args is not None:
            req["args"] = list(args)
        if stdin is not None:
            req["stdin"] = stdin
        if list_files is not None:
            req["list_files"] = list_files
        return self._json("POST", "/execute", json.dumps(req).encode(),
                          {"Content-Type": "application/json"}, timeout=timeout + 30)

    def put_file(self, name, data: bytes):
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        body += data + f"\r\n--{boundary}--\r\n".encode()
        return self._json("POST", "/files", body,
                          {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def list_files(self, recursive=False):
        return self._json("GET", "/files?recursive=1" if recursive else "/files")["files"]

    def get_file(self, name) -> bytes:
        status, data = self.request("GET", "/files/" + name)
        if status != 200:
            raise PodHTTPError(status, data)
        return data


# Pre-started runners: the sidecar starts one right after the pod's /ready; a
# run that comes in between runs `python code.py` instead (by design; with a
# fork-server it starts the runner itself).
def _procs():
    """{pid: (ppid, argv)} of every process."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        out[int(p)] = (int(stat.rsplit(")", 1)[1].split()[1]), argv)
    return out


def children(pid, procs=None):
    procs = procs if procs is not None else _procs()
    return [c for c, (pp, _) in procs.items() if pp == pid]


def cmdline(pid):
    """argv of pid as bytes ([] when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def proc_cmdlines():
    """(pid, argv) of every live process, argv as cmdline() gives it."""
    for p in os.listdir("/proc"):
        if p.isdigit():
            argv = cmdline(p)
            if argv and argv != [b""]:
                yield int(p), argv


def waiting_runners(top_pid):
    """How many pods below top_pid (`kcr serve`, `kcr pod run`) have their
    runner started: a kcr-sidecar with a kcr-nsexec child (between runs, only
    the pre-started runner is one)."""
    procs = _procs()
    todo, below = [top_pid], []
    while todo:
        kids = children(todo.pop(), procs)
        below += kids
        todo += kids
    return sum(1 for p in below if procs[p][1][0] == b"kcr-sidecar" and
               any(procs[c][1][0].endswith(b"/kcr-nsexec") for c in children(p, procs)))


def wait_for_runners(top_pid, n, timeout=120):
    """The sidecar pre-starts its runner right after the pod's /ready; a run
    that arrives in between takes the lock first and runs `python code.py`
    (by design; with a fork-server it starts the runner itself). Runs that
    must find the runner waiting wait for it."""
    deadline = time.monotonic() + timeout
    while waiting_runners(top_pid) < n:
        if time.monotonic() > deadline:
            raise PodError(f"fewer than {n} pre-started runners below pid {top_pid}")
        time.sleep(0.05)
