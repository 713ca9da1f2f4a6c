"""Local pods (issue 3, core): a pod made by `kcr pod run` is isolated as
docs/local-pods.md says, carries its cgroup limits, and leaves nothing behind.

Every test uses its own run dir and cgroup parent (KCR_CGROUP_PARENT), so
leftover counts are not disturbed by other kcr instances on the machine."""
import json
import os
import shutil
import tempfile
import threading
import time

import pytest

from pod_util import LocalPod, PodError

pytestmark = pytest.mark.needs_root

CG_ROOT = "/sys/fs/cgroup"
N_TEARDOWN = int(os.environ.get("KCR_POD_TEARDOWN_N", "200"))


def cgroup_dirs(parent):
    """Every pod cgroup directory under <hierarchy>/<parent>/ (v1 and v2)."""
    out = []
    for hier in sorted(os.listdir(CG_ROOT)) + [""]:
        base = os.path.join(CG_ROOT, hier, parent)
        if os.path.isdir(base):
            out += [os.path.join(base, d) for d in os.listdir(base)
                    if os.path.isdir(os.path.join(base, d))]
    return out


def v1_dir(ctrl, parent, pod_id):
    return os.path.join(CG_ROOT, ctrl, parent, pod_id)


def procs_mentioning(*needles):
    """pids whose cgroup membership or environment mentions one of needles."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cgroup", "rb") as f:
                text = f.read()
            with open(f"/proc/{pid}/environ", "rb") as f:
                text += f.read()
        except OSError:
            continue
        if any(n.encode() in text for n in needles):
            found.append(int(pid))
    return found


def pod_members(parent, pod_id):
    """Host pids in the pod's v1 pids cgroup, or None without v1."""
    path = os.path.join(v1_dir("pids", parent, pod_id), "cgroup.procs")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return [int(x) for x in f.read().split()]


def mounts_mentioning(needle):
    with open("/proc/self/mountinfo") as f:
        return [l for l in f if needle in l]


@pytest.fixture
def podenv(build_dir):
    run_dir = tempfile.mkdtemp(prefix="kcr-e2e-run-")
    os.chmod(run_dir, 0o755)  # the sidecar (uid 65532) must reach its socket
    parent = f"kcr-e2e-{os.getpid()}-{int(time.time() * 1000) % 100000}"
    env = {"KCR_BUILD": build_dir, "KCR_RUN_DIR": run_dir, "KCR_CGROUP_PARENT": parent}
    yield env
    for hier in os.listdir(CG_ROOT) + [""]:
        base = os.path.join(CG_ROOT, hier, parent)
        if os.path.isdir(base):
            try:
                os.rmdir(base)
            except OSError:
                pass
    shutil.rmtree(run_dir, ignore_errors=True)


def pod(env, lang="py", **extra):
    e = dict(env)
    e.update(extra)
    return LocalPod(lang, build_dir=env["KCR_BUILD"], env=e)


INSIDE = r'''
import errno, json, os, socket
def try_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return 0
    except OSError as e:
        return e.errno
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
cmds = {}
for p in pids:
    try:
        cmds[p] = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[0].decode()
    except OSError:
        cmds[p] = "?"
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "pids": pids, "cmds": cmds,
    "ifaces": [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]],
    "hostname": socket.gethostname(),
    "root_write": try_write("/kcr-probe"), "etc_write": try_write("/etc/passwd"),
    "usr_write": try_write("/usr/kcr-probe"),
    "tmp_write": try_write("/tmp/probe"), "data_write": try_write("/mnt/data/probe"),
    "shm_write": try_write("/dev/shm/probe"),
    "shadow": os.path.exists("/etc/shadow"), "root_home": os.path.exists("/root"),
    "home": os.path.exists("/home"), "var": os.path.exists("/var"),
    "passwd": open("/etc/passwd").read(),
    "cgroup": open("/proc/self/cgroup").read(),
    "env": dict(os.environ),
    "status": {l.split(":")[0]: l.split(":", 1)[1].strip()
               for l in open("/proc/self/status") if l.startswith(("Cap", "NoNewPrivs", "Seccomp"))},
}))
'''


