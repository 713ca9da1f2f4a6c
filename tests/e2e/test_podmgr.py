"""The local pod manager as its own program (kcr-podmgr, docs/local-pods.md):
kcr execs it rather than running it in a fork of itself, so the one process
that stays root carries none of the server's HTTP, TLS or SQL code, and the
pods forked from it copy few mappings; it starts pods concurrently, so one
slow pod start holds up no other request."""
import os
import shutil
import tempfile
import threading
import time

import pytest
import requests

from api_util import start_server
from pod_util import LocalPod, PodError, _procs

pytestmark = pytest.mark.needs_root

# Libraries of kcr serve that the manager must not have loaded.
SERVER_LIBS = ("libcurl", "libssl", "libcrypto", "libsqlite3", "libmicrohttpd", "libhiredis",
               "libxml2")


@pytest.fixture
def podenv(build_dir):
    run_dir = tempfile.mkdtemp(prefix="kcr-e2e-run-")
    os.chmod(run_dir, 0o755)  # the sidecar (uid 65532) must reach its socket
    parent = f"kcr-e2e-pm-{os.getpid()}-{int(time.time() * 1000) % 100000}"
    yield {"KCR_BUILD": build_dir, "KCR_RUN_DIR": run_dir, "KCR_CGROUP_PARENT": parent}
    shutil.rmtree(run_dir, ignore_errors=True)


def pod(env, run_as=None, **extra):
    e = dict(env)
    e.update(extra)
    return LocalPod("py", build_dir=env["KCR_BUILD"], env=e, run_as=run_as)


def managers_of(pid):
    """Children of pid that are the pod manager program."""
    return [c for c, (pp, argv) in _procs().items()
            if pp == pid and argv and argv[0] == b"kcr-podmgr"]


def test_manager_is_its_own_small_program(podenv):
    with pod(podenv) as p:
        assert p.execute(code="print('ok')")["stdout"] == "ok\n"
        mgrs = managers_of(p.proc.pid)
        assert len(mgrs) == 1, _procs()
        mgr = mgrs[0]
        exe = os.readlink(f"/proc/{mgr}/exe")
        assert exe == os.path.join(podenv["KCR_BUILD"], "kcr-podmgr"), exe
        with open(f"/proc/{mgr}/maps") as f:
            maps = f.read()
        assert not [lib for lib in SERVER_LIBS if lib in maps], maps
        with open(f"/proc/{mgr}/status") as f:
            status = dict(l.split(":", 1) for l in f)
        assert status["Uid"].split()[1] == "0"  # root, as before: it makes pods
        # Only stdio, the socket to kcr and the manager's own files: none of
        # kcr's (its listening sockets, its stores).
        for fd in os.listdir(f"/proc/{mgr}/fd"):
            target = os.readlink(f"/proc/{mgr}/fd/{fd}")
            assert "kcr-e2e" in target or int(fd) <= 3 or target.startswith(
                ("socket:", "pipe:", "anon_inode:")), (fd, target)


def test_manager_is_not_dumpable_rootless_too(podenv):
    """kcr serve makes itself non-dumpable (no core file, /proc and ptrace for
    root only); the exec of the manager would undo that, so it does it again.
    Visible where the manager is not root: its /proc files belong to root."""
    run_dir = os.path.join(podenv["KCR_RUN_DIR"], "rootless")
    os.mkdir(run_dir)
    os.chown(run_dir, 65534, 65534)
    with pod(dict(podenv, KCR_RUN_DIR=run_dir), run_as=65534) as p:
        mgrs = managers_of(p.proc.pid)
        assert len(mgrs) == 1, _procs()
        with open(f"/proc/{mgrs[0]}/status") as f:
            uid = dict(l.split(":", 1) for l in f)["Uid"].split()[1]
        assert uid == "65534"
        st = os.stat(f"/proc/{mgrs[0]}/environ")
        assert (st.st_uid, st.st_gid) == (0, 0), st


def test_manager_binary_someone_else_may_write_is_refused(podenv, tmp_path):
    """kcr (root) execs KCR_PODMGR_BIN as root: a binary another user owns or
    may write would run as root, so it is refused."""
    src = os.path.join(podenv["KCR_BUILD"], "kcr-podmgr")
    for owner, mode in ((65534, 0o755), (0, 0o777)):
        planted = tmp_path / f"kcr-podmgr-{owner}-{mode:o}"
        shutil.copy(src, planted)
        os.chown(planted, owner, owner)
        os.chmod(planted, mode)
        with pytest.raises(PodError) as e:
            with pod(podenv, KCR_PODMGR_BIN=str(planted)):
                pass
        msg = str(e.value)
        assert "KCR_PODMGR_BIN" in msg and "must be owned by root and writable by no one else" \
            in msg, msg


def test_missing_manager_is_a_clear_error(podenv):
    with pytest.raises(PodError) as e:
        with pod(podenv, KCR_PODMGR_BIN="/nonexistent/kcr-podmgr"):
            pass
    assert "kcr-podmgr '/nonexistent/kcr-podmgr'" in str(e.value), e.value


def test_manager_refuses_to_start_without_kcr(build_dir):
    import subprocess
    p = subprocess.run([os.path.join(build_dir, "kcr-podmgr")], capture_output=True, text=True,
                       timeout=10, stdin=subprocess.DEVNULL, close_fds=True)
    assert p.returncode == 2 and "started by kcr only" in p.stderr, (p.returncode, p.stderr)


def test_a_slow_pod_start_holds_up_no_other_request(build_dir):
    """The first pod's sidecar waits (a wrapper holds it until the test says
    go); a second /exec must get its own pod and its answer meanwhile. A
    manager that made pods one at a time would answer it only after the first
    start gave up: the second request would time out."""
    d = tempfile.mkdtemp(prefix="kcr-e2e-slow-")
    os.chmod(d, 0o777)  # the sidecar runs as 65532
    wrapper = os.path.join(d, "kcr-sidecar")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n"
                f"if /bin/mkdir {d}/first 2>/dev/null; then\n"
                "  n=0\n"
                f"  while [ ! -e {d}/go ] && [ $n -lt 1200 ]; do /bin/sleep 0.05; n=$((n+1)); done\n"
                "fi\n"
                f"exec {os.path.join(build_dir, 'kcr-sidecar')} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    s = start_server({"POD_POOL_PY": "0", "POD_POOL_JS": "0", "KCR_SIDECAR_BIN": wrapper,
                      "POD_READY_TIMEOUT_MS": "60000"})
    try:
        first = {}

        def run_first():
            r = requests.post(s.url + "/exec", json={"lang": "py", "code": "print('first')"},
                              headers=s.headers(), timeout=120)
            first["status"], first["body"] = r.status_code, r.json()

        t = threading.Thread(target=run_first)
        t.start()
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(d, "first")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(os.path.join(d, "first")), "the first pod's sidecar never started"
        r = requests.post(s.url + "/exec", json={"lang": "py", "code": "print('second')"},
                          headers=s.headers(), timeout=20)
        assert r.status_code == 200 and r.json()["stdout"] == "second\n", r.text
        assert t.is_alive() and not first  # the first pod is still held
        open(os.path.join(d, "go"), "w").close()
        t.join(120)
        assert first.get("status") == 200 and first["body"]["stdout"] == "first\n", first
    finally:
        open(os.path.join(d, "go"), "w").close()
        s.cleanup()
        shutil.rmtree(d, ignore_errors=True)
