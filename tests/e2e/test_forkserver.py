"""The fork-server (runtime/forkserver.py, src/sidecar/forkserver-child.c,
src/sidecar/nsexec-init.c): a warm Python pod's pre-started runner is not a
fresh `python -c` but a fork of a root template that preloaded the
data-science stack once; kcr-nsexec's init asks the template for it over a
unix SOCK_SEQPACKET socket, and the fork joins the pod and drops exactly as
kcr-nsexec would.

What is checked here, black-box:
  - the first run of a warm pod is that fork: the preloaded modules are
    already imported, and it runs as `python -c` (test_runner_is_a_fork...);
  - pods stay single-use: nothing a run changes in the preloaded modules, the
    interpreter, the environment or /tmp reaches the next run, and no two
    runs share random state (Python's, numpy's, the OS's);
  - the fork is sandboxed like any program (ids, capabilities, no_new_privs,
    seccomp, fds, cwd, pid namespace) and starts with what a fresh
    `python code.py` in the same pod would have (environment, sys.path,
    sys.flags, sys.executable...);
  - the template's shortened exit still does what an interpreter exit does
    (atexit handlers, files left open flushed) and exit statuses are those of
    `python` (sys.exit(n), sys.exit(msg), an exception, os._exit);
  - only kcr-nsexec's init of a pod may use the template: a request from the
    host (as root; as the pod user without capabilities; as the pod user with
    CAP_SYS_ADMIN but outside any pod cgroup) is refused with -EPERM before
    anything is forked; so are malformed requests and requests with another
    environment; the template keeps serving;
  - signal dispositions are a fresh interpreter's (the pod manager ignores
    terminal signals; the template must not pass that on);
  - FORKSERVER=false gives back the plain `python -c` runner.

Most tests share one `kcr serve` whose template preloads the default set
(each /exec gets a fresh pod, so a fresh fork); tests where the preload does
not matter use a LocalPod with PRELOAD_PY=none (its template is up in ~0.1 s).
In a pod of the fork-server the program is pid 3 of its pid namespace (init
is 1, the entrant 2 has exited); a program started by kcr-nsexec
itself is pid 2: that is how the tests tell which way a run went. The
sidecar starts its runner just after the pod's /ready, and a run that comes
in between starts it itself (test_execution_before_the_runner_starts_it);
runs that must find the runner waiting wait until it is there
(wait_for_runners)."""
import contextlib
import errno
import glob
import json
import os
import subprocess
import sys
import time

import pytest

from api_util import needs_pods, start_server
from pod_util import LocalPod, children, cmdline, wait_for_runners

def _kernel_at_least(major, minor):
    try:
        got = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    except ValueError:
        return True  # unknown format: let the tests say
    return got >= (major, minor)


# The template enters a pod with setns() on a pidfd (Linux 5.8); older
# kernels refuse it and every pod runs the ordinary runner (the fallback
# test_sidecar_runner.py covers), so there is no fork to test here.
needs_pidfd_setns = pytest.mark.skipif(not _kernel_at_least(5, 8),
                                       reason="setns() on a pidfd needs Linux 5.8")

pytestmark = [pytest.mark.needs_root, needs_pods, needs_pidfd_setns]

DEFAULT_PRELOAD = ("numpy,pandas,matplotlib,matplotlib.pyplot,scipy,scipy.stats,sklearn,"
                   "sklearn.linear_model,sklearn.model_selection,sklearn.ensemble,"
                   "sklearn.preprocessing,sklearn.metrics")
FIVE = ["matplotlib.pyplot", "numpy", "pandas", "scipy", "sklearn"]
FORKED_PID = 3  # the program's pid when the template forked it
RUN_DIR = "/run/kcr"
POOL = 2  # warm py pods of the module's kcr serve
LITE_POOL = 2  # and its warm lite py pods (runners forked from the template of nothing)


# --------------------------------------------------------------------------
# Helpers


@contextlib.contextmanager
def warm_pod(env=None, **kw):
    """A LocalPod whose runner is waiting (its first run is the fork)."""
    with LocalPod("py", env=env, **kw) as pod:
        wait_for_runners(pod.proc.pid, 1)
        yield pod


@pytest.fixture(scope="module")
def fs_server():
    """One kcr serve with the full default preload (one template for the
    module, and the lite pods' template of nothing); two warm py pods, two
    lite ones. Code that imports only the standard library takes a lite pod:
    the tests of the preloaded template import numpy."""
    s = start_server({"PRELOAD_PY": DEFAULT_PRELOAD, "POD_POOL_PY": str(POOL),
                      "POD_POOL_PY_LITE": str(LITE_POOL), "MAX_EXECUTION_TIME": "30"})
    yield s
    s.cleanup()


def run(server, code, **fields):
    """One /exec (a fresh pod, its first run); the response body."""
    wait_for_runners(server.proc.pid, POOL + LITE_POOL)
    r = server.exec(code, **fields)
    assert r.status_code == 200, r.text
    return r.json()