def test_pod_comes_up_isolated(podenv):
    with pod(podenv) as p:
        assert p.ready()
        r = p.execute(INSIDE, timeout=20)
        assert r["exit_code"] == 0, r["stderr"]
        d = json.loads(r["stdout"])
        assert d["uid"] == 65532 and d["gid"] == 65532 and d["groups"] in ([], [65532])
        # User code sees only its own execution's processes (kcr-nsexec as
        # pid 1 of a nested pid namespace): not the sidecar, not the host.
        assert max(d["pids"]) < 16 and len(d["pids"]) <= 4, d["cmds"]
        assert not any("sidecar" in c or "sleep" in c for c in d["cmds"].values()), d["cmds"]
        assert d["ifaces"] == ["lo"]
        assert d["hostname"] == "kcr"
        assert d["root_write"] == 30 and d["etc_write"] == 30 and d["usr_write"] == 30  # EROFS
        assert d["tmp_write"] == 0 and d["data_write"] == 0 and d["shm_write"] == 0
        assert not d["shadow"] and not d["root_home"] and not d["home"] and not d["var"]
        assert "kcr:x:65532:65532" in d["passwd"]
        # The cgroup namespace is rooted at the pod's cgroup.
        assert all(line.endswith(":/") for line in d["cgroup"].split()), d["cgroup"]
        assert d["env"].get("HOME") == "/tmp" and "KCR_RUN_DIR" not in d["env"]
        assert d["status"]["CapEff"] == "0000000000000000"
        # The host sees the file the code wrote only through the pod.
        assert p.get_file("probe") == b"x"
        # From the host: the pod's processes live in their own pid namespace
        # (init is pid 1 there) and main runs `sleep infinity` as 65532.
        members = pod_members(podenv["KCR_CGROUP_PARENT"], p.id)
        if members is not None:
            inner = {}
            for pid in members:
                # The execution's kcr-nsexec may still be exiting (the sidecar
                # answers once the run is reported, before that teardown).
                try:
                    with open(f"/proc/{pid}/status") as f:
                        st = dict(l.split(":", 1) for l in f if ":" in l)
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read().split(b"\0")
                except (FileNotFoundError, ProcessLookupError):
                    continue
                if "NSpid" not in st:
                    continue
                inner[int(st["NSpid"].split()[-1])] = (cmd, st["Uid"].split()[0])
            assert 1 in inner
            assert any(c[:2] == [b"sleep", b"infinity"] and uid == "65532"
                       for c, uid in inner.values()), inner


LIST_WRITER = r"""
import os
os.makedirs("/mnt/data/plots/deep", exist_ok=True)
open("/mnt/data/out.csv", "w").write("a,b\n")
open("/mnt/data/plots/deep/p.txt", "w").write("p")
os.symlink("/etc", "/mnt/data/plots/etc-link")
os.symlink("/mnt/data/out.csv", "/mnt/data/out-link.csv")
os.mkfifo("/mnt/data/fifo")
print("written")
"""


def test_execute_answers_the_listing_when_asked(podenv):
    """A real pod (the runner, the sandbox, uid 65532): /execute with
    list_files answers the listing GET /files?recursive=1 gives afterwards,
    without following the program's symlinks; without it, no listing."""
    with pod(podenv) as p:
        r = p.execute(LIST_WRITER, timeout=20, list_files=True)
        assert r["exit_code"] == 0 and r["stdout"] == "written\n", r
        names = sorted(f["name"] for f in r["listing"]["files"] if f["name"] != "code.py")
        assert names == ["out.csv", "plots/deep/p.txt"], names
        assert r["listing"]["truncated"] is False
        assert sorted(r["listing"]["files"], key=lambda f: f["name"]) == \
            sorted(p.list_files(recursive=True), key=lambda f: f["name"])
        again = p.execute("print(1)", timeout=20)
        assert again["stdout"] == "1\n"
        assert not {"listing", "listing_ms", "listing_error"} & set(again), again


