"""The pre-started Python runner (src/sidecar/sidecar-runner.c): a warm py
pod's first execution runs in an interpreter that started before the code
arrived; every later one starts `python code.py` afresh. User code must not be
able to tell them apart: each probe below runs once each way, in a new pod,
and both answers must be identical (stdout, stderr, exit code)."""
import json

import pytest

from pod_util import LocalPod, wait_for_runners

pytestmark = pytest.mark.needs_root

WHICH = "import sys\nprint(sys.orig_argv[1])"

PROBES = {
    "argv-path-main": dict(code=(
        "import sys\n"
        "print(sys.argv, sys.path, __name__, __file__, type(__loader__).__name__,\n"
        "      __spec__, __package__, __doc__)\n"
        "import __main__\n"
        "print(__main__.__dict__ is globals(), sys.modules['__main__'] is __main__)\n"
        "print(sorted(globals()))\n"), args=["a b", "ü", "--x=1"]),
    "stdin": dict(code="import sys\nprint(repr(sys.stdin.read()))\n",
                  stdin="line 1\nline 2 ünïcode\n\n"),
    "stdin-low-level": dict(code="import os\nprint(os.read(0, 100))\n", stdin="raw bytes\n"),
    "traceback": dict(code=(
        "def inner():\n    raise ValueError('boom')\n"
        "def outer():\n    inner()\n"
        "print('before')\nouter()\n")),
    "syntax-error": dict(code="print('x')\ndef broken(:\n    pass\n"),
    "exit-code": dict(code="import sys\nprint('out')\nsys.exit(3)\n"),
    "exit-message": dict(code="import sys\nsys.exit('fatal: no input')\n"),
    "os-exit": dict(code="import os, sys\nsys.stdout.write('partial')\nsys.stdout.flush()\n"
                         "os._exit(4)\n"),
    "excepthook": dict(code=(
        "import sys\n"
        "sys.excepthook = lambda t, v, tb: print('hook saw', t.__name__, v, tb.tb_frame.f_code.co_name)\n"
        "raise KeyError('k')\n")),
    "atexit-and-threads": dict(code=(
        "import atexit, threading, time\n"
        "atexit.register(print, 'bye')\n"
        "t = threading.Thread(target=lambda: (time.sleep(0.1), print('thread done')))\n"
        "t.start()\nprint('main done')\n")),
    "pickle-main-class": dict(code=(
        "import pickle\nclass A:\n    pass\n"
        "print(type(pickle.loads(pickle.dumps(A()))).__name__, A.__module__)\n")),
    "inspect-and-warnings": dict(code=(
        "import inspect, warnings\n"
        "def f():\n    return 1\n"
        "print(inspect.getsource(f), end='')\n"
        "warnings.warn('careful')\n")),
    "import-code-module": dict(code="import code, pdb\nprint(code.__file__.startswith('/usr'))\n"),
    # The program runs one frame deeper than under `python FILE` (exec needs
    # a caller), so a RecursionError comes one call earlier: compared without
    # the depth.
    "recursion-and-stderr": dict(code=(
        "import sys\n"
        "def r(n):\n    return r(n + 1)\n"
        "print('start', file=sys.stderr)\n"
        "try:\n    r(0)\nexcept RecursionError as e:\n    print('caught:', e)\n")),
}


def fresh_pair(probe):
    """(runner answer, fresh-interpreter answer) of probe, in a new pod."""
    with LocalPod("py") as pod:
        # The runner starts just after the pod is ready (a run before that
        # goes the normal way, by design): a loaded machine shows the gap.
        wait_for_runners(pod.proc.pid, 1)
        first = pod.execute(**probe)
        second = pod.execute(**probe)
        which = pod.execute(code=WHICH)
    return first, second, which


@pytest.mark.parametrize("name", sorted(PROBES))
def test_runner_is_indistinguishable(name):
    first, second, which = fresh_pair(PROBES[name])
    # The first really went through the runner, the probe after it did not.
    assert which["stdout"] == "/mnt/data/code.py\n", which
    keys = ("stdout", "stderr", "exit_code", "signal", "timed_out", "oom_killed")
    assert {k: first[k] for k in keys} == {k: second[k] for k in keys}, (first, second)


