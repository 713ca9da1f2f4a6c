"""kcr-sidecar + kcr-nsexec against real main containers (issue 2).

Each module-scoped pod is a real process in its own mount/pid/uts/ipc
namespaces, pivot_root'ed into a busybox rootfs (or a python one), with the
sidecar on the host reaching it through /proc and setns."""
import json
import os
import shutil
import subprocess
import time

import pytest

from maincontainer_util import (MARKER_OUTPUT, Pod, Sidecar, module_pod, pids_with_marker,
                                require_root_and_binaries, wait_no_survivors)
from pod_util import children

pytestmark = pytest.mark.needs_root


pod = module_pod("bb")
pypod = module_pod("py", kind="python", language="py")


def test_health_and_ready(pod):
    h = pod.sidecar.request("GET", "/health")
    assert h.status == 200 and h.json()["status"] == "healthy"
    assert h.json()["language"] == "bash"
    r = pod.sidecar.request("GET", "/ready")
    assert r.status == 200, r.body
    assert r.json()["main_pid"] == pod.main.pid


def test_ready_503_without_main_container(tmp_path, build_dir):
    require_root_and_binaries(build_dir)
    data = tmp_path / "data"
    data.mkdir()
    sc = Sidecar(build_dir, str(tmp_path), str(data), "kcr-no-such-process").start()
    try:
        r = sc.request("GET", "/ready")
        assert r.status == 503
        assert r.json() == {"status": "not_ready", "error": "main container not found"}
        e = sc.execute("echo hi")
        assert e.status == 503 and "error" in e.json()
    finally:
        sc.stop()


def test_binary_only_in_rootfs_runs(pod):
    assert not os.path.exists("/usr/local/bin/only-in-rootfs")
    res = pod.run("only-in-rootfs")
    assert res["exit_code"] == 0
    assert res["stdout"] == MARKER_OUTPUT + "\n"
    assert res["timed_out"] is False and res["signal"] is None


def test_environment_is_exactly_the_main_containers(pod):
    res = pod.run("exec kcr-probe env")
    env = dict(l.split("=", 1) for l in res["stdout"].splitlines())
    assert env.get("MARKER") == "1"
    assert env["PATH"].startswith("/opt/kcrtest:")
    assert Sidecar.SECRET not in res["stdout"]
    assert not any(k.startswith(("KCR_", "SIDECAR_", "WORKING_DIR")) for k in env)
    # PWD and SHLVL are added by the shell running the code
    assert set(env) <= {"PATH", "MARKER", "HOME", "LANG", "PWD", "SHLVL"}


def test_exit_codes_and_signals(pod):
    assert pod.run("exit 3")["exit_code"] == 3
    seg = pod.run("exec kcr-probe segv")
    assert seg["exit_code"] == 139 and seg["signal"] == 11
    kill = pod.run("exec kcr-probe signal 9")
    assert kill["exit_code"] == 137 and kill["signal"] == 9
    assert kill["oom_killed"] is False
    # a shell reporting its child's crash is an exit code, not a signal
    sh = pod.run("kcr-probe segv")
    assert sh["exit_code"] == 139


def test_program_not_found_is_127(pod):
    res = pod.run("exec no-such-program-here")
    assert res["exit_code"] == 127


def test_timeout_reports_124_and_message(pod):
    t0 = time.monotonic()
    res = pod.run("echo before; sleep 100", timeout=2)
    wall = time.monotonic() - t0
    assert res["exit_code"] == 124 and res["timed_out"] is True
    assert "Execution timed out after 2 seconds" in res["stderr"]
    assert res["stdout"] == "before\n"
    assert wall < 2 + 4, wall


def test_timeout_kills_fork_tree(pod):
    marker = "kcrtree" + os.urandom(4).hex()
    res = pod.run(f"exec kcr-probe forktree 8 {marker}", timeout=2)
    assert res["timed_out"] is True
    assert wait_no_survivors(marker) == []


