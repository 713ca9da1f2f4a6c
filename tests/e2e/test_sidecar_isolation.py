"""What user code run by kcr-nsexec can and cannot do (docs/security.md
invariant 3, cases 12, 14, 15 and 17), observed with kcr-probe from inside a
real main container."""
import os

import pytest

from maincontainer_util import Sidecar, module_pod

pytestmark = pytest.mark.needs_root

REFUSED_EPERM = ["ptrace", "process_vm_readv", "mount", "umount2", "pivot_root", "unshare",
                 "setns", "keyctl", "add_key", "bpf", "perf_event_open", "userfaultfd",
                 "io_uring_setup", "kexec_load", "init_module", "chroot", "reboot", "open_tree",
                 "fsopen", "swapon", "acct", "settimeofday", "clone-newns", "clone-newuser",
                 "personality"]


pod = module_pod("iso")


def probe(pod, *args):
    return pod.run("exec kcr-probe " + " ".join(args))


def test_runs_as_65532_without_any_capability(pod):
    assert probe(pod, "uid")["stdout"] == "uid=65532/65532 gid=65532/65532 groups=0\n"
    caps = dict(l.split(":\t") for l in probe(pod, "caps")["stdout"].splitlines())
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(caps[k], 16) == 0, (k, caps[k])
    assert caps["NoNewPrivs"] == "1" and caps["Seccomp"] == "2"


def test_no_fd_beyond_stdio(pod):
    assert probe(pod, "fds")["stdout"] == "fds: 0 1 2\n"


def test_oom_score_and_rlimits(pod):
    assert probe(pod, "oom-adj")["stdout"] == "oom_score_adj: 1000\n"
    lim = dict(kv.split("=") for kv in probe(pod, "rlimits")["stdout"].split())
    assert lim["core"] == "0"
    assert 0 < int(lim["cpu"]) <= 40
    assert int(lim["nofile"]) <= 4096


@pytest.mark.parametrize("name", REFUSED_EPERM)
def test_dangerous_syscalls_refused(pod, name):
    res = probe(pod, "try-syscall", name)
    assert res["stdout"] == f"{name}: EPERM\n", res
    assert res["exit_code"] == 1


def test_sockets_only_af_unix(pod):
    for fam in ("socket-inet", "socket-inet6", "socket-netlink", "socket-alg", "socket-vsock",
                "socketpair-inet"):
        assert probe(pod, "try-syscall", fam)["stdout"] == f"{fam}: EPERM\n"
    assert probe(pod, "try-syscall", "socket-unix")["stdout"] == "socket-unix: ok\n"
    assert probe(pod, "try-syscall", "socketpair-unix")["stdout"] == "socketpair-unix: ok\n"


def test_clone3_falls_back_and_fork_works(pod):
    assert probe(pod, "try-syscall", "clone3")["stdout"] == "clone3: ENOSYS\n"
    assert probe(pod, "try-syscall", "fork")["stdout"] == "fork: ok\n"
    assert probe(pod, "try-syscall", "personality-query")["stdout"] == "personality-query: ok\n"


def test_sees_only_its_own_processes(pod):
    # pid 1 is kcr-nsexec's init, pid 2 the probe itself: nothing else
    assert probe(pod, "ps")["stdout"] == "pids: 1 2\n"
    assert probe(pod, "pid")["stdout"] == "pid=2 ppid=1\n"

def test_cannot_reach_the_sidecar(pod):
    sc = pod.sidecar.proc.pid
    assert probe(pod, "kill", str(sc), "9")["stdout"] == f"kill {sc} 9: ESRCH\n"
    assert probe(pod, "ptrace", str(sc))["stdout"] == f"ptrace {sc}: EPERM\n"
    r = probe(pod, "read", f"/proc/{sc}/environ")
    assert r["exit_code"] == 1 and Sidecar.SECRET not in r["stdout"]
    # pid 1 of the namespace is kcr-nsexec's init: non-dumpable, its environ is root's
    r = probe(pod, "read", "/proc/1/environ")
    assert r["stdout"] == "read /proc/1/environ: EACCES\n"
    assert probe(pod, "ptrace", "1")["stdout"] == "ptrace 1: EPERM\n"
    assert pod.sidecar.request("GET", "/health").status == 200


def test_kill_everything_kills_only_user_code(pod):
    res = pod.run("kcr-probe kill -1 9; echo after")
    assert res["exit_code"] in (0, 137)
    assert pod.sidecar.request("GET", "/health").status == 200
    assert pod.sidecar.request("GET", "/ready").status == 200
    assert os.path.exists(f"/proc/{pod.main.pid}")
    assert pod.run("echo still-works")["stdout"] == "still-works\n"