def run_json(server, code):
    """One /exec whose program prints one JSON line; that value."""
    b = run(server, code)
    assert b["stderr"] == "", b
    return json.loads(b["stdout"])


# --------------------------------------------------------------------------
# 1. The runner of a warm pod is a fork of the preloaded template


def test_runner_is_a_fork_of_the_preloaded_template(fs_server):
    # numpy makes it a standard pod's; the other four it does not import.
    b = run(fs_server, "import sys, numpy; print(sorted(m for m in ('numpy','pandas','sklearn',"
                       "'matplotlib.pyplot','scipy') if m in sys.modules)); "
                       "print(sys.orig_argv[1])")
    assert b["stderr"] == "", b
    assert b["stdout"] == f"{FIVE!r}\n-c\n", b


def test_standard_library_code_runs_in_a_lite_pod(fs_server):
    """Code that imports only the standard library takes a lite pod: its
    runner is a fork of the template that imported nothing (pid 3, as any
    fork), so the preloaded modules are not in sys.modules; code that
    imports numpy takes an ordinary one. Both behave as `python -c`."""
    lite = run(fs_server, "import json, os, sys\n"
                          "print(sorted(m for m in ('numpy', 'pandas', 'sklearn') if m in sys.modules),"
                          " os.getpid(), sys.orig_argv[1], json.dumps([1]))")
    assert lite["stdout"] == f"[] {FORKED_PID} -c [1]\n" and lite["stderr"] == "", lite
    std = run(fs_server, "import os, sys, numpy\n"
                         "print('sklearn' in sys.modules, os.getpid())")
    assert std["stdout"] == f"True {FORKED_PID}\n", std
    # Its template is the manager's second one, beside the preloaded one.
    mgrs = children(fs_server.proc.pid)
    assert any(os.path.exists(f"{RUN_DIR}/forkserver/{m}-py-lite/sock") for m in mgrs), \
        glob.glob(RUN_DIR + "/forkserver/*")
    pool = fs_server.get("/health/detailed").json()["services"]["pods"]["pool"]["py"]
    assert pool["target"] == POOL and pool["lite"]["target"] == LITE_POOL, pool
    metrics = fs_server.get("/metrics").text
    assert f'kcr_pool_pods{{language="py",kind="lite",state="target"}} {LITE_POOL}' in metrics, \
        [l for l in metrics.splitlines() if l.startswith("kcr_pool_pods")]


def test_code_with_state_takes_a_standard_pod(fs_server):
    """A session's saved state may hold numpy arrays (loading them imports
    numpy): stdlib-only code of a session with state takes an ordinary pod."""
    first = run(fs_server, "import numpy as np\na = np.arange(4)")
    assert first["has_state"] is True, first
    sid = first["session_id"]
    b = run(fs_server, "import sys\nprint('sklearn' in sys.modules, int(a.sum()))",
            session_id=sid)
    assert b["stdout"] == "True 6\n", b
    # A session without state: the same code takes a lite pod.
    b = run(fs_server, "import sys\nprint('sklearn' in sys.modules)")
    assert b["stdout"] == "False\n", b


def _strict_overcommit():
    with open("/proc/sys/vm/overcommit_memory") as f:
        return f.read().strip() == "2"


def test_preloaded_objects_live_in_one_region(fs_server):
    # The template serves CPython's arenas from one region so that they can
    # be backed by 2 MiB pages (src/sidecar/forkserver-arena.h): an object
    # the preload made (numpy.mean, a function) sits in one anonymous mapping
    # of at least 256 MiB, where each arena was a 1 MiB mapping of its own.
    if _strict_overcommit():
        pytest.skip("vm.overcommit_memory=2: the template keeps CPython's own arenas")
    b = run(fs_server, "import numpy\n"
                       "a = id(numpy.mean)\n"
                       "for line in open('/proc/self/maps'):\n"
                       "    f = line.split()\n"
                       "    lo, hi = (int(x, 16) for x in f[0].split('-'))\n"
                       "    if lo <= a < hi:\n"
                       "        print(hi - lo >= 256 << 20, len(f) == 5, f[1])\n")
    refused = [l for l in fs_server.stderr_lines if "no arena region" in l]
    if refused:  # e.g. an RLIMIT_AS too small for the reservation: slower, not unsafe
        pytest.skip("the template could not reserve its arena region: " + refused[0].strip())
    assert b["stdout"] == "True True rw-p\n", b


# --------------------------------------------------------------------------
# 2. Single use: nothing of one run reaches the next