def test_timeout_kills_sigterm_ignoring_child(pod):
    marker = "kcrhold" + os.urandom(4).hex()
    res = pod.run(f"kcr-probe hold {marker} & kcr-probe spin", timeout=2)
    assert res["exit_code"] == 124
    assert wait_no_survivors(marker) == []


def test_daemonized_child_dies_with_the_program(pod):
    marker = "kcrdaemon" + os.urandom(4).hex()
    t0 = time.monotonic()
    res = pod.run(f"kcr-probe daemon {marker}; echo parent-done", timeout=20)
    assert res["exit_code"] == 0 and res["stdout"].endswith("parent-done\n")
    assert time.monotonic() - t0 < 10
    assert wait_no_survivors(marker) == []


def test_print_flood_is_capped_and_memory_bounded(pod):
    rss_before = pod.sidecar.rss_kb()
    res = pod.run("kcr-probe flood 60000000; kcr-probe flood-err 30000000; echo end >&2",
                  timeout=30)
    assert res["exit_code"] == 0
    cap = 1 << 20
    assert cap <= len(res["stdout"]) <= cap + 200
    assert "[output truncated" in res["stdout"]
    assert "[output truncated" in res["stderr"]
    rss_after = pod.sidecar.rss_kb()
    # two capped 1 MiB buffers, their JSON copies and the reply: far below 60 MB
    assert rss_after - rss_before < 40 * 1024, (rss_before, rss_after)


def test_invalid_utf8_output_is_replaced(pod):
    res = pod.run(r"printf 'ok\377\376end\n'")
    assert res["stdout"] == "ok\ufffd\ufffdend\n"


def test_stdin_and_args(pod):
    res = pod.run('exec kcr-probe echo "$@"', args=["a b", "c", "$HOME"])
    assert res["stdout"] == "a b\nc\n$HOME\n"
    res = pod.run("exec kcr-probe cat", stdin="line1\nline2\n" * 50000)
    assert res["stdout"] == "line1\nline2\n" * 50000


def test_program_not_reading_stdin_does_not_hang(pod):
    res = pod.run("echo ignored", stdin="x" * (4 << 20), timeout=10)
    assert res["exit_code"] == 0 and res["stdout"] == "ignored\n"


def test_working_dir_is_the_data_dir(pod):
    res = pod.run("pwd; ls")
    assert res["stdout"].startswith("/mnt/data\n")
    assert "code.sh" in res["stdout"]
    bad = pod.execute("pwd", working_dir="/no/such/dir")
    assert bad.status == 422 and bad.json()["field"] == "working_dir"


def test_bad_requests_get_json_4xx(pod):
    s = pod.sidecar
    cases = [
        (b"{not json", 400, None),
        (b"[1,2]", 400, None),
        (json.dumps({"lang": "bash"}).encode(), 400, "code"),
        (json.dumps({"code": "x", "lang": "cobol"}).encode(), 400, "lang"),
        (json.dumps({"code": 5}).encode(), 422, "code"),
        (json.dumps({"code": "x", "timeout": 0}).encode(), 422, "timeout"),
        (json.dumps({"code": "x", "timeout": 100000}).encode(), 422, "timeout"),
        (json.dumps({"code": "x", "timeout": "1"}).encode(), 422, "timeout"),
        (json.dumps({"code": "x", "args": "a"}).encode(), 422, "args"),
        (json.dumps({"code": "x", "args": [1]}).encode(), 422, "args"),
        (json.dumps({"code": "x", "working_dir": "rel"}).encode(), 422, "working_dir"),
        (json.dumps({"code": "x", "working_dir": "/a/../b"}).encode(), 422, "working_dir"),
    ]
    for body, status, field in cases:
        r = s.request("POST", "/execute", body, {"Content-Type": "application/json"})
        assert r.status == status, (body, r.status, r.body)
        j = r.json()
        assert isinstance(j["error"], str) and j["error"]
        if field:
            assert j["field"] == field
    # an oversize body is refused from its Content-Length, before it is read
    status, body = raw_request(s.sock, b"POST /execute HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Type: application/json\r\n"
                               b"Content-Length: 12582912\r\n\r\n{\"code\": \"")
    assert status == 413 and "error" in json.loads(body)
    # unknown fields are ignored; NUL bytes in code are the program's problem
    r = pod.execute("echo fine", extra={"x": 1})
    assert r.status == 200 and r.json()["stdout"] == "fine\n"
    r = pod.execute("echo a\u0000b")
    assert r.status == 200
    assert s.request("GET", "/health").status == 200