def test_runner_is_used_first_and_sandboxed():
    with LocalPod("py") as pod:
        # The runner starts just after the pod is ready (a run before that
        # goes the normal way, by design): a loaded machine shows the gap.
        wait_for_runners(pod.proc.pid, 1)
        r = pod.execute(code=(
            "import json, os, sys\n"
            "st = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
            "print(json.dumps({'argv1': sys.orig_argv[1], 'uid': os.getuid(),\n"
            "  'caps': [st[k].strip() for k in ('CapPrm', 'CapEff', 'CapBnd', 'CapAmb')],\n"
            "  'nnp': st['NoNewPrivs'].strip(), 'seccomp': st['Seccomp'].strip(),\n"
            "  'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),\n"
            "  'fds': sorted(int(f) for f in os.listdir('/proc/self/fd'))}))\n"))
    assert r["exit_code"] == 0, r
    doc = json.loads(r["stdout"])
    assert doc["argv1"] == "-c"  # the runner, not python code.py
    assert doc["uid"] == 65532 and doc["nnp"] == "1" and doc["seccomp"] == "2", doc
    assert doc["caps"] == ["0000000000000000"] * 4, doc
    # Its own pid namespace: kcr-nsexec's init and the program, nothing else
    # (a fork-server's program is pid 3: its short-lived parent was 2).
    assert doc["pids"] in ([1, 2], [1, 3]), doc
    assert doc["fds"][:3] == [0, 1, 2] and len(doc["fds"]) <= 4, doc  # + listdir's own


def test_runner_keeps_for_its_language_and_working_dir():
    """A request for another language or working dir runs the normal way and
    leaves the runner for the next Python request."""
    with LocalPod("py") as pod:
        # The runner starts just after the pod is ready (a run before that
        # goes the normal way, by design): a loaded machine shows the gap.
        wait_for_runners(pod.proc.pid, 1)
        assert pod.execute(code="echo hi", lang="bash")["stdout"] == "hi\n"
        assert pod.execute(code=WHICH)["stdout"] == "-c\n"
        assert pod.execute(code=WHICH)["stdout"] == "/mnt/data/code.py\n"


def test_runner_timeout_and_output_cap():
    with LocalPod("py", env={"MAX_OUTPUT_SIZE": "4096"}) as pod:
        r = pod.execute(code="while True:\n    print('x' * 100)\n", timeout=2)
        assert r["timed_out"] is True and r["exit_code"] == 124, r
        assert len(r["stdout"]) < 8192 and "truncated" in r["stdout"], len(r["stdout"])
        assert pod.execute(code="print(6 * 7)")["stdout"] == "42\n"


def test_runner_can_be_switched_off():
    with LocalPod("py", env={"PRESTART_RUNNER": "false"}) as pod:
        assert pod.execute(code=WHICH)["stdout"] == "/mnt/data/code.py\n"


ENV_PROBE = ("import os, sys, json\n"
             "print(json.dumps([dict(os.environ), sys.path, 'numpy' in sys.modules]))\n")


def test_runner_preload_without_fork_server():
    """RUNNER_PRELOAD (Kubernetes' way; no fork-server there): the runner
    imports the list while it waits, and leaves the environment as it was."""
    with LocalPod("py", env={"FORKSERVER": "false",
                             "RUNNER_PRELOAD": "numpy,sklearn,no_such_module"}) as pod:
        wait_for_runners(pod.proc.pid, 1)
        first = json.loads(pod.execute(code=ENV_PROBE, timeout=30)["stdout"])
        second = json.loads(pod.execute(code=ENV_PROBE, timeout=30)["stdout"])
    assert first[2] is True and second[2] is False, (first[2], second[2])
    assert first[:2] == second[:2], (first, second)