def test_limits_visible_in_cgroup_files(podenv):
    if not os.path.isdir(os.path.join(CG_ROOT, "memory")):
        pytest.skip("cgroup v1 memory hierarchy not mounted (pure v2 host)")
    parent = podenv["KCR_CGROUP_PARENT"]
    with pod(podenv, MAX_MEMORY_MB="128", MAX_PIDS="64", MAX_CPUS="0.5") as p:
        mem = v1_dir("memory", parent, p.id)
        with open(os.path.join(mem, "memory.limit_in_bytes")) as f:
            assert int(f.read()) == 128 << 20
        with open(os.path.join(v1_dir("pids", parent, p.id), "pids.max")) as f:
            assert f.read().strip() == "64"
        cpu = v1_dir("cpu", parent, p.id)
        if os.path.isdir(cpu):
            with open(os.path.join(cpu, "cpu.cfs_quota_us")) as f:
                assert int(f.read()) == 50000
        # The pod's processes (init, main, sidecar) are in it.
        with open(os.path.join(mem, "cgroup.procs")) as f:
            assert len(f.read().split()) >= 3
        # User code is charged to the pod too: 65 processes cannot exist.
        r = p.execute("import os\nn=0\ntry:\n    while n < 100:\n        if os.fork() == 0:\n"
                      "            import time; time.sleep(5); os._exit(0)\n        n += 1\n"
                      "except OSError as e:\n    print('EAGAIN', n, e.errno)\n", timeout=20)
        assert "EAGAIN" in r["stdout"], r
        assert int(r["stdout"].split()[1]) < 64
        # ... and to its memory: 300 MiB do not fit in 128.
        r = p.execute("b = []\nwhile len(b) < 30:\n    b.append(bytearray(10 << 20))\n"
                      "print('survived')\n", timeout=20)
        assert "survived" not in r["stdout"] and r["exit_code"] == 137, r


def snapshot(env):
    run_dir, parent = env["KCR_RUN_DIR"], env["KCR_CGROUP_PARENT"]
    pods_dir = os.path.join(run_dir, "pods")
    files = []
    for dirpath, dirnames, filenames in os.walk(pods_dir):
        files += [os.path.join(dirpath, n) for n in dirnames + filenames]
    return {
        "cgroups": cgroup_dirs(parent),
        "pod_dirs_and_sockets": files,
        "procs": procs_mentioning(parent, run_dir),
        "mounts": mounts_mentioning(run_dir),
        "mount_lines": open("/proc/self/mountinfo").read().splitlines(),
        "nsexec_copies": os.listdir(os.path.join(run_dir, "bin"))
        if os.path.isdir(os.path.join(run_dir, "bin")) else [],
    }


@pytest.mark.slow
def test_teardown_leaves_nothing(podenv):
    before = snapshot(podenv)
    assert before["cgroups"] == [] and before["procs"] == []
    start = time.monotonic()
    for i in range(N_TEARDOWN):
        with pod(podenv) as p:
            r = p.execute(f"open('/mnt/data/f{i}', 'w').write('x'); print({i})")
            assert r["stdout"] == f"{i}\n", r
    elapsed = time.monotonic() - start
    after = snapshot(podenv)
    print(f"{N_TEARDOWN} pods created, used and destroyed in {elapsed:.1f}s")
    assert after["cgroups"] == []
    assert after["pod_dirs_and_sockets"] == []
    assert after["procs"] == []
    assert after["mounts"] == []
    # Other programs on the machine may mount things meanwhile (dockerd in
    # other suites): what must not appear is a proc, tmpfs or bind of ours.
    new_mounts = [l for l in after["mount_lines"] if l not in before["mount_lines"]]
    assert [l for l in new_mounts
            if " - proc " in l or " - tmpfs " in l or podenv["KCR_RUN_DIR"] in l] == []
    assert after["nsexec_copies"] == []


def test_fork_bomb_torn_down_instantly(podenv):
    parent = podenv["KCR_CGROUP_PARENT"]
    p = pod(podenv, MAX_PIDS="128").__enter__()
    # Children keep forking too; failures (EAGAIN at pids.max) are retried.
    bomb = ("import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
            "        time.sleep(0.01)\n")
    try:
        t = threading.Thread(target=lambda: _ignore(p.execute, bomb, timeout=25), daemon=True)
        t.start()
        pids = os.path.join(v1_dir("pids", parent, p.id), "pids.current") \
            if os.path.isdir(os.path.join(CG_ROOT, "pids")) else None
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline:
            with open(pids) as f:
                if int(f.read()) >= 100:
                    break
            time.sleep(0.05)
        if pids:
            with open(pids) as f:
                assert int(f.read()) >= 100, "fork bomb did not fill the pids limit"
    except BaseException:
        p.close()  # a failed check must not leave the pod behind
        raise
    start = time.monotonic()
    p.close()
    took = time.monotonic() - start
    print(f"fork-bomb pod torn down in {took * 1000:.0f} ms")
    assert p.proc.returncode == 0
    assert took < 5, f"teardown took {took:.2f}s"
    assert cgroup_dirs(parent) == []
    assert procs_mentioning(parent, podenv["KCR_RUN_DIR"]) == []
    t.join(timeout=10)


