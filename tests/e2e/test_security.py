"""The adversarial suite of docs/security.md, cases 1-17 (13 is
test_parallel.py), run as black-box tests through the sidecar of real local
pods (tests/e2e/pod_util.py LocalPod). Each test asserts the outcome the
table of security.md states; docs/security-suite.md explains each one.

User code is Python (the default language of LocalPod); where a C-level
probe is clearer, tests upload build/kcr-probe into the pod and exec it.
Raw HTTP (hostile names, invalid UTF-8, symlink downloads) goes straight to
the sidecar's unix socket with http.client."""
import json
import os
import re
import socket
import threading
import time
import uuid

import pytest

from conftest import BUILD, wait_for

from pod_util import LocalPod, UnixHTTPConnection, proc_cmdlines

pytestmark = pytest.mark.needs_root

PROBE = os.path.join(BUILD, "kcr-probe")
MEM_MB = 128  # memory limit of the pods these tests create
PIDS = 64  # pids limit of the pods these tests create


# --------------------------------------------------------------------------
# Helpers


def new_pod(memory_mb=MEM_MB, pids=PIDS, **env):
    """A local pod with small limits so that bounds are reached quickly."""
    e = {"MAX_MEMORY_MB": str(memory_mb), "MAX_PIDS": str(pids)}
    e.update({k: str(v) for k, v in env.items()})
    return LocalPod("py", env=e)


@pytest.fixture
def pod():
    with new_pod() as p:
        yield p


def socket_path(pod):
    for attr in ("unix_socket", "socket_path", "socket", "sock"):
        v = getattr(pod, attr, None)
        if isinstance(v, str):
            return v
    pytest.fail("LocalPod exposes no sidecar socket path")