OBSERVE = (
    "def __observe():\n"
    "    import json, os, sys\n"
    "    import numpy as np, pandas as pd, matplotlib.pyplot as plt\n"
    "    try:\n"
    "        mean = repr(np.mean([1, 2, 3]))\n"
    "    except Exception as e:\n"
    "        mean = 'error: %r' % (e,)\n"
    "    return {\n"
    "        'precision': np.get_printoptions()['precision'],\n"
    "        'mean': mean,\n"
    "        'max_rows': pd.get_option('display.max_rows'),\n"
    "        'linewidth': plt.rcParams['lines.linewidth'],\n"
    "        'fignums': plt.get_fignums(),\n"
    "        'json_mark': hasattr(json, 'KCR_MARK'),\n"
    "        'kcr_mark_module': 'kcr_mark' in sys.modules,\n"
    "        'env': os.environ.get('KCR_MARK'),\n"
    "        'tmp_file': os.path.exists('/tmp/kcr-mark'),\n"
    "    }\n"
)

MUTATE = (
    "import sys\n"
    "preloaded = 'sklearn' in sys.modules\n"
    "import os, json, types\n"
    "import numpy as np, pandas as pd, matplotlib.pyplot as plt\n"
    "np.set_printoptions(precision=1)\n"
    "np.mean = lambda *a, **k: 'patched'\n"
    "pd.set_option('display.max_rows', 3)\n"
    "plt.rcParams['lines.linewidth'] = 9.5\n"
    "plt.figure()\n"
    "json.KCR_MARK = 1\n"
    "sys.modules['kcr_mark'] = types.ModuleType('kcr_mark')\n"
    "os.environ['KCR_MARK'] = '1'\n"
    "open('/tmp/kcr-mark', 'w').write('x')\n"
    + OBSERVE +
    "print(json.dumps({'preloaded': preloaded, 'pid': os.getpid(), **__observe()}))\n"
)

OBSERVE_ONLY = (
    "import sys\n"
    "preloaded = 'sklearn' in sys.modules\n"
    "import os, json\n"
    + OBSERVE +
    "print(json.dumps({'preloaded': preloaded, 'pid': os.getpid(), **__observe()}))\n"
)

CLEAN = {"precision": 8, "mean": "2.0", "max_rows": 60, "linewidth": 1.5, "fignums": [],
         "json_mark": False, "kcr_mark_module": False, "env": None, "tmp_file": False}


def test_nothing_of_one_run_reaches_the_next(fs_server):
    first = run_json(fs_server, MUTATE)
    assert first.pop("preloaded") is True and first.pop("pid") == FORKED_PID, first
    # The changes were made (in the forked runner)...
    assert first == {"precision": 1, "mean": "'patched'", "max_rows": 3, "linewidth": 9.5,
                     "fignums": [1], "json_mark": True, "kcr_mark_module": True, "env": "1",
                     "tmp_file": True}, first
    # ...and the next run, forked from the same template, sees none of them.
    for _ in range(2):
        second = run_json(fs_server, OBSERVE_ONLY)
        assert second.pop("preloaded") is True and second.pop("pid") == FORKED_PID, second
        assert second == CLEAN, second


# --------------------------------------------------------------------------
# 3. Random state is not shared between pods


RNG = (
    "import json, os, random, sys, uuid\n"
    "preloaded = 'sklearn' in sys.modules\n"
    "import numpy\n"
    "print(json.dumps({'preloaded': preloaded, 'pid': os.getpid(), 'values': [\n"
    "    repr(random.random()), repr(numpy.random.rand()),\n"
    "    repr(numpy.random.default_rng().random()), os.urandom(8).hex(), str(uuid.uuid4())]}))\n"
)


def test_random_state_differs_between_pods(fs_server):
    runs = []
    for _ in range(3):
        out = run_json(fs_server, RNG)
        assert out["preloaded"] is True and out["pid"] == FORKED_PID, out
        runs.append(out["values"])
    names = ("random.random", "numpy.random.rand", "default_rng", "os.urandom", "uuid4")
    for i, name in enumerate(names):
        column = [r[i] for r in runs]
        assert len(set(column)) == 3, (name, column)
    every = [v for r in runs for v in r]
    assert len(set(every)) == len(every), runs


# --------------------------------------------------------------------------
# 4. Sandboxed, and started like a fresh interpreter