def _ignore(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except Exception:
        pass


def test_missing_runtime_is_a_clear_error(podenv):
    start = time.monotonic()
    with pytest.raises(PodError) as e:
        with pod(podenv, KCR_RUNTIME_DIR="/nonexistent/kcr-runtime"):
            pass
    assert time.monotonic() - start < 10
    msg = str(e.value)
    assert "runtime missing for language 'py'" in msg and "'python'" in msg, msg
    assert cgroup_dirs(podenv["KCR_CGROUP_PARENT"]) == []


def test_unknown_language_is_a_clear_error(podenv):
    with pytest.raises(PodError) as e:
        with pod(podenv, lang="cobol"):
            pass
    assert "unknown language 'cobol'" in str(e.value)


def test_missing_sidecar_is_a_clear_error(podenv):
    with pytest.raises(PodError) as e:
        with pod(podenv, KCR_SIDECAR_BIN="/nonexistent/kcr-sidecar"):
            pass
    assert "kcr-sidecar '/nonexistent/kcr-sidecar'" in str(e.value)


def test_nsexec_of_someone_else_gets_no_capabilities(podenv, tmp_path):
    """The manager grants file capabilities to a copy of KCR_NSEXEC_BIN: a
    binary another user owns or may write is refused (issue 13, item 9)."""
    src = os.path.join(podenv["KCR_BUILD"], "kcr-nsexec")
    for owner, mode in ((65534, 0o755), (0, 0o777), (0, 0o775)):
        planted = tmp_path / f"kcr-nsexec-{owner}-{mode:o}"
        shutil.copy(src, planted)
        os.chown(planted, owner, owner)
        os.chmod(planted, mode)
        with pytest.raises(PodError) as e:
            with pod(podenv, KCR_NSEXEC_BIN=str(planted)):
                pass
        assert "must be owned by root and writable by no one else" in str(e.value), e.value
    # The build's own (root, 0755) is accepted.
    with pod(podenv, KCR_NSEXEC_BIN=src) as p:
        assert p.execute(code="print('ok')")["stdout"] == "ok\n"


def test_run_dir_of_someone_else_is_refused(podenv):
    """A run dir another user made first (mkdir -p accepts it) or that others
    may write is refused, naming KCR_RUN_DIR: pod sockets live there."""
    base = podenv["KCR_RUN_DIR"]
    theirs = os.path.join(base, "theirs")
    os.mkdir(theirs, 0o755)
    os.chown(theirs, 12345, 12345)
    open_to_group = os.path.join(base, "group-writable")
    os.mkdir(open_to_group)
    os.chmod(open_to_group, 0o775)
    link = os.path.join(base, "link")
    os.symlink(theirs, link)
    for run_dir, why in ((theirs, "uid 12345"), (open_to_group, "mode 0775"),
                         (link, "KCR_RUN_DIR")):
        with pytest.raises(PodError) as e:
            with pod(podenv, KCR_RUN_DIR=run_dir):
                pass
        assert "KCR_RUN_DIR" in str(e.value) and why in str(e.value), str(e.value)
        assert not os.path.exists(os.path.join(run_dir, "pods"))  # nothing made in it


def test_rootless_pod_is_degraded_but_isolated(podenv):
    """Not root: a user namespace maps 65532 inside to the caller; no cgroups."""
    run_dir = os.path.join(podenv["KCR_RUN_DIR"], "rootless")
    os.mkdir(run_dir)
    os.chown(run_dir, 65534, 65534)
    env = dict(podenv, KCR_RUN_DIR=run_dir)
    with LocalPod("py", build_dir=env["KCR_BUILD"], env=env, run_as=65534) as p:
        assert p.health["status"] == "degraded" and p.health["isolation"] == "rootless"
        assert p.health["cgroups"] == "disabled"
        r = p.execute(INSIDE, timeout=20)
        assert r["exit_code"] == 0, r["stderr"]
        d = json.loads(r["stdout"])
        assert d["uid"] == 65532 and d["ifaces"] == ["lo"] and d["hostname"] == "kcr"
        assert d["root_write"] == 30 and d["tmp_write"] == 0 and d["data_write"] == 0
        assert not d["shadow"] and d["status"]["CapEff"] == "0000000000000000"
    assert os.listdir(os.path.join(run_dir, "pods")) == []
    assert procs_mentioning(run_dir) == []


def test_gc_removes_leftovers_of_a_crashed_run(podenv):
    """`kcr pod gc`: cgroups (with a live process in them) and pod dirs left by
    a kcr that was SIGKILLed are killed and removed."""
    import subprocess
    parent = podenv["KCR_CGROUP_PARENT"]
    if not os.path.isdir(os.path.join(CG_ROOT, "pids")):
        pytest.skip("cgroup v1 pids hierarchy not mounted")
    leftover = os.path.join(CG_ROOT, "pids", parent, "kcr-py-leftover")
    os.makedirs(leftover)
    sleeper = subprocess.Popen(["sleep", "1000"])
    with open(os.path.join(leftover, "cgroup.procs"), "w") as f:
        f.write(str(sleeper.pid))
    os.makedirs(os.path.join(podenv["KCR_RUN_DIR"], "pods", "kcr-py-leftover", "data"))
    env = dict(os.environ, **podenv)
    out = subprocess.run([os.path.join(podenv["KCR_BUILD"], "kcr"), "pod", "gc"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["cgroups_removed"] >= 1
    assert sleeper.wait(timeout=10) == -9
    assert cgroup_dirs(parent) == []
    assert not os.path.exists(os.path.join(podenv["KCR_RUN_DIR"], "pods"))


def _tree(pid):
    """pid and all its descendants."""
    kids = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{p}/stat") as f:
                kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(p))
        except OSError:
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def test_start_sweeps_what_a_crashed_kcr_left(podenv):
    """kill -9 of kcr *and* its pod manager (the process group, the OOM killer):
    the pods die with them, their cgroups and directories stay. The next
    start removes those, and only those: a live instance sharing the run dir
    keeps its pod (issue 13, item 11)."""
    import signal
    parent, run_dir = podenv["KCR_CGROUP_PARENT"], podenv["KCR_RUN_DIR"]
    pods_dir = os.path.join(run_dir, "pods")
    crashed = pod(podenv)
    crashed.start()
    with pod(podenv) as alive:
        mgr = [p for p in _tree(crashed.proc.pid) if p != crashed.proc.pid][0]
        for p in _tree(crashed.proc.pid):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it died with a process killed before it (PR_SET_PDEATHSIG)
        crashed.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while procs_mentioning(crashed.id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert procs_mentioning(crashed.id) == []
        # What the crash left: the pod's directory, cgroups, the manager's
        # kcr-nsexec copy.
        assert os.path.isdir(os.path.join(pods_dir, crashed.id))
        assert any(d.endswith("/" + crashed.id) for d in cgroup_dirs(parent))
        assert os.path.isdir(os.path.join(run_dir, "bin", str(mgr)))
        with pod(podenv) as later:
            left = sorted(os.listdir(pods_dir))
            assert crashed.id not in left and alive.id in left and later.id in left, left
            assert not any(d.endswith("/" + crashed.id) for d in cgroup_dirs(parent))
            assert not os.path.exists(os.path.join(run_dir, "bin", str(mgr)))
            assert alive.execute(code="print('still mine')")["stdout"] == "still mine\n"
            assert later.execute(code="print('new')")["stdout"] == "new\n"
    try:
        crashed.close(timeout=5)
    except Exception:
        pass


def test_nosuid_run_dir_is_a_clear_error(podenv):
    """kcr-nsexec's file capabilities would be ignored on a nosuid mount."""
    import subprocess
    mnt = os.path.join(podenv["KCR_RUN_DIR"], "nosuid")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "nosuid,size=1m,mode=755", "tmpfs", mnt],
                   check=True)
    try:
        with pytest.raises(PodError) as e:
            with pod(podenv, KCR_RUN_DIR=os.path.join(mnt, "run")):
                pass
        assert "nosuid or noexec mount" in str(e.value)
    finally:
        subprocess.run(["umount", mnt], check=True)


def test_full_disk_is_a_clear_error(podenv):
    """A run dir without room for a pod's directories (a tmpfs with too few
    inodes) fails the creation at once with the cause, and leaves no cgroup."""
    import subprocess
    mnt = os.path.join(podenv["KCR_RUN_DIR"], "full")
    os.mkdir(mnt)
    # Enough inodes for the manager's own files (run dir, bin/<pid>/kcr-nsexec,
    # pods/), none for a pod's.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,nr_inodes=6,mode=755", "tmpfs", mnt],
                   check=True)
    try:
        t0 = time.monotonic()
        with pytest.raises(PodError) as e:
            with pod(podenv, KCR_RUN_DIR=mnt):
                pass
        assert time.monotonic() - t0 < 10
        assert "No space left on device" in str(e.value), str(e.value)
        assert cgroup_dirs(podenv["KCR_CGROUP_PARENT"]) == []
    finally:
        subprocess.run(["umount", mnt], check=True)


