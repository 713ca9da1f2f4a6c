"""Helpers for the kcr serve black-box tests: start a real `kcr serve` on a free
loopback port with its own temporary KCR_DATA_DIR, talk to it with requests,
stop it (SIGTERM) or kill it (SIGKILL) and start it again on the same data."""
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import BUILD, ROOT as ROOT_DIR, free_port, wait_for  # noqa: F401

KCR = os.path.join(BUILD, "kcr")
SIDECAR = os.path.join(BUILD, "kcr-sidecar")
NSEXEC = os.path.join(BUILD, "kcr-nsexec")
TEST_KEY = "test-key-0123456789abcdef"


def have_pods():
    return os.path.exists(SIDECAR) and os.path.exists(NSEXEC)


# Tests that run code need local pods: kcr-sidecar and kcr-nsexec built.
needs_pods = pytest.mark.skipif(
    not have_pods(), reason=f"needs {SIDECAR} and {NSEXEC} (local pods) to run code"
)


class Server:
    """One `kcr serve` process. env adds to a small default environment."""

    def __init__(self, env=None, data_dir=None, api_key=TEST_KEY, user=None):
        """user: run kcr serve as this uid/gid (rootless mode) instead of ours."""
        self.user = user
        self.tmp = None
        if data_dir is None:
            self.tmp = tempfile.mkdtemp(prefix="kcr-api-")
            # As root the server drops to KCR_SERVE_UID, which must reach the dir.
            os.chmod(self.tmp, 0o755)
            data_dir = os.path.join(self.tmp, "data")
        self.data_dir = data_dir
        self.key = api_key
        self.extra_env = dict(env or {})
        self.port = None
        self.proc = None
        self.stdout_lines = []
        self.stderr_lines = []
        self.http = requests.Session()

    def environ(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "KCR_", "MAX_"))}
        env.update({
            "API_HOST": "127.0.0.1",
            "API_PORT": str(self.port),
            "KCR_DATA_DIR": self.data_dir,
            # Small warm pools: several servers run in one test session.
            "POD_POOL_PY": "1",
            "POD_POOL_JS": "0",
            # Fork-server on, preload off (see pod_util.LocalPod).
            "PRELOAD_PY": "none",
        })
        if self.key:
            env["API_KEY"] = self.key
        env.update(self.extra_env)
        return env

    def start(self, timeout=30):
        self.port = self.port or free_port()
        self.stdout_lines, self.stderr_lines = [], []
        as_user = {} if self.user is None else {
            "user": self.user, "group": self.user, "extra_groups": []}
        self.proc = subprocess.Popen(
            [KCR, "serve"], env=self.environ(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, errors="replace", **as_user,
        )
        threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_lines),
                         daemon=True).start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line:
                self.stdout_lines.append(line)
                if "listening on" in line:
                    threading.Thread(target=self._drain,
                                     args=(self.proc.stdout, self.stdout_lines),
                                     daemon=True).start()
                    return self
            elif self.proc.poll() is not None:
                break
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("kcr serve did not start:\n" + "".join(self.stderr_lines[-30:]))

    @staticmethod
    def _drain(stream, sink):
        for line in stream:
            sink.append(line)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def headers(self, **extra):
        h = {"x-api-key": self.key} if self.key else {}
        h.update(extra)
        return h

    def get(self, path, **kw):
        kw.setdefault("headers", self.headers())
        kw.setdefault("timeout", 60)
        return self.http.get(self.url + path, **kw)

    def post(self, path, **kw):
        kw.setdefault("headers", self.headers())
        kw.setdefault("timeout", 120)
        return self.http.post(self.url + path, **kw)

    def delete(self, path, **kw):
        kw.setdefault("headers", self.headers())
        kw.setdefault("timeout", 60)
        return self.http.delete(self.url + path, **kw)

    def exec(self, code, lang="py", **fields):
        body = {"lang": lang, "code": code}
        body.update(fields)
        return self.post("/exec", json=body)

    def upload(self, name, data, field="file", entity_id=None, content_type=None):
        files = {field: (name, data, content_type) if content_type else (name, data)}
        form = {"entity_id": entity_id} if entity_id else None
        return self.post("/upload", files=files, data=form)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signals the server and waits for it; returns its exit code."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        try:
            self.stop()
        finally:
            self.http.close()
            if self.tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)


def exec_heavy(api, code, attempts=3, **fields):
    """POST /exec for code whose import of big libraries (matplotlib, sklearn,
    ...) in a pod without a preload takes seconds of CPU: on a loaded machine
    one run may reach the server's execution time limit. Only that outcome
    is retried; any other answer is returned as it is for the test to judge."""
    for _ in range(attempts):
        r = api.exec(code, **fields)
        if r.status_code != 200 or "Execution timed out after" not in r.json().get("stderr", ""):
            return r
    return r