# Compared between the fork and `python code.py` of the same pod ("same"):
# all but RLIMIT_CPU, which a pre-started runner (forked or not) gets for the
# sidecar's longest run, a fresh program for the time its run has left.
PROBE = (
    "import json, os, resource, sys, threading\n"
    "preloaded = 'sklearn' in sys.modules\n"
    "st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines()\n"
    "          if ':' in l)\n"
    "st = {k: v.strip() for k, v in st.items()}\n"
    "print(json.dumps({\n"
    "    'preloaded': preloaded,\n"
    "    'pid': os.getpid(),\n"
    "    'ids': [os.getresuid(), os.getresgid(), os.getgroups()],\n"
    "    'caps': {k: st[k] for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')},\n"
    "    'no_new_privs': st['NoNewPrivs'], 'seccomp': st['Seccomp'],\n"
    "    'fds': sorted(int(f) for f in os.listdir('/proc/self/fd')),\n"
    "    'cwd': os.getcwd(),\n"
    "    'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),\n"
    "    'same': {\n"
    "        'env': dict(os.environ),\n"
    "        'path': sys.path,\n"
    "        'flags': list(sys.flags),\n"
    "        'executable': sys.executable,\n"
    "        'cwd': os.getcwd(),\n"
    "        'argv': sys.argv,\n"
    "        'umask': (lambda m: (os.umask(m), m)[1])(os.umask(0)),\n"
    "        'rlimits': [resource.getrlimit(r) for r in (resource.RLIMIT_FSIZE,\n"
    "                    resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC, resource.RLIMIT_CORE)],\n"
    "        'blocked': st['SigBlk'],\n"
    "        'stdio': [(s.encoding, s.errors, s.line_buffering) for s in\n"
    "                  (sys.stdin, sys.stdout, sys.stderr)],\n"
    "        'fsencoding': sys.getfilesystemencoding(),\n"
    "        'oom_score_adj': open('/proc/self/oom_score_adj').read().strip(),\n"
    # glibc's idea of the thread (its tid, set by the fork that made the
    # program), threads and children work as in a fresh interpreter.
    "        'tid_is_pid': threading.get_native_id() == os.getpid(),\n"
    "        'thread': (lambda t: (t.start(), t.join(), t.native_id != os.getpid())[2])(\n"
    "            threading.Thread(target=lambda: None)),\n"
    "        'child': (lambda p: 0 if p == 0 and os._exit(7) else\n"
    "                  os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]))(os.fork()),\n"
    "    },\n"
    "}))\n"
)


def test_forked_runner_is_sandboxed_and_starts_like_a_fresh_python():
    # The default preload: preloaded modules may set variables of their own
    # (sklearn sets KMP_*); the program must not see them.
    with warm_pod({"PRELOAD_PY": DEFAULT_PRELOAD}, start_timeout=120) as pod:
        a = pod.execute(PROBE, timeout=30)
        b = pod.execute(PROBE, timeout=30)
        which = pod.execute("import sys; print(sys.orig_argv[1])")
    for r in (a, b):
        assert r["exit_code"] == 0 and r["stderr"] == "", r
    forked, fresh = json.loads(a["stdout"]), json.loads(b["stdout"])
    # The first run was the template's fork, the second `python code.py`.
    assert forked["preloaded"] is True and forked["pid"] == FORKED_PID, forked
    assert fresh["preloaded"] is False and fresh["pid"] == 2, fresh
    assert which["stdout"] == "/mnt/data/code.py\n"
    for p in (forked, fresh):
        assert p["ids"] == [[65532] * 3, [65532] * 3, []], p["ids"]
        assert p["caps"] == {k: "0000000000000000" for k in
                             ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}, p["caps"]
        assert p["no_new_privs"] == "1" and p["seccomp"] == "2", p
        # 0, 1, 2 and the directory listdir opened.
        assert len(p["fds"]) == 4 and p["fds"][:3] == [0, 1, 2], p["fds"]
        assert p["cwd"] == "/mnt/data"
        # Only init and the program itself: the entrant is gone.
        assert p["pids"] == [1, p["pid"]], p["pids"]
    assert not any(k.startswith("KMP_") for k in forked["same"]["env"]), forked["same"]["env"]
    assert forked["same"]["tid_is_pid"] and forked["same"]["thread"], forked["same"]
    assert forked["same"]["child"] == 7, forked["same"]
    for key in fresh["same"]:
        assert forked["same"][key] == fresh["same"][key], (key, forked["same"][key],
                                                          fresh["same"][key])


# --------------------------------------------------------------------------
# 5. The template's exit: atexit handlers run, open files are flushed


def test_exit_runs_atexit_and_flushes_open_files():
    with warm_pod() as pod:
        r = pod.execute(
            "import atexit, os\n"
            "atexit.register(lambda: print('atexit ran'))\n"
            "f = open('/mnt/data/left-open.txt', 'w')\n"
            "f.write('kept' * 1000)\n"
            "g = open('/mnt/data/left-open-binary.bin', 'wb')\n"
            "g.write(b'\\x01' * 3000)\n"
            "print('pid', os.getpid())\n")
        assert r["exit_code"] == 0 and r["stderr"] == "", r
        assert r["stdout"] == f"pid {FORKED_PID}\natexit ran\n", r
        r = pod.execute(
            "import os\n"
            "print(os.path.getsize('/mnt/data/left-open.txt'),\n"
            "      open('/mnt/data/left-open.txt').read() == 'kept' * 1000,\n"
            "      os.path.getsize('/mnt/data/left-open-binary.bin'))\n")
        assert r["stdout"] == "4000 True 3000\n", r


# --------------------------------------------------------------------------
# 6. Exit statuses


EXITS = {
    "sys-exit-3": ("import sys; print('out'); sys.exit(3)", 3),
    "sys-exit-msg": ("import sys; sys.exit('msg')", 1),
    "exception": ("raise ValueError('x')", 1),
    "os-exit-4": ("import os, sys; sys.stdout.write('partial'); sys.stdout.flush(); os._exit(4)",
                  4),
    "sys-exit-none": ("import sys; sys.exit()", 0),
}