def raw_request(sock_path, data):
    """Sends data, then reads one HTTP response (status, body) until EOF."""
    import socket
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(10)
        c.connect(sock_path)
        c.sendall(data)
        buf = b""
        while True:
            try:
                chunk = c.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
            head, sep, rest = buf.partition(b"\r\n\r\n")
            if sep:
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:") and \
                            len(rest) >= int(line.split(b":")[1]):
                        return int(head.split()[1]), rest
    head, _, rest = buf.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def test_python_rootfs(pypod):
    res = pypod.run("import os, sys\nprint(sys.version_info[0], os.environ.get('MARKER'))\n"
                    "print(sorted(os.environ))")
    assert res["exit_code"] == 0, res
    assert res["stdout"].startswith("3 1\n")
    assert "KCR_TEST_SECRET" not in res["stdout"]
    res = pypod.run("import sys\nsys.stderr.write('err\\n')\nraise SystemExit(7)")
    assert res["exit_code"] == 7 and res["stderr"] == "err\n"
    res = pypod.run("print(input()[::-1])", stdin="abc\n")
    assert res["stdout"] == "cba\n"


def test_python_segfault_is_139(pypod):
    res = pypod.run("import ctypes\nctypes.string_at(0)")
    assert res["exit_code"] == 139 and res["signal"] == 11


def test_compile_step_failure_and_success(pypod):
    if not shutil.which("gcc"):
        pytest.skip("gcc not installed on the host (its /usr is the rootfs)")
    bad = pypod.run("int main(void) { return oops; }", lang="c", timeout=60)
    assert bad["exit_code"] != 0 and "oops" in bad["stderr"]
    good = pypod.run('#include <stdio.h>\nint main(int c, char **v) { printf("%d %s\\n", c, '
                     'v[1]); return 5; }', lang="c", args=["arg1"], timeout=60)
    assert good["exit_code"] == 5, good
    assert good["stdout"] == "2 arg1\n"


def test_chroot_only_target(tmp_path, build_dir):
    require_root_and_binaries(build_dir)
    with Pod(tmp_path, build_dir, chroot_only=True) as p:
        res = p.run("only-in-rootfs; exec kcr-probe env")
        assert res["stdout"].startswith(MARKER_OUTPUT + "\n")
        assert "MARKER=1" in res["stdout"] and Sidecar.SECRET not in res["stdout"]
        ps = p.run("exec kcr-probe ps")
        assert ps["stdout"].split()[1:] == ["1", "2"], ps


def test_main_container_restart_is_noticed(tmp_path, build_dir):
    require_root_and_binaries(build_dir)
    with Pod(tmp_path, build_dir) as p:
        assert p.run("echo one")["stdout"] == "one\n"
        p.main.stop()
        assert p.sidecar.request("GET", "/ready").status == 503
        assert p.execute("echo two").status == 503


def test_overhead_of_nsexec(pod, build_dir):
    """Per-execution cost of kcr-nsexec vs a bare fork+exec (logged, not asserted)."""
    nsexec = os.path.join(build_dir, "kcr-nsexec")
    n = 50
    t0 = time.perf_counter()
    for _ in range(n):
        subprocess.run(["/bin/true"], check=True)
    bare = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        subprocess.run([nsexec, "--target", str(pod.main.pid), "--wd", "/", "--", "true"],
                       check=True, env={})
    ns = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(20):
        pod.run("exit 0")
    http = (time.perf_counter() - t0) / 20
    print(f"\nOVERHEAD bare fork+exec {bare * 1e3:.2f} ms, kcr-nsexec {ns * 1e3:.2f} ms "
          f"(+{(ns - bare) * 1e3:.2f} ms), POST /execute round trip {http * 1e3:.2f} ms")