def raw(pod, method, path, body=None, headers=None, timeout=30, limit=64 << 20):
    """One request to the pod's sidecar: (status, body bytes)."""
    c = UnixHTTPConnection(socket_path(pod), timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read(limit)
    finally:
        c.close()


def raw_upload(pod, filename, data, timeout=30):
    """POST /files with one multipart part whose filename is given raw (bytes)."""
    boundary = "kcrsec" + uuid.uuid4().hex
    if isinstance(filename, str):
        filename = filename.encode()
    body = (
        b"--" + boundary.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="files"; filename="' + filename + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
        b"--" + boundary.encode() + b"--\r\n"
    )
    return raw(pod, "POST", "/files", body,
               {"Content-Type": "multipart/form-data; boundary=" + boundary}, timeout)


def sidecar_ready(pod):
    status, _ = raw(pod, "GET", "/ready", timeout=5)
    return status == 200


def run(pod, code, timeout=10, **kw):
    r = pod.execute(code, timeout=timeout, **kw)
    assert isinstance(r, dict), r
    return r


def run_json(pod, code, timeout=10):
    """Runs code that prints one JSON document last; returns (result, doc)."""
    r = run(pod, code, timeout=timeout)
    lines = [ln for ln in r["stdout"].splitlines() if ln.strip()]
    assert lines, r
    return r, json.loads(lines[-1])


def with_probe(pod):
    """Uploads kcr-probe once into the pod; returns the Python prelude that
    makes it executable at /tmp/kcr-probe."""
    if not os.path.exists(PROBE):
        pytest.skip("build/kcr-probe not built")
    if not getattr(pod, "_kcr_probe_uploaded", False):
        with open(PROBE, "rb") as f:
            pod.put_file("kcr-probe", f.read())
        pod._kcr_probe_uploaded = True
    return (
        "import os, shutil, subprocess, sys, json\n"
        "shutil.copy('/mnt/data/kcr-probe', '/tmp/kcr-probe')\n"
        "os.chmod('/tmp/kcr-probe', 0o755)\n"
        "os.unlink('/mnt/data/kcr-probe')\n"
    )


def probe(pod, *args, timeout=10):
    """Runs kcr-probe ARGS as the user program (exec, so its status is the result's)."""
    code = with_probe(pod) + "os.execv('/tmp/kcr-probe', ['kcr-probe'] + %r)\n" % (list(args),)
    return run(pod, code, timeout=timeout)


def pids_with_marker(marker):
    """Host pids whose command line contains marker (never our own process)."""
    found = []
    m = marker.encode()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if m in f.read():
                    found.append(int(d))
        except OSError:
            pass
    return found


def wait_gone(marker, seconds=3.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not pids_with_marker(marker):
            return True
        time.sleep(0.05)
    return not pids_with_marker(marker)


def sidecar_pid(pod):
    """Host pid of the pod's kcr-sidecar (the process listening on its socket)."""
    pid = getattr(pod, "sidecar_pid", None)
    if isinstance(pid, int) and pid > 0:
        return pid
    # The pod manager hands the sidecar its socket in SIDECAR_SOCKET (or argv).
    want = socket_path(pod).encode()
    for pid, argv in proc_cmdlines():
        if b"kcr-sidecar" not in argv[0]:
            continue
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if any(want in a for a in argv) or b"SIDECAR_SOCKET=" + want + b"\0" in env + b"\0":
            return pid
    pytest.fail("cannot find the pod's kcr-sidecar process on the host")


def pid_ns(pid):
    return os.readlink("/proc/%d/ns/pid" % pid)


def pod_processes(pod):
    """Host pids in the pod's pid namespace (the sidecar's) and below it."""
    ns = pid_ns(sidecar_pid(pod))
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/status" % d) as f:
                st = f.read()
        except OSError:
            continue
        m = re.search(r"^NSpid:\s+(.*)$", st, re.M)
        if not m:
            continue
        try:
            if pid_ns(int(d)) == ns or len(m.group(1).split()) > 2:
                # A deeper NSpid than the sidecar's means a nested pid ns
                # (user code); keep only those under this pod's namespace.
                out.append(int(d))
        except OSError:
            continue
    mine = []
    for p in out:
        try:
            if pid_ns(p) == ns or _descends_from_ns(p, ns):
                mine.append(p)
        except OSError:
            pass
    return mine


def _descends_from_ns(pid, ns):
    p = pid
    for _ in range(64):
        try:
            with open("/proc/%d/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            return False
        if ppid <= 1:
            return False
        if pid_ns(ppid) == ns:
            return True
        p = ppid
    return False


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1))


# --------------------------------------------------------------------------
# 1. Fork bomb


PY_FORKBOMB = """
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
"""

SH_FORKBOMB = """
import subprocess, time
subprocess.run(['bash', '-c', ':(){ :|:& };:'])
time.sleep(1000)
"""


@pytest.mark.parametrize("code", [PY_FORKBOMB, SH_FORKBOMB], ids=["python-fork", "shell"])
def test_01_fork_bomb_contained(code):
    with new_pod() as bomb, new_pod() as other:
        box = {}

        def detonate():
            t0 = time.monotonic()
            box["r"] = run(bomb, code, timeout=6)
            box["took"] = time.monotonic() - t0

        t = threading.Thread(target=detonate)
        t.start()
        # The bomb at strength: its pod holds many processes (or it already
        # ended, refused by the pids limit).
        wait_for(lambda: len(pod_processes(bomb)) > 20 or not t.is_alive(), 10,
                 what="the bomb to spread")
        # The host can still fork during the bomb.
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        # A parallel execution in another pod, which itself forks, is fine.
        t0 = time.monotonic()
        n = run(other, "import subprocess\n"
                       "print(subprocess.run(['echo', '42'], capture_output=True,"
                       " text=True).stdout.strip())", timeout=10)
        neighbour_s = time.monotonic() - t0
        t.join(30)
        assert not t.is_alive(), "the bomb's execution did not end"
        r = box["r"]
        # Ends by the time limit or an error, promptly.
        assert r["timed_out"] or r["exit_code"] != 0, r
        assert box["took"] < 6 + 10, box["took"]
        assert n["exit_code"] == 0, n
        assert n["stdout"].strip() == "42"
        assert neighbour_s < 8, neighbour_s
        # Nothing of the bomb survives: only the pod's own sidecar and main remain.
        wait_for(lambda: len(pod_processes(bomb)) <= 4, 10,
                 what=lambda: "the bomb's processes to end; left: %s" % pod_processes(bomb))
        assert sidecar_ready(bomb)


# --------------------------------------------------------------------------
# 2. N children past the pids limit


def test_02_pids_limit_eagain(pod):
    r, doc = run_json(pod, """
import errno, json, os, resource, signal
n = 0
err = None
kids = []
while n < 5000:
    try:
        pid = os.fork()
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
        break
    if pid == 0:
        signal.pause()
        os._exit(0)
    kids.append(pid)
    n += 1
for k in kids:
    os.kill(k, signal.SIGKILL)
for k in kids:
    os.waitpid(k, 0)
print(json.dumps({"forked": n, "error": err,
                  "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0]}))
""", timeout=20)
    assert r["exit_code"] == 0, r
    assert doc["error"] == "EAGAIN", doc
    nth = doc["forked"] + 1  # the fork that failed
    # The limit in force is the pod's pids limit (or a lower nproc rlimit);
    # python, its init and the sidecar's helpers use a few slots.
    limit = PIDS if doc["nproc"] < 0 else min(PIDS, doc["nproc"])
    assert nth <= limit, doc
    assert nth >= limit - 8, doc


# --------------------------------------------------------------------------
# 3. Memory bomb


def test_03_memory_bomb_killed(pod):
    r = run(pod, """
x = []
while True:
    x.append(b'x' * (8 << 20))
""", timeout=20)
    assert r["exit_code"] == 137, r
    assert r["timed_out"] is False, r
    assert r["oom_killed"] is True, r


TWO_PROCS = """
import os, sys, time
mb = %d
pid = os.fork()
block = b'x' * (mb << 20)
print('allocated', mb, 'MiB in', 'child' if pid == 0 else 'parent', flush=True)
time.sleep(30)
if pid:
    os.waitpid(pid, 0)
"""


def test_03_two_processes_together_over_limit():
    share = int(MEM_MB * 0.6)
    # Control: one process with that much memory is under the limit.
    with new_pod() as p:
        r = run(p, "import os\nblock = b'x' * (%d << 20)\nprint('ok')" % share, timeout=20)
        assert r["exit_code"] == 0 and r["stdout"].strip() == "ok", r
    # Two of them together are over it: killed, reported as out of memory.
    with new_pod() as p:
        r = run(p, TWO_PROCS % share, timeout=8)
        assert r["exit_code"] == 137, r
        assert r["timed_out"] is False, r
        assert r["oom_killed"] is True, r


CHILD_IS_VICTIM = """
import os, time
parent_block = b'p' * (%d << 20)
pid = os.fork()
if pid == 0:
    grow = []
    while True:
        grow.append(b'c' * (8 << 20))
time.sleep(30)
os.waitpid(pid, 0)
"""


def test_03_oom_kill_of_a_child_ends_the_run(pod):
    """The OOM killer picks the largest process, here the child: the parent,
    asleep, must not carry the run on to the time limit."""
    t0 = time.monotonic()
    r = run(pod, CHILD_IS_VICTIM % (MEM_MB // 4), timeout=15)
    assert r["oom_killed"] is True, r
    assert r["timed_out"] is False, r
    assert r["exit_code"] == 137, r
    assert time.monotonic() - t0 < 10, r


# --------------------------------------------------------------------------
# 4. Wall-clock limit, whole tree


def assert_timeout(r, limit):
    assert r["timed_out"] is True, r
    assert r["exit_code"] == 124, r
    assert re.search(r"time(d)?[ _-]?out|time limit", r["stderr"], re.I), r["stderr"]
    assert limit * 1000 * 0.9 <= r["execution_time_ms"] <= limit * 1000 + 3000, r


def test_04_infinite_loop(pod):
    t0 = time.monotonic()
    r = run(pod, "while True:\n    pass\n", timeout=2)
    assert time.monotonic() - t0 < 2 + 5
    assert_timeout(r, 2)


def test_04_sleep_1000(pod):
    r = run(pod, "import os\nos.execv('/bin/sleep', ['sleep', '1000'])\n", timeout=2)
    assert_timeout(r, 2)


def test_04_children_ignoring_sigterm_are_killed(pod):
    marker = "kcrsec-tree-" + uuid.uuid4().hex
    code = with_probe(pod) + (
        "subprocess.Popen(['/tmp/kcr-probe', 'forktree', '3', %r])\n"
        "import time\n"
        "while True:\n"
        "    pass\n" % marker)
    r = run(pod, code, timeout=2)
    assert_timeout(r, 2)
    assert wait_gone(marker, 2.0), pids_with_marker(marker)


def test_04_orphan_ignoring_sigterm_after_parent_exits(pod):
    marker = "kcrsec-daemon-" + uuid.uuid4().hex
    code = with_probe(pod) + (
        "subprocess.run(['/tmp/kcr-probe', 'daemon', %r], check=True)\n"
        "print('parent exits')\n" % marker)
    t0 = time.monotonic()
    r = run(pod, code, timeout=3)
    assert time.monotonic() - t0 < 3 + 5
    assert "parent exits" in r["stdout"], r
    # The orphan (setsid, SIGTERM ignored) did not outlive the execution.
    assert wait_gone(marker, 2.0), pids_with_marker(marker)
    assert sidecar_ready(pod)


# --------------------------------------------------------------------------
# 5. Output flood


TRUNC = re.compile(r"truncat", re.I)


OUTPUT_CAP = 256 << 10  # MAX_OUTPUT_SIZE of the flood pods


@pytest.mark.parametrize("kind", ["text", "binary", "invalid-utf8", "stderr"])
def test_05_output_flood_truncated(kind):
    body = {
        "text": "import sys\nwhile True:\n    print('x' * 1000)\n",
        "binary": "import sys\nb = bytes(range(256)) * 64\n"
                  "while True:\n    sys.stdout.buffer.write(b)\n",
        "invalid-utf8": "import sys\nb = b'\\xff\\xfe\\xc3(\\xa0\\xa1' * 4096\n"
                        "while True:\n    sys.stdout.buffer.write(b)\n",
        "stderr": "import sys\nwhile True:\n    sys.stderr.write('e' * 1000 + '\\n')\n",
    }[kind]
    cap = OUTPUT_CAP
    with new_pod(MAX_OUTPUT_SIZE=cap) as pod:
        r = run(pod, body, timeout=3)
        stream = r["stderr"] if kind == "stderr" else r["stdout"]
        # Truncated at the cap, with a marker (the marker may add a line).
        assert len(stream) <= cap + 1024, len(stream)
        assert len(stream) >= cap // 2, len(stream)
        assert TRUNC.search(stream[-300:]) or TRUNC.search(r["stderr"][-300:]), stream[-300:]
        # The sidecar's memory stayed bounded and it still answers.
        assert vm_hwm_kb(sidecar_pid(pod)) < 64 * 1024
        assert sidecar_ready(pod)


# --------------------------------------------------------------------------
# 6. Disk fill


FILL = """
import errno, json, os
res = {}
def fill(path, limit_mb=600):
    n = 0
    try:
        with open(path, 'wb') as f:
            chunk = b'z' * (1 << 20)
            while n < limit_mb:
                f.write(chunk)
                f.flush()
                n += 1
        return ['NOLIMIT', n]
    except OSError as e:
        return [errno.errorcode.get(e.errno, str(e.errno)), n]
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
def many(dirpath, limit_mb=600):
    n = 0
    try:
        while n < limit_mb:
            with open(os.path.join(dirpath, 'f%d' % n), 'wb') as f:
                f.write(b'q' * (4 << 20))
            n += 4
        return ['NOLIMIT', n]
    except OSError as e:
        return [errno.errorcode.get(e.errno, str(e.errno)), n]
    finally:
        for x in os.listdir(dirpath):
            if x.startswith('f'):
                os.unlink(os.path.join(dirpath, x))
def sparse(path):
    try:
        with open(path, 'wb') as f:
            f.truncate(1 << 40)
            f.seek((1 << 40) - 1)
            f.write(b'x')
            f.flush()
        return ['ok', os.stat(path).st_size]
    except OSError as e:
        return [errno.errorcode.get(e.errno, str(e.errno)), 0]
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
def falloc(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, 2 << 30)
        return ['ok', 0]
    except OSError as e:
        return [errno.errorcode.get(e.errno, str(e.errno)), 0]
    finally:
        os.close(fd)
        os.unlink(path)
for d in ('/tmp', '/mnt/data'):
    res[d] = {'fill': fill(d + '/big.bin'), 'many': many(d), 'sparse': sparse(d + '/sparse.bin'),
              'falloc': falloc(d + '/fa.bin')}
print(json.dumps(res))
"""


# Pod disks are tmpfs, whose pages are charged to the pod's memory cgroup:
# these pods keep /tmp, /dev/shm and /mnt/data well under the memory limit so
# that a full disk is ENOSPC, not an OOM kill.
DISK_POD = dict(memory_mb=256, POD_TMP_MB=32, POD_DATA_MB=48)


def test_06_disk_fill():
    with new_pod(**DISK_POD) as filler, new_pod(**DISK_POD) as other:
        r, doc = run_json(filler, FILL, timeout=30)
        assert r["exit_code"] == 0, r
        for d, res in doc.items():
            assert res["fill"][0] in ("ENOSPC", "EFBIG", "EDQUOT"), (d, res)
            assert res["many"][0] in ("ENOSPC", "EFBIG", "EDQUOT"), (d, res)
            assert res["falloc"][0] in ("ENOSPC", "EFBIG", "EDQUOT"), (d, res)
        # Another pod is unaffected: it can still write its files.
        r2 = run(other, "import os\n"
                        "for d in ('/tmp', '/mnt/data'):\n"
                        "    open(d + '/ok.bin', 'wb').write(b'o' * (4 << 20))\n"
                        "    assert os.path.getsize(d + '/ok.bin') == 4 << 20\n"
                        "print('fine')\n", timeout=10)
        assert r2["exit_code"] == 0 and r2["stdout"].strip() == "fine", r2
        # A 1 TiB sparse file is refused (EFBIG from the file-size limit); it
        # never becomes a 1 TiB file.
        for d, res in doc.items():
            assert res["sparse"][0] in ("ENOSPC", "EFBIG", "EDQUOT"), (d, res)


def test_06_file_over_limit_not_returned(pod):
    """A file over the download bound is refused by the sidecar (413), never streamed."""
    r = run(pod, "open('/mnt/data/big.bin', 'wb').write(b'b' * (2 << 20))\nprint('ok')")
    assert r["exit_code"] == 0, r
    status, body = raw(pod, "GET", "/files/big.bin?max=%d" % (1 << 20))
    assert status == 413, (status, body[:200])
    assert len(body) < 64 << 10


# --------------------------------------------------------------------------
# 7. Persistence


def test_07_nothing_survives_the_pod():
    token = uuid.uuid4().hex
    with new_pod() as first:
        r, doc = run_json(first, """
import ctypes, errno, json, os
out = {}
for d in ('/tmp', '/dev/shm', '/var/tmp', '/mnt/data'):
    try:
        with open(d + '/persist-%(t)s', 'w') as f:
            f.write('%(t)s')
        out[d] = 'written'
    except OSError as e:
        out[d] = errno.errorcode.get(e.errno, str(e.errno))
libc = ctypes.CDLL(None, use_errno=True)
shmid = libc.shmget(0x6b6372, 4096, 0o1666)  # IPC_CREAT | 0666
out['shm'] = 'created' if shmid >= 0 else errno.errorcode.get(ctypes.get_errno())
print(json.dumps(out))
""" % {"t": token})
        assert doc["/tmp"] == "written" and doc["/mnt/data"] == "written", doc
    with new_pod() as second:
        r, doc = run_json(second, """
import ctypes, errno, json, os
found = []
for d in ('/tmp', '/dev/shm', '/var/tmp', '/mnt/data'):
    try:
        found += [d + '/' + n for n in os.listdir(d) if 'persist' in n or '%(t)s' in n]
    except OSError:
        pass
libc = ctypes.CDLL(None, use_errno=True)
shm = libc.shmget(0x6b6372, 0, 0)
print(json.dumps({'found': found, 'shm': shm}))
""" % {"t": token})
        assert doc["found"] == [], doc
        assert doc["shm"] == -1, doc  # the SysV segment of the first pod is not visible


# --------------------------------------------------------------------------
# 8. Network


def test_08_no_network(pod):
    # Things the pod must not reach: a TCP listener on the host's loopback,
    # an abstract unix socket in the host's network namespace, the sidecar's
    # own unix socket path.
    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen(8)
    port = host.getsockname()[1]
    abstract = "\0kcrsec-" + uuid.uuid4().hex
    ab = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ab.bind(abstract)
    ab.listen(8)
    try:
        r, doc = run_json(pod, """
import errno, json, socket
res = {}
def attempt(name, fn):
    try:
        fn()
        res[name] = 'CONNECTED'
    except OSError as e:
        res[name] = errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
    except Exception as e:
        res[name] = type(e).__name__
def stream(family, addr):
    def f():
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(addr)
    return f
def tcp(host, port):
    return stream(socket.AF_INET, (host, port))
def tcp6(host, port):
    return stream(socket.AF_INET6, (host, port))
def udp(host, port):
    def f():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(b'x', (host, port))
        s.recvfrom(10)
    return f
def unix(path):
    return stream(socket.AF_UNIX, path)
attempt('tcp-host-listener', tcp('127.0.0.1', %(port)d))
attempt('tcp-8080', tcp('127.0.0.1', 8080))
attempt('tcp-8000', tcp('127.0.0.1', 8000))
attempt('tcp6-loopback', tcp6('::1', %(port)d))
attempt('tcp-public', tcp('1.1.1.1', 80))
attempt('tcp-private', tcp('10.0.0.1', 80))
attempt('tcp-private-192', tcp('192.168.1.1', 443))
attempt('udp-dns', udp('8.8.8.8', 53))
attempt('udp-loopback', udp('127.0.0.1', 53))
attempt('dns', lambda: socket.getaddrinfo('example.com', 80))
attempt('unix-abstract-host', unix(%(abstract)r))
attempt('unix-sidecar-socket', unix(%(sock)r))
attempt('raw-socket', lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 1))
attempt('packet-socket', lambda: socket.socket(17, socket.SOCK_RAW, 0))
print(json.dumps(res))
""" % {"port": port, "abstract": abstract, "sock": socket_path(pod)}, timeout=30)
    finally:
        host.close()
        ab.close()
    assert r["exit_code"] == 0, r
    assert len(doc) == 14, doc
    for name, outcome in doc.items():
        assert outcome != "CONNECTED", (name, doc)


# --------------------------------------------------------------------------
# 9. Read-only system paths


def test_09_system_paths_read_only(pod):
    r, doc = run_json(pod, """
import errno, json, os
res = {}
for path in ('/kcr-x', '/etc/kcr-x', '/etc/passwd', '/usr/kcr-x', '/usr/bin/python3', '/lib/kcr-x',
             '/bin/kcr-x', '/sbin/kcr-x'):
    try:
        with open(path, 'a') as f:
            f.write('x')
        res[path] = 'WRITTEN'
    except OSError as e:
        res[path] = errno.errorcode.get(e.errno, str(e.errno))
for path in ('/kcr-d', '/etc/kcr-d', '/usr/kcr-d', '/lib/kcr-d'):
    try:
        os.mkdir(path)
        res['mkdir ' + path] = 'CREATED'
    except OSError as e:
        res['mkdir ' + path] = errno.errorcode.get(e.errno, str(e.errno))
print(json.dumps(res))
""")
    for path, outcome in doc.items():
        assert outcome in ("EROFS", "EACCES"), (path, doc)


# --------------------------------------------------------------------------
# 10. Path and symlink escape


def test_10_hostile_upload_names(pod):
    pod_root = pod.working_dir_host
    for name in [b"../escape.txt", b"../../escape.txt", b"/etc/escape.txt", b"/tmp/escape.txt",
                 b"a/../../escape.txt", b"nul\x00byte.txt", b"x" * 300 + b".txt", b".",
                 b"..", b""]:
        status, body = raw_upload(pod, name, b"owned")
        # Either refused, or stored under a sanitised name inside the working directory.
        assert status in (200, 201, 400, 413, 422), (name, status, body[:200])
    for p in ("/escape.txt", "/tmp/escape.txt", "/etc/escape.txt"):
        assert not os.path.exists(p), p
    if pod_root:
        assert not os.path.exists(os.path.join(os.path.dirname(pod_root), "escape.txt"))
    # Whatever was stored is inside /mnt/data under a safe name.
    status, body = raw(pod, "GET", "/files?recursive=1")
    assert status == 200
    for f in json.loads(body)["files"]:
        n = f["name"]
        assert not n.startswith("/") and ".." not in n.split("/") and "\0" not in n, n
        assert all(len(c.encode()) <= 255 for c in n.split("/")), n
    r = run(pod, "import os\nprint(sorted(os.listdir('/tmp')))")
    assert "escape.txt" not in r["stdout"], r


def test_10_planted_symlinks_never_followed(pod):
    shadow = open("/etc/shadow", "rb").read() if os.path.exists("/etc/shadow") else b"\0nothing"
    spid = sidecar_pid(pod)
    # The sidecar's host pid, and its pids as seen from inside the pod's pid namespace.
    ns_pids = []
    with open("/proc/%d/status" % spid) as f:
        m = re.search(r"^NSpid:\s+(.*)$", f.read(), re.M)
        ns_pids = [int(x) for x in m.group(1).split()]
    targets = {
        "out.png": "/etc/shadow",
        "environ.txt": "/proc/%d/environ" % spid,
        "root.txt": "/proc/1/root/etc/shadow",
        "secret": "/root",
        "plots": "/etc",
    }
    for i, p in enumerate(sorted(set(ns_pids + [1, 2, 3]))):
        targets["ns%d.txt" % i] = "/proc/%d/environ" % p
    code = "import os\n" + "".join(
        "os.symlink(%r, '/mnt/data/%s')\n" % (t, n) for n, t in targets.items()) + "print('planted')\n"
    r = run(pod, code)
    assert r["stdout"].strip() == "planted", r
    status, body = raw(pod, "GET", "/files?recursive=1")
    assert status == 200, body[:200]
    listed = {f["name"] for f in json.loads(body)["files"]}
    # A symlink is not a regular file: never listed, and nothing below "plots" (-> /etc).
    assert not (listed & set(targets)), listed
    assert not any(n.startswith("plots/") for n in listed), listed
    environ = open("/proc/%d/environ" % spid, "rb").read()
    for name in list(targets) + ["plots/shadow", "plots/passwd", "secret/.bashrc"]:
        status, body = raw(pod, "GET", "/files/" + name)
        assert status in (400, 403, 404), (name, status, body[:100])
        assert shadow not in body and (not environ or environ not in body), name
    assert sidecar_ready(pod)


# --------------------------------------------------------------------------
# 11. Hostile output collection


HOSTILE_TREE = """
import errno, os, json
os.chdir('/mnt/data')
for i in range(10000):
    with open('f%05d.txt' % i, 'w') as f:
        f.write('x')
os.mkdir('deep')
os.chdir('deep')
for i in range(999):
    os.mkdir('d')
    os.chdir('d')
with open('bottom.txt', 'w') as f:
    f.write('bottom')
os.chdir('/mnt/data')
sparse = 'none'
try:
    with open('huge.bin', 'wb') as f:
        f.truncate(1 << 40)
    sparse = 'created'
except OSError as e:
    sparse = errno.errorcode.get(e.errno)
os.mkfifo('result.csv')
print(json.dumps({'sparse': sparse}))
"""


def test_11_hostile_output_collection(pod):
    r, doc = run_json(pod, HOSTILE_TREE, timeout=30)
    assert r["exit_code"] == 0, r
    t0 = time.monotonic()
    status, body = raw(pod, "GET", "/files?recursive=1", timeout=30)
    took = time.monotonic() - t0
    assert status == 200, body[:200]
    assert took < 10, took
    assert len(body) < 8 << 20, len(body)
    listing = json.loads(body)
    files = listing["files"]
    names = [f["name"] for f in files]
    # Bounded in count and depth; the FIFO is not a regular file.
    assert len(files) <= 10000, len(files)
    assert listing["truncated"] is True  # 10,000 files + more: over any sane bound
    assert "result.csv" not in names
    # kcr's client drops names deeper than 16 components; the sidecar must not
    # send them either.
    assert max(n.count("/") + 1 for n in names) <= 16, max(n.count("/") + 1 for n in names)
    # Fetching the FIFO by name never hangs: refused at once.
    t0 = time.monotonic()
    status, _ = raw(pod, "GET", "/files/result.csv?max=1024", timeout=10)
    assert status in (400, 403, 404), status
    assert time.monotonic() - t0 < 3
    # The 1 TiB sparse file (if the file-size limit let it exist) is refused past max.
    if doc["sparse"] == "created":
        t0 = time.monotonic()
        status, body = raw(pod, "GET", "/files/huge.bin?max=%d" % (10 << 20), timeout=10)
        assert status == 413, status
        assert time.monotonic() - t0 < 3
    assert sidecar_ready(pod)


# --------------------------------------------------------------------------
# 12. Inherited file descriptors


def test_12_no_inherited_fds(pod):
    r = run(pod, "import os\n"
                 "def ok(fd):\n"
                 "    try:\n"
                 "        os.fstat(fd)\n"
                 "        return True\n"
                 "    except OSError:\n"
                 "        return False\n"
                 "import resource\n"
                 "n = resource.getrlimit(resource.RLIMIT_NOFILE)[0]\n"
                 "print(sorted(fd for fd in range(0, min(n, 65536)) if ok(fd)))\n")
    assert r["exit_code"] == 0, r
    assert r["stdout"].strip() == "[0, 1, 2]", r
    r = probe(pod, "fds")
    assert r["exit_code"] == 0, r
    assert r["stdout"].strip() == "fds: 0 1 2", r


# --------------------------------------------------------------------------
# 14. Kernel attack surface


SYSCALLS = ["ptrace", "process_vm_readv", "mount", "umount2", "pivot_root", "unshare", "setns",
            "keyctl", "add_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
            "kexec_load", "init_module", "clone-newns", "clone-newuser", "chroot", "open_tree",
            "fsopen"]
SOCKETS = ["socket-alg", "socket-vsock", "socket-inet", "socket-inet6", "socket-netlink",
           "socketpair-inet"]


def try_syscalls(pod, names):
    code = with_probe(pod) + (
        "res = {}\n"
        "for name in %r:\n"
        "    p = subprocess.run(['/tmp/kcr-probe', 'try-syscall', name], capture_output=True,"
        " text=True)\n"
        "    res[name] = [p.returncode, p.stdout.strip()]\n"
        "print(json.dumps(res))\n" % (names,))
    r, doc = run_json(pod, code, timeout=30)
    assert r["exit_code"] == 0, r
    assert set(doc) == set(names)
    return doc


def refused(name, rc, out):
    """EPERM, or killed by a signal (subprocess returncode < 0)."""
    return rc < 0 or (rc == 1 and out == "%s: EPERM" % name)


def test_14_dangerous_syscalls_refused(pod):
    for name, (rc, out) in try_syscalls(pod, SYSCALLS).items():
        assert refused(name, rc, out), (name, rc, out)


def test_14_socket_families_refused(pod):
    doc = try_syscalls(pod, SOCKETS + ["socket-unix", "socketpair-unix"])
    # AF_UNIX stays available (local IPC inside the program).
    assert doc.pop("socket-unix")[0] == 0, doc
    assert doc.pop("socketpair-unix")[0] == 0, doc
    for name, (rc, out) in doc.items():
        assert rc != 0, (name, rc, out)  # refused one way or another
    for name, (rc, out) in doc.items():
        assert refused(name, rc, out), (name, rc, out)


# --------------------------------------------------------------------------
# 15. Information leak


def test_15_environment_and_kcr_processes(monkeypatch):
    canary = "kcrsec-canary-" + uuid.uuid4().hex
    # Whatever kcr's own processes inherit from here must not reach user code.
    monkeypatch.setenv("KCR_SECRET_CANARY", canary)
    monkeypatch.setenv("API_KEY", canary)
    with new_pod() as pod:
        r, doc = run_json(pod, r"""
import json, os
res = {'env': dict(os.environ), 'procs': {}}
me = os.getpid()
for d in os.listdir('/proc'):
    if not d.isdigit() or int(d) == me:
        continue
    entry = {}
    for what in ('environ', 'mem', 'cmdline'):
        try:
            with open('/proc/%s/%s' % (d, what), 'rb') as f:
                data = f.read(65536) if what != 'mem' else f.read(16)
            entry[what] = data.decode('latin-1')
        except OSError as e:
            entry[what] = 'ERR:%d' % e.errno
    res['procs'][d] = entry
print(json.dumps(res))
""")
        env = doc["env"]
        # Nothing of the host (or kcr's) environment leaks in.
        assert canary not in json.dumps(doc), "canary leaked"
        for k in env:
            assert not re.match(r"(API_KEY|.*SECRET|.*TOKEN|AWS_|KUBERNETES_|SSH_|SUDO_)", k), k
        # It is exactly the main container's environment (env -i semantics).
        main_env = main_environment(pod)
        assert main_env is not None, "cannot find the pod's main process"
        assert env == main_env, (env, main_env)
        # Every other visible process: its environ and mem are unreadable,
        # or it is user code's own (same environment, no canary).
        for pid, e in doc["procs"].items():
            assert e["mem"].startswith("ERR:"), (pid, e["mem"][:20])
            if not e["environ"].startswith("ERR:"):
                assert canary not in e["environ"]
        # /proc/1 inside is kcr-nsexec's init: non-dumpable, unreadable.
        assert doc["procs"].get("1", {}).get("environ", "ERR:").startswith("ERR:"), doc["procs"]
        # The sidecar's own environ/mem, by host pid, from inside.
        spid = sidecar_pid(pod)
        r = run(pod, "import errno\n"
                     "for w in ('environ', 'mem'):\n"
                     "    try:\n"
                     "        open('/proc/%d/' + w, 'rb').read(16)\n"
                     "        print(w, 'READ')\n"
                     "    except OSError as e:\n"
                     "        print(w, errno.errorcode[e.errno])\n" % spid)
        assert "READ" not in r["stdout"], r


def main_environment(pod):
    """The environment of the pod's main process (sleep infinity), read on the host."""
    ns = pid_ns(sidecar_pid(pod))
    pid = None
    for p, argv in proc_cmdlines():
        if os.path.basename(argv[0]) == b"sleep" and argv[1:2] == [b"infinity"]:
            try:
                if pid_ns(p) == ns:
                    pid = p
                    break
            except OSError:
                continue
    if pid is None:
        return None
    with open("/proc/%d/environ" % pid, "rb") as f:
        items = [x for x in f.read().split(b"\0") if x]
    return dict(x.decode().split("=", 1) for x in items)


# --------------------------------------------------------------------------
# 16. Crashes and odd input


def test_16_sigsegv(pod):
    r = run(pod, "import ctypes\nctypes.string_at(0)\n")
    assert r["exit_code"] == 139, r
    assert r["signal"] == 11, r
    assert r["timed_out"] is False


def execute_raw(pod, body, timeout=30):
    return raw(pod, "POST", "/execute", body, {"Content-Type": "application/json"}, timeout)


def test_16_nul_bytes_in_code(pod):
    # The code reaches the program byte for byte (NUL included); what the
    # interpreter makes of it is its business (Python 3.11 stops reading at the
    # NUL, 3.12 raises SyntaxError). The reply is a well-formed 200 or a 4xx.
    code = ("import sys\n"
            "src = open(sys.argv[0], 'rb').read()\n"
            "print('intact' if src.endswith(b'\\x00print(2)\\n') else repr(src[-40:]))\n"
            "\u0000print(2)\n")
    status, body = execute_raw(pod, json.dumps(
        {"code": code, "timeout": 5, "working_dir": "/mnt/data"}).encode())
    if status == 200:
        r = json.loads(body)
        assert isinstance(r["exit_code"], int) and isinstance(r["stderr"], str), r
        assert r["stdout"].strip() == "intact" or (r["exit_code"] != 0 and r["stderr"]), r
    else:
        assert 400 <= status < 500, (status, body[:200])
    assert sidecar_ready(pod)


def test_16_ten_megabyte_source(pod):
    code = "# " + "x" * (10 << 20) + "\nprint('big ok')\n"
    status, body = execute_raw(pod, json.dumps(
        {"code": code, "timeout": 20, "working_dir": "/mnt/data"}).encode(), timeout=60)
    if status == 200:
        r = json.loads(body)
        assert r["stdout"].strip() == "big ok" or (r["exit_code"] != 0 and r["stderr"]), r
    else:
        assert status in (400, 413, 422), (status, body[:200])
    assert sidecar_ready(pod)


@pytest.mark.parametrize("payload", [
    b'{"code":"print(1)\xff\xfe","timeout":5,"working_dir":"/mnt/data"}',
    b'{"code":"print(\'\\udc80\')","timeout":5,"working_dir":"/mnt/data"}',
    b'{"code":"print(1)","timeout":"five","working_dir":"/mnt/data"}',
    b'{"code":',
    b'\x00\x01\x02',
], ids=["invalid-utf8", "lone-surrogate", "bad-type", "truncated", "binary"])
def test_16_invalid_requests(pod, payload):
    status, body = execute_raw(pod, payload)
    assert 400 <= status < 500, (status, body[:200])
    assert sidecar_ready(pod)


# --------------------------------------------------------------------------
# 17. Signalling kcr


def test_17_kill_all(pod):
    with new_pod() as other:
        box = {}

        def neighbour():
            box["r"] = run(other, "import time\ntime.sleep(2.5)\nprint('survived')", timeout=10)

        t = threading.Thread(target=neighbour)
        t.start()
        time.sleep(0.8)  # the neighbour's code is running now
        spid = sidecar_pid(pod)
        assert main_environment(pod) is not None
        # kill -9 -1 from user code, which first starts a few processes of its
        # own: those die (Linux never signals the caller itself with -1).
        r1 = run(pod, """
import os, signal, subprocess
kids = [subprocess.Popen(['sleep', '100']) for _ in range(3)]
os.kill(-1, signal.SIGKILL)
print('own children:', [k.wait() for k in kids])
""")
        # Kill every visible pid, then report.
        r2 = run(pod, """
import os, signal
me = os.getpid()
res = []
for d in os.listdir('/proc'):
    if d.isdigit() and int(d) != me:
        try:
            os.kill(int(d), signal.SIGKILL)
            res.append(d + ':ok')
        except OSError as e:
            res.append(d + ':' + str(e.errno))
print(' '.join(res))
""")
        # The shell's kill too.
        r3 = run(pod, "import subprocess\n"
                      "subprocess.run(['bash', '-c', 'sleep 100 & kill -9 -1; echo after'])\n")
        t.join(15)
        # Only the code's own processes died: the sidecar answers and runs more code,
        assert os.path.exists("/proc/%d" % spid)
        assert sidecar_ready(pod)
        r4 = run(pod, "print(6 * 7)")
        assert r4["exit_code"] == 0 and r4["stdout"].strip() == "42", r4
        # the main container is alive, and the other pod's execution finished normally.
        assert main_environment(pod) is not None
        assert box["r"]["exit_code"] == 0 and box["r"]["stdout"].strip() == "survived", box["r"]
        assert r1["exit_code"] == 0, r1
        assert r1["stdout"].strip() == "own children: [-9, -9, -9]", r1
        # Every pid user code can see is its own or its pid-1 init.
        assert r2["exit_code"] == 0, r2
        # bash's kill -9 -1 kills python, its parent: the execution dies (137).
        assert r3["exit_code"] == 137, r3