def test_exit_status_through_the_api(fs_server):
    # Every /exec is the first run of a fresh pod, so the forked runner; the
    # API reports an exit status in stderr when the program wrote none.
    probe = "import os, sys, numpy; print('sklearn' in sys.modules, os.getpid())\n"
    b = run(fs_server, probe + "sys.exit(3)")
    assert b["stdout"] == f"True {FORKED_PID}\n"
    assert b["stderr"] == "Code execution failed with exit code 3", b
    b = run(fs_server, probe + "sys.exit('msg')")
    assert b["stdout"] == f"True {FORKED_PID}\n" and b["stderr"] == "msg\n", b
    b = run(fs_server, probe + "raise ValueError('x')")
    assert b["stdout"] == f"True {FORKED_PID}\n", b
    assert b["stderr"].startswith("Traceback (most recent call last):\n"), b
    assert b["stderr"].endswith("\nValueError: x\n"), b
    b = run(fs_server, probe + "os._exit(4)")
    assert b["stdout"] == f"True {FORKED_PID}\n"
    assert b["stderr"] == "Code execution failed with exit code 4", b


@pytest.mark.parametrize("name", sorted(EXITS))
def test_exit_status_same_as_python(name):
    # The exact exit code, from the sidecar: the first run (the fork) and the
    # second (`python code.py`) of the same pod must agree.
    code, status = EXITS[name]
    with warm_pod() as pod:
        first = pod.execute(code + "\n")
        second = pod.execute(code + "\n")
        pids = [pod.execute("import os; print(os.getpid())")["stdout"]]
    keys = ("stdout", "stderr", "exit_code", "signal")
    assert first["exit_code"] == status, first
    assert {k: first[k] for k in keys} == {k: second[k] for k in keys}, (first, second)
    assert pids == ["2\n"]  # later runs are not forks
    if name == "sys-exit-msg":
        assert first["stderr"] == "msg\n"
    if name == "exception":
        assert first["stderr"].startswith("Traceback (most recent call last):\n")
        assert first["stderr"].endswith("\nValueError: x\n")
    if name == "os-exit-4":
        assert first["stdout"] == "partial"


def test_first_run_of_a_local_pod_is_forked():
    # What the tests of this file rely on: with PRELOAD_PY=none too, the
    # first run of a LocalPod is the template's fork (pid 3).
    with warm_pod() as pod:
        r = pod.execute("import os, sys; print(os.getpid(), sys.orig_argv[1])")
    assert r["stdout"] == f"{FORKED_PID} -c\n", r


# --------------------------------------------------------------------------
# 7. Only kcr-nsexec's init in a pod may use the template


def find_template(top_pid):
    """(socket path, template pid) of the py template of the pod manager that
    is a child of top_pid (`kcr serve` or `kcr pod run`)."""
    for mgr in children(top_pid):
        sock = f"{RUN_DIR}/forkserver/{mgr}-py/sock"
        if not os.path.exists(sock):
            continue
        for t in children(mgr):
            if cmdline(t)[1:2] == [b"/opt/kcr/forkserver.py"]:
                return sock, t
    pytest.fail(f"no fork-server template below pid {top_pid}: "
                f"{glob.glob(RUN_DIR + '/forkserver/*')}")


# Runs in a child process (so that it can become another user): sends one
# request to the template and reports what came back. argv[1] is a JSON
# object: sock, env (list), as ("root", "user": 65532 without capabilities,
# "admin": 65532 with CAP_SYS_ADMIN effective), variant.
CLIENT = r'''
import array, ctypes, errno, json, os, select, socket, struct, sys, time

a = json.loads(sys.argv[1])
if a["as"] in ("user", "admin"):
    libc = ctypes.CDLL(None, use_errno=True)
    if a["as"] == "admin":
        assert libc.prctl(8, 1, 0, 0, 0) == 0  # PR_SET_KEEPCAPS
    os.setgroups([])
    os.setresgid(65532, 65532, 65532)
    os.setresuid(65532, 65532, 65532)
    if a["as"] == "admin":
        hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
        data = (ctypes.c_uint32 * 6)(1 << 21, 1 << 21, 0, 0, 0, 0)  # CAP_SYS_ADMIN
        assert libc.capset(hdr, data) == 0, ctypes.get_errno()
status = {l.split(":")[0]: l.split(":", 1)[1].strip()
          for l in open("/proc/self/status").read().splitlines()}

MAGIC = 0x6B636673
magic = 0xDEADBEEF if a["variant"] == "bad-magic" else MAGIC
env = list(a["env"]) + (["X=1"] if a["variant"] == "other-env" else [])
argv = ["python", "-c" if a["variant"] != "not-dash-c" else "-m",
        "print('SHOULD NOT RUN'); open('/tmp/kcr-should-not-run', 'w')"]
strings = ["/mnt/data"] + argv + env
msg = struct.pack("=6I4Q", magic, 65532, 65532, len(argv), len(env), 0, 10, 1 << 20, 64, 64)
msg += b"".join(os.fsencode(s) + b"\0" for s in strings)

pin, pout, perr, pst = os.pipe(), os.pipe(), os.pipe(), os.pipe()
fds = [pin[0], pout[1], perr[1], pst[1]]
if a["variant"] == "three-fds":
    fds = fds[:3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(a["sock"])
s.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
reply = s.recv(16)
s.close()
for fd in (pin[0], pout[1], perr[1], pst[1]):
    os.close(fd)


def drain(fd, limit=10.0):
    out, end = b"", time.monotonic() + limit
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return out, False  # no EOF in time
        chunk = os.read(fd, 4096)
        if not chunk:
            return out, True
        out += chunk


st, st_eof = drain(pst[0])
out, out_eof = drain(pout[0])
err, err_eof = drain(perr[0])
os.close(pin[1])
print(json.dumps({
    "uid": os.getuid(), "cap_eff": status["CapEff"],
    "reply": list(struct.unpack("=%di" % (len(reply) // 4), reply)),
    "records": [list(struct.unpack_from("=ii", st, i)) for i in range(0, len(st) // 8 * 8, 8)],
    "status_extra": len(st) % 8, "status_eof": st_eof,
    "stdout": out.decode(errors="replace"), "stdout_eof": out_eof,
    "stderr": err.decode(errors="replace"), "stderr_eof": err_eof,
}))
'''