def test_cgroups_unavailable_is_a_clear_error(podenv, build_dir):
    """Without cgroup hierarchies (unmounted in a private mount namespace),
    kcr pod run fails at once naming what is missing, instead of running
    pods without limits."""
    import shlex
    import subprocess
    from pod_util import kcr_binary
    env = dict(os.environ, **podenv)
    script = ("for m in $(awk '$3 ~ /^cgroup/ {print $2}' /proc/self/mounts | sort -r); do "
              "umount -l \"$m\"; done; exec " + shlex.quote(kcr_binary(build_dir)) +
              " pod run --lang py")
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       env=env, input="", capture_output=True, text=True, timeout=30)
    assert p.returncode != 0, p
    assert "cgroup unavailable" in p.stderr and "memory" in p.stderr, p.stderr


def test_nsexec_copy_runs_only_for_the_sidecar(podenv):
    """The manager's kcr-nsexec carries capabilities that enter any pod's main
    container: root-owned, group 65532, mode 0750, so other host users cannot
    exec it (and the capabilities survived the chown)."""
    import subprocess
    import stat
    with pod(podenv) as p:
        assert p.execute("print(1)")["stdout"] == "1\n"
        bin_dir = os.path.join(podenv["KCR_RUN_DIR"], "bin")
        (copy_dir,) = os.listdir(bin_dir)
        path = os.path.join(bin_dir, copy_dir, "kcr-nsexec")
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (0, 65532)
        assert stat.S_IMODE(st.st_mode) == 0o750
        caps = subprocess.run(["getcap", path], capture_output=True, text=True).stdout
        assert caps.split()[-1].endswith("=ep"), caps
        assert set(caps.split()[-1][:-3].split(",")) == {
            "cap_sys_admin", "cap_sys_chroot", "cap_sys_ptrace"}, caps
        # A plain uid change from root clears every capability (no keepcaps).
        with pytest.raises(PermissionError):
            subprocess.run([path, "--help"], user=1000, group=1000, extra_groups=[],
                           capture_output=True)
        sidecar = subprocess.run([path, "--help"], user=65532, group=65532, extra_groups=[],
                                 capture_output=True, text=True)
        assert "usage: kcr-nsexec" in sidecar.stderr, sidecar


def test_sidecar_finds_main_by_scanning(podenv):
    """As in Kubernetes, the sidecar is not told main's pid: it scans its
    /proc (the pod's) for the `sleep` process."""
    with pod(podenv) as p:
        assert p.execute("print('scanned')")["stdout"] == "scanned\n"
        want = ("SIDECAR_SOCKET=" + p.socket).encode()
        envs = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read().split(b"\0")
            except OSError:
                continue
            if want in env:
                envs.append(env)
        assert len(envs) == 1, "one sidecar serves the pod's socket"
        assert not [v for v in envs[0] if v.startswith(b"KCR_MAIN_PID=")], envs[0]