def test_nsexec_cli_directly(pod, build_dir):
    nsexec = os.path.join(build_dir, "kcr-nsexec")
    pid = str(pod.main.pid)
    r = subprocess.run([nsexec, "--target", pid, "--wd", "/tmp", "--setenv", "MARKER=2",
                        "--setenv", "EXTRA=x", "--", "kcr-probe", "env"],
                       capture_output=True, text=True, env={"LEAK": "no"}, timeout=30)
    assert r.returncode == 0, r.stderr
    env = dict(l.split("=", 1) for l in r.stdout.splitlines())
    assert env["MARKER"] == "2" and env["EXTRA"] == "x" and "LEAK" not in env
    r = subprocess.run([nsexec, "--target", pid, "--wd", "/no/such", "--", "true"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 127 and r.stderr == "kcr-nsexec: chdir: No such file or directory\n"
    r = subprocess.run([nsexec, "--target", pid, "--wd", "/", "--target-start", "1", "--",
                        "true"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 127 and "verify target" in r.stderr
    r = subprocess.run([nsexec, "--target", "1", "--wd", "/", "--", "true"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--target" in r.stderr
    r = subprocess.run([nsexec, "--target", pid, "--wd", "rel", "--", "true"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    r = subprocess.run([nsexec, "--target", pid, "--wd", "/", "--", "exit-code-probe-missing"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 127 and "resolve program" in r.stderr


def _fd_holders(target):
    """pids other than ours with an fd open on target (a readlink of an fd)."""
    out = set()
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{d}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{d}/fd/{fd}") == target:
                    out.add(int(d))
            except OSError:
                pass
    out.discard(os.getpid())
    return out


def test_nsexec_pass_fd(pod, build_dir):
    """--pass-fd N: the program (and its children) get fd N, open across
    exec; kcr-nsexec and its init keep no copy once the program exists."""
    nsexec = os.path.join(build_dir, "kcr-nsexec")
    base = [nsexec, "--target", str(pod.main.pid), "--wd", "/"]
    r_end, w_end = os.pipe()
    try:
        n = str(w_end)
        r = subprocess.run(base + ["--pass-fd", n, "--", "kcr-probe", "fds"],
                           capture_output=True, text=True, pass_fds=(w_end,), timeout=30)
        assert r.returncode == 0 and r.stdout == f"fds: 0 1 2 {n}\n", r
        target = os.readlink(f"/proc/self/fd/{w_end}")
        p = subprocess.Popen(base + ["--pass-fd", n, "--", "kcr-probe", "sleep", "30"],
                             pass_fds=(w_end,))
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                h = _fd_holders(target)
                if len(h) == 1 and p.pid not in h:
                    break
                time.sleep(0.05)
            (prog,) = h  # the program alone: not kcr-nsexec, not its init
            assert p.pid not in h and prog not in children(p.pid), h
        finally:
            p.kill()
            p.wait()
        for bad in (["--pass-fd", "2"], ["--pass-fd", n, "--pass-fd", n],
                    ["--report-fd", n, "--pass-fd", n], ["--pass-fd", "1000"],
                    ["--pass-fd", n, "--fork-server", "/nonexistent"]):
            r = subprocess.run(base + bad + ["--", "python", "-c", "1"], capture_output=True,
                               text=True, pass_fds=(w_end,), timeout=30)
            assert r.returncode == 2 and "usage" in r.stderr, (bad, r.stderr)
    finally:
        os.close(r_end)
        os.close(w_end)


def test_small_output_cap(tmp_path, build_dir):
    require_root_and_binaries(build_dir)
    from maincontainer_util import Pod
    with Pod(tmp_path, build_dir, extra_env={"MAX_OUTPUT_SIZE": "2048"}) as p:
        res = p.run("kcr-probe flood 100000")
        assert res["stdout"].startswith("x" * 1023 + "\n")
        assert res["stdout"].endswith("[output truncated: limit of 2048 bytes reached]\n")
        assert len(res["stdout"]) < 2048 + 100


def test_bad_config_exits_2_with_one_line(tmp_path, build_dir):
    require_root_and_binaries(build_dir)
    sc = os.path.join(build_dir, "kcr-sidecar")
    for env in ({"LANGUAGE": "cobol"}, {"MAX_EXECUTION_TIME": "9999"},
                {"WORKING_DIR": str(tmp_path / "missing")}, {"SIDECAR_PORT": "x"},
                {"KCR_NSEXEC": "/nonexistent"}, {"KCR_READY_FD": "2"},
                {"KCR_READY_FD": "77"}):
        full = {"WORKING_DIR": str(tmp_path), "SIDECAR_SOCKET": str(tmp_path / "s.sock")}
        full.update(env)
        r = subprocess.run([sc], env=full, capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (env, r.stderr)
        name = next(iter(env))
        assert r.stderr.count("\n") == 1 and name in r.stderr, r.stderr


def test_ready_fd_is_closed_once_listening(tmp_path, build_dir):
    """KCR_READY_FD: a local pod's manager waits for EOF on a pipe instead of
    polling for the socket. EOF (no copy of the write end is left) must mean
    "listening", with the sidecar alive."""
    require_root_and_binaries(build_dir)
    import socket
    r, w = os.pipe()
    sock = str(tmp_path / "s.sock")
    env = {"WORKING_DIR": str(tmp_path), "SIDECAR_SOCKET": sock, "KCR_READY_FD": str(w)}
    proc = subprocess.Popen([os.path.join(build_dir, "kcr-sidecar")], env=env, pass_fds=(w,),
                            stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        import select
        assert select.select([r], [], [], 10)[0], "no EOF within 10 s"
        assert os.read(r, 1) == b""  # EOF: the sidecar closed its end
        assert proc.poll() is None
        c = socket.socket(socket.AF_UNIX)
        c.connect(sock)  # listening already: no retry needed
        c.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        assert b" 200 " in c.recv(4096).split(b"\r\n")[0] + b" "
        c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        os.close(r)


def test_pinned_main_pid(tmp_path, build_dir):
    """KCR_MAIN_PID: the local backend names the process instead of a scan."""
    require_root_and_binaries(build_dir)
    from maincontainer_util import MainContainer
    mc = MainContainer(str(tmp_path), os.path.join(build_dir, "kcr-probe")).start()
    sc = None
    try:
        sc = Sidecar(build_dir, str(tmp_path), mc.data, "kcr-not-the-name",
                     extra_env={"KCR_MAIN_PID": str(mc.pid)}).start()
        assert sc.request("GET", "/ready").json()["main_pid"] == mc.pid
        r = sc.execute("only-in-rootfs")
        assert r.status == 200 and r.json()["stdout"] == MARKER_OUTPUT + "\n"
        mc.stop()
        assert sc.request("GET", "/ready").status == 503
        assert sc.execute("true").status == 503
    finally:
        if sc:
            sc.stop()
        mc.stop()


GO_ENV = """package main

import (
\t"fmt"
\t"os"
)

func main() { fmt.Println(os.Getenv("GOPROXY"), os.Getenv("GOSUMDB")) }
"""


@pytest.mark.parametrize("isolated,want", [("true", "off off\n"), ("false", " \n")])
def test_network_isolated_sets_go_offline(tmp_path, build_dir, isolated, want):
    """NETWORK_ISOLATED (set in Kubernetes pod specs) gives Go programs
    GOPROXY=off GOSUMDB=off on top of the main container's environment."""
    require_root_and_binaries(build_dir)
    if not shutil.which("go"):
        pytest.skip("no Go toolchain on this machine")
    with Pod(tmp_path, build_dir, kind="python", language="go",
             extra_env={"NETWORK_ISOLATED": isolated}) as p:
        r = p.run(GO_ENV, timeout=60)
        assert r["exit_code"] == 0, r
        assert r["stdout"] == want, r