def template_request(sock, env, as_="root", variant="ok"):
    arg = json.dumps({"sock": sock, "env": env, "as": as_, "variant": variant})
    p = subprocess.run([sys.executable, "-c", CLIENT, arg], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_only_pod_inits_may_use_the_template(fs_server):
    sock, tpl = find_template(fs_server.proc.pid)
    st = os.stat(sock)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 65532, 0o660)
    with open(f"/proc/{tpl}/environ", "rb") as f:
        env = [os.fsdecode(e) for e in f.read().split(b"\0") if e]
    assert any(e.startswith("PATH=") for e in env), env

    # Well-formed requests from senders that are not a pod's kcr-nsexec init:
    # the template checks the sender's kernel credentials and refuses with
    # -EPERM; nothing is forked (the status pipe just closes).
    senders = {
        "root": None,                            # uid 0 on the host
        "user": "0000000000000000",              # the pod user, no capabilities
        "admin": f"{1 << 21:016x}",              # ... with CAP_SYS_ADMIN, outside /kcr/<id>
    }
    for as_, cap_eff in senders.items():
        r = template_request(sock, env, as_)
        if cap_eff is not None:
            assert r["uid"] == 65532 and r["cap_eff"] == cap_eff, r
        assert r["reply"] == [-errno.EPERM], (as_, r)
        assert r["records"] == [], (as_, r)
        assert r["status_extra"] == 0 and r["status_eof"], (as_, r)
        assert (r["stdout"], r["stdout_eof"]) == ("", True), (as_, r)
        assert (r["stderr"], r["stderr_eof"]) == ("", True), (as_, r)

    # Malformed requests, and one whose environment is not the template's
    # (one more variable): refused with a negative reply, nothing forked (the
    # status pipe just closes). The errno is checked by
    # test_other_environment_is_refused_with_eperm.
    for variant in ("bad-magic", "three-fds", "not-dash-c", "other-env"):
        r = template_request(sock, env, "root", variant)
        assert len(r["reply"]) == 1 and r["reply"][0] < 0, (variant, r)
        assert r["records"] == [] and r["status_extra"] == 0 and r["status_eof"], (variant, r)
        assert (r["stdout"], r["stdout_eof"]) == ("", True), (variant, r)

    # The template is still there and serving: the next pods (more than the
    # warm pool, so at least one made after the requests above) are its forks.
    assert os.path.exists(f"/proc/{tpl}") and os.path.exists(sock)
    for _ in range(3):
        b = run(fs_server, "import os, sys, numpy; print('sklearn' in sys.modules, os.getpid(), "
                           "os.path.exists('/tmp/kcr-should-not-run'))")
        assert b["stdout"] == f"True {FORKED_PID} False\n", b
    assert find_template(fs_server.proc.pid) == (sock, tpl)


def test_user_modules_in_the_working_dir_import():
    """The template's import caches for /mnt/data and /tmp are dropped in the
    fork: a module uploaded after the runner started is found."""
    with warm_pod() as pod:
        pod.put_file("kcr_user_mod.py", b"X = 42\n")
        out = pod.execute("import os, kcr_user_mod\nprint(kcr_user_mod.X, os.getpid())")
    assert out["stdout"] == f"42 {FORKED_PID}\n", out