# A runner that preloaded ends without the interpreter's teardown of what it
# imported (0.1-0.3 s of numpy, pandas, sklearn...), and tells init its status
# first: what a program can observe of its exit must not change.
PRELOADED_EXITS = {
    "sys-exit-3": "import sys; print('out'); sys.exit(3)",
    "sys-exit-msg": "import sys; sys.exit('msg')",
    "sys-exit-big": "import sys; sys.exit(258)",
    "sys-exit-true": "import sys; sys.exit(True)",
    "exception": "raise ValueError('x')",
    "os-exit-4": "import os, sys; sys.stdout.write('partial'); sys.stdout.flush(); os._exit(4)",
    "sys-exit-none": "import sys; sys.exit()",
    "atexit-and-open-files": (
        "import atexit, os\n"
        "atexit.register(lambda: print('atexit ran'))\n"
        "f = open('/mnt/data/left-open.txt', 'w')\n"
        "f.write('kept' * 1000)\n"
        "print('unflushed', end='')\n"),
    "thread-joined": ("import threading, time\n"
                      "t = threading.Thread(target=lambda: (time.sleep(0.2), print('joined')))\n"
                      "t.start()\n"),
    "stdout-closed": "import sys, os; print('x'); sys.stdout.flush(); os.close(1); print('y')",
}


@pytest.mark.parametrize("name", sorted(PRELOADED_EXITS))
def test_preloaded_runner_exits_like_python(name):
    code = PRELOADED_EXITS[name]
    check = "import os; print(os.path.getsize('/mnt/data/left-open.txt'))"
    with LocalPod("py", env={"FORKSERVER": "false", "RUNNER_PRELOAD": "numpy,pandas"}) as pod:
        wait_for_runners(pod.proc.pid, 1)
        first = pod.execute(code=code, timeout=30)
        size1 = pod.execute(code=check)["stdout"] if "open(" in code else None
        second = pod.execute(code=code, timeout=30)
        size2 = pod.execute(code=check)["stdout"] if "open(" in code else None
        which = pod.execute(code=WHICH)
    assert which["stdout"] == "/mnt/data/code.py\n", which  # the first was the runner
    keys = ("stdout", "stderr", "exit_code", "signal")
    assert {k: first[k] for k in keys} == {k: second[k] for k in keys}, (first, second)
    assert size1 == size2


# The TypeScript runner (runtime/ts-runner.js /dev/stdin): the compiler,
# loaded from its snapshot and warmed up, waits for the file. Its one visible
# trace is its parent's command line (the runner's "/dev/stdin").
TS_WHICH = ("const fs = require('fs');\n"
            "console.log(fs.readFileSync(`/proc/${process.ppid}/cmdline`, 'utf8')"
            ".includes('/dev/stdin'));\n")
TS_PROBES = {
    "hello-args": dict(code=("const who: string = 'world';\n"
                             "console.log(`hello ${who}`, process.argv.slice(1), process.execArgv,\n"
                             "  require.main === module, process.cwd(), __filename);\n"),
                       args=["a b", "ü"]),
    "type-error": dict(code="const n: number = 'x';\nconsole.log(n);\n"),
    "stdin": dict(code="process.stdin.on('data', (d) => process.stdout.write('got ' + d));\n",
                  stdin="line 1\nline 2 ünïcode\n"),
    "throw": dict(code="function f(): never { throw new Error('boom'); }\nf();\n"),
    "exit-code": dict(code="import * as os from 'os';\nconsole.log(typeof os.cpus);\n"
                           "process.exitCode = 3;\n"),
    "env": dict(code="console.log(JSON.stringify(process.env));\n"),
}


@pytest.mark.parametrize("name", sorted(TS_PROBES))
def test_ts_runner_is_indistinguishable(name):
    with LocalPod("ts") as pod:
        wait_for_runners(pod.proc.pid, 1)
        first = pod.execute(timeout=60, **TS_PROBES[name])
        second = pod.execute(timeout=60, **TS_PROBES[name])
        which = pod.execute(code=TS_WHICH, timeout=60)
    assert which["stdout"] == "false\n", which  # the third ran the normal way
    keys = ("stdout", "stderr", "exit_code", "signal", "timed_out", "oom_killed")
    assert {k: first[k] for k in keys} == {k: second[k] for k in keys}, (first, second)


def test_ts_runner_is_used_first():
    with LocalPod("ts") as pod:
        wait_for_runners(pod.proc.pid, 1)
        assert pod.execute(code=TS_WHICH, timeout=60)["stdout"] == "true\n"
        assert pod.execute(code=TS_WHICH, timeout=60)["stdout"] == "false\n"