def start_server(env=None, **kw):
    if not os.path.exists(KCR):
        pytest.skip(f"{KCR} not built")
    return Server(env=env, **kw).start()


@pytest.fixture(scope="module")
def server():
    """A server shared by the tests of one module (MAX_EXECUTION_TIME=5 keeps
    timeout tests short)."""
    s = start_server({"MAX_EXECUTION_TIME": "5"})
    yield s
    s.cleanup()


def run_server_once(env, timeout=20):
    """Runs `kcr serve` expecting it to exit (bad configuration); returns
    (code, stdout, stderr)."""
    base = Server(env=env)
    base.port = free_port()
    full = base.environ()
    for k, v in env.items():
        if v is None:
            full.pop(k, None)
    try:
        p = subprocess.run([KCR, "serve"], env=full, capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    finally:
        base.cleanup()


# --- Pods of one server: its own KCR_RUN_DIR and KCR_CGROUP_PARENT ----------

def own_pods_env(tag):
    """KCR_RUN_DIR and KCR_CGROUP_PARENT for one server alone (pass them to
    start_server), so that pod_leftovers counts that server's pods only;
    stop_and_remove removes both afterwards."""
    run_dir = tempfile.mkdtemp(prefix="kcr-api-run-")
    os.chmod(run_dir, 0o755)  # the sidecar (uid 65532) must reach its socket
    return {"KCR_RUN_DIR": run_dir, "KCR_CGROUP_PARENT": f"kcr-e2e-{tag}-{os.getpid()}"}


def _pods_of(s, run_dir, parent):
    return (run_dir or s.extra_env["KCR_RUN_DIR"],
            parent or s.extra_env["KCR_CGROUP_PARENT"])


def pod_leftovers(run_dir, parent):
    """Pod dirs under run_dir, cgroups under <hierarchy>/parent, processes
    naming run_dir: what a destroyed pod must not leave."""
    out = glob.glob(os.path.join(run_dir, "pods", "*"))
    out += [d for d in glob.glob(os.path.join("/sys/fs/cgroup", "*", parent, "*"))
            + glob.glob(os.path.join("/sys/fs/cgroup", parent, "*")) if os.path.isdir(d)]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if run_dir.encode() in f.read():
                    out.append("process %s" % pid)
        except OSError:
            pass
    return out


def leftovers_after_exit(run_dir, parent, within=10.0):
    """pod_leftovers once they are gone, or after `within` seconds: pods in
    use when kcr exits are destroyed by the pod manager as it notices, which
    on a loaded machine takes a moment after kcr's own exit."""
    deadline = time.monotonic() + within
    while True:
        left = pod_leftovers(run_dir, parent)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def stop_and_remove(s, run_dir=None, parent=None):
    """Stops the server and removes the test's run dir and its own
    <hierarchy>/parent directories (empty once its pods are gone; kcr keeps
    a parent for the next start). run_dir, parent: the server's
    KCR_RUN_DIR and KCR_CGROUP_PARENT unless given."""
    run_dir, parent = _pods_of(s, run_dir, parent)
    s.stop()
    s.cleanup()
    for d in glob.glob(os.path.join("/sys/fs/cgroup", "*", parent)) + [
            os.path.join("/sys/fs/cgroup", parent)]:
        try:
            os.rmdir(d)
        except OSError:
            pass
    shutil.rmtree(run_dir, ignore_errors=True)


def pool_settled(s):
    """Every warm pool of the server full and idle: nothing being created,
    no pod in use (/health/detailed)."""
    pool = s.get("/health/detailed").json()["services"]["pods"]["pool"]
    pools = list(pool.values()) + [p["lite"] for p in pool.values() if "lite" in p]
    return all(p["warm"] == p["target"] and not p["creating"] and not p["in_use"]
               for p in pools)


@contextlib.contextmanager
def no_pod_leaked(s, timeout=60, run_dir=None, parent=None):
    """Around a block that uses the server's pods: counts pod_leftovers with
    the warm pool settled before, and waits (up to timeout seconds) after
    for the pool to settle again with no more of them than before (the pool
    refills the warm pods the block used). The server needs its own run
    dir and cgroup parent (own_pods_env)."""
    run_dir, parent = _pods_of(s, run_dir, parent)
    wait_for(lambda: pool_settled(s), timeout, interval=0.1,
             what="the warm pool to be full and idle before the test")
    before = pod_leftovers(run_dir, parent)
    yield
    wait_for(lambda: pool_settled(s) and len(pod_leftovers(run_dir, parent)) <= len(before),
             timeout, interval=0.1,
             what=lambda: (f"the pods to be back to the {len(before)} leftovers of before "
                           f"({before}); now {pod_leftovers(run_dir, parent)}, pool "
                           f"{s.get('/health/detailed').json()['services']['pods']['pool']}"))