def test_local_pod_template_refuses_the_host():
    # The same with a LocalPod's template (PRELOAD_PY=none), and the pod
    # keeps working afterwards.
    with warm_pod() as pod:
        sock, tpl = find_template(pod.proc.pid)
        with open(f"/proc/{tpl}/environ", "rb") as f:
            env = [os.fsdecode(e) for e in f.read().split(b"\0") if e]
        r = template_request(sock, env, "root")
        assert r["reply"] == [-errno.EPERM] and r["records"] == [], r
        assert r["status_eof"] and (r["stdout"], r["stdout_eof"]) == ("", True), r
        r = template_request(sock, env, "root", "bad-magic")
        assert len(r["reply"]) == 1 and r["reply"][0] < 0 and r["records"] == [], r
        r = template_request(sock, env, "root", "other-env")
        assert len(r["reply"]) == 1 and r["reply"][0] < 0 and r["records"] == [], r
        out = pod.execute("import os; print('still works', os.getpid())")
        assert out["exit_code"] == 0 and out["stdout"] == f"still works {FORKED_PID}\n", out
        out = pod.execute("print('again')")
        assert out["stdout"] == "again\n", out


def test_other_environment_is_refused_with_eperm():
    with warm_pod() as pod:
        sock, tpl = find_template(pod.proc.pid)
        with open(f"/proc/{tpl}/environ", "rb") as f:
            env = [os.fsdecode(e) for e in f.read().split(b"\0") if e]
        r = template_request(sock, env, "root", "other-env")
    assert r["reply"] == [-errno.EPERM] and r["records"] == [], r


# --------------------------------------------------------------------------
# Signal dispositions


SIGNALS = (
    "import json, os, signal, subprocess\n"
    "ign = [l for l in open('/proc/self/status') if l.startswith('SigIgn:')][0].split()[1]\n"
    "child = subprocess.Popen(['sleep', '30'])\n"
    "child.terminate()\n"
    "try:\n"
    "    terminated = child.wait(timeout=2)\n"
    "except subprocess.TimeoutExpired:\n"
    "    terminated = 'child ignored SIGTERM'\n"
    "    child.kill()\n"
    "    child.wait()\n"
    "print(json.dumps({'pid': os.getpid(), 'ignored': int(ign, 16) & 0x7fffffff,\n"
    "    'terminated': terminated, 'handlers': {\n"
    "        s.name: str(signal.getsignal(s)) for s in signal.Signals\n"
    "        if s < 32 and s not in (signal.SIGKILL, signal.SIGSTOP)}}))\n"
)


def test_signal_dispositions_same_as_python():
    # Dispositions of the standard signals (32 and 33 are glibc's own), and
    # what a program sees of them: terminating a child it started.
    with warm_pod() as pod:
        forked = json.loads(pod.execute(SIGNALS)["stdout"])
        fresh = json.loads(pod.execute(SIGNALS)["stdout"])
    assert (forked.pop("pid"), fresh.pop("pid")) == (FORKED_PID, 2)
    assert fresh["terminated"] == -15 and fresh["handlers"]["SIGINT"].startswith("<built-in")
    differ = {k: (forked["handlers"][k], v) for k, v in fresh["handlers"].items()
              if forked["handlers"][k] != v}
    assert differ == {}, differ
    assert forked == fresh


PLOT = (
    "import hashlib, os, matplotlib\n"
    "import matplotlib.pyplot as plt\n"
    "print(plt.get_fignums(), matplotlib.get_backend(), plt.isinteractive())\n"
    "fig, ax = plt.subplots()\n"
    "ax.plot([1, 2, 3], [1, 4, 9], label='squares')\n"
    "ax.set_title('Title ü')\n"
    "ax.legend()\n"
    "fig.savefig('plot.png', metadata={'Software': None})\n"
    "print(fig.number, plt.get_fignums())\n"
    "print(hashlib.sha256(open('plot.png', 'rb').read()).hexdigest(), os.getpid())\n"
)


def test_plot_same_as_python():
    # The template draws a figure of its own before it forks (to warm the
    # font and PNG caches): a program's plot, its figure number and pyplot's
    # state must come out exactly as in a fresh interpreter.
    with warm_pod({"PRELOAD_PY": DEFAULT_PRELOAD}) as pod:
        forked = pod.execute(PLOT)
        fresh = pod.execute(PLOT)
    assert forked["stderr"] == "" and fresh["stderr"] == "", (forked, fresh)
    f_lines, p_lines = forked["stdout"].splitlines(), fresh["stdout"].splitlines()
    assert f_lines[-1].split()[1] == str(FORKED_PID) and p_lines[-1].split()[1] == "2"
    assert f_lines[:2] == p_lines[:2] == ["[] agg False", "1 [1]"], (f_lines, p_lines)
    assert f_lines[-1].split()[0] == p_lines[-1].split()[0], (f_lines, p_lines)


# --------------------------------------------------------------------------
# 8. FORKSERVER=false: the plain runner


def test_execution_before_the_runner_starts_it():
    """A pod taken the moment it is ready (here: no warm pool, each /exec
    creates its pod, four clients at once) may get its /execute before the
    sidecar has started the runner. With a fork-server the sidecar then
    starts it itself, a fork, rather than running `python` the normal way:
    every run is a fork (pid 3), however the race goes."""
    import concurrent.futures
    import requests
    s = start_server({"POD_POOL_PY": "0", "POD_POOL_JS": "0"})
    try:
        def one(_):
            r = requests.post(s.url + "/exec", json={"lang": "py",
                                                     "code": "import os; print(os.getpid())"},
                              headers=s.headers(), timeout=120)
            assert r.status_code == 200, r.text
            return r.json()["stdout"].strip()
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            pids = list(ex.map(one, range(40)))
        assert pids == [str(FORKED_PID)] * 40, pids
    finally:
        s.cleanup()


def test_forkserver_off_gives_the_plain_runner():
    with warm_pod({"FORKSERVER": "false", "PRELOAD_PY": DEFAULT_PRELOAD}) as pod:
        # No template at all for this pod manager.
        mgrs = children(pod.proc.pid)
        assert mgrs
        assert not any(os.path.exists(f"{RUN_DIR}/forkserver/{m}-py") for m in mgrs), mgrs
        assert not any(cmdline(t)[1:2] == [b"/opt/kcr/forkserver.py"]
                       for m in mgrs for t in children(m))
        r = pod.execute("import os, sys; print('pandas' in sys.modules, 'numpy' in sys.modules, "
                        "sys.orig_argv[1], os.getpid())")
    assert r["exit_code"] == 0 and r["stdout"] == "False False -c 2\n", r


def test_library_of_someone_else_is_not_loaded(tmp_path):
    """Root loads KCR_FORKSERVER_LIB into the template: one another user may
    write is refused, and pods run the ordinary way (issue 13, item 9)."""
    import shutil
    planted = tmp_path / "kcr-forkserver.so"
    shutil.copy(os.path.join(os.environ.get("KCR_BUILD", "build"), "kcr-forkserver.so"), planted)
    os.chmod(planted, 0o666)
    with warm_pod(env={"KCR_FORKSERVER_LIB": str(planted)}) as pod:
        out = pod.execute("import os; print(os.getpid())")
        assert out["stdout"] == "2\n", out  # kcr-nsexec's own child, not a fork
        assert "must be owned by root and writable by no one else" in pod.stderr_text()


# --------------------------------------------------------------------------
# The early exit report (nsexec-report.h, NSEXEC_DONE_SIGNAL): a forked runner
# tells init its status before the kernel unmaps its copy of the template.

SIGQUEUE = ("import ctypes, signal\n"
            "libc = ctypes.CDLL(None)\n"
            "libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long]\n"
            "def done(status):\n"
            "    libc.sigqueue(1, signal.SIGUSR1, status)\n")


def test_early_report_from_another_process_is_ignored():
    # A signal from another process of the run (with its own pid as the
    # sender, as sigqueue sends it) changes nothing: the program's own status
    # stands and its output after that signal is all there.
    code = (SIGQUEUE + "import os, sys, time\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    done(0)\n"
            "    os._exit(0)\n"
            "os.waitpid(pid, 0)\n"
            "time.sleep(0.3)\n"
            "print('still running')\n"
            "sys.exit(5)\n")
    with warm_pod() as pod:
        r = pod.execute(code)
    assert r["exit_code"] == 5 and r["stdout"] == "still running\n", r


def test_early_report_of_the_program_ends_its_run_and_everything_in_it():
    # The program itself may lie about being done: that only ends its own
    # run, with the status it gave; what it and its children do afterwards
    # is cut (init kills the namespace before it reports).
    code = (SIGQUEUE + "import os, subprocess, sys, time\n"
            "subprocess.Popen(['sh', '-c', 'sleep 1; echo late > /mnt/data/bg.txt'])\n"
            "print('before', flush=True)\n"
            "done(7)\n"
            "time.sleep(3)\n"
            "open('/mnt/data/late.txt', 'w').write('late')\n")
    with warm_pod() as pod:
        r = pod.execute(code, timeout=20)
        assert r["exit_code"] == 7 and r["stdout"] == "before\n", r
        assert r["execution_time_ms"] < 2500, r
        time.sleep(1.5)
        names = pod.execute("import os; print(sorted(os.listdir('/mnt/data')))")["stdout"]
    assert "late.txt" not in names and "bg.txt" not in names, names


def test_background_processes_die_with_the_run_as_before():
    # The shortened exit ends the run as a normal one did: a process the
    # program left running is killed with the namespace.
    code = ("import subprocess\n"
            "subprocess.Popen(['sh', '-c', 'sleep 1; echo late > /mnt/data/bg.txt'])\n"
            "print('bye')\n")
    with warm_pod() as pod:
        r = pod.execute(code)
        assert r["exit_code"] == 0 and r["stdout"] == "bye\n", r
        time.sleep(1.5)
        names = pod.execute("import os; print(sorted(os.listdir('/mnt/data')))")["stdout"]
    assert "bg.txt" not in names, names
