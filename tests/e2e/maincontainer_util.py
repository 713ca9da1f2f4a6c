"""Real "main containers" and a real kcr-sidecar for the sidecar suites.

A main container is what a pod's main container looks like from the sidecar:
a process in its own mount/pid/uts/ipc namespaces, pivot_root'ed (or only
chroot'ed) into a rootfs, idling after `env -i PATH=... MARKER=1 <name> sleep`.
<name> is a copy of the static kcr-probe under a unique name, so that
MAIN_PROCESS_NAME finds this container and never another suite's `sleep`.

Rootfs kinds:
  busybox  static busybox (Debian busybox-static) + applet links, kcr-probe,
           and /usr/local/bin/only-in-rootfs, which exists nowhere else;
  python   the host's /usr bound read-only (python3 works), /opt/kcr/bin/python.
"""
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import uuid

from pod_util import UnixHTTPConnection, proc_cmdlines

BUSYBOX = "/bin/busybox"
APPLETS = ["sh", "ls", "cat", "env", "sleep", "echo", "id", "umount", "rmdir", "mkdir",
           "true", "false", "kill", "ps", "printenv", "head", "wc", "yes", "dd", "seq", "grep"]
MARKER_OUTPUT = "only-in-rootfs marker"


def find_pids_by_name(name):
    return [pid for pid, argv in proc_cmdlines()
            if os.path.basename(argv[0].decode(errors="replace")) == name]


def pids_with_marker(marker):
    """Every process whose command line mentions marker (survivor checks)."""
    m = marker.encode()
    return [pid for pid, argv in proc_cmdlines() if any(m in a for a in argv)]


class MainContainer:
    def __init__(self, base, probe, kind="busybox", chroot_only=False, user=None):
        """user: the main process's uid/gid (a DHI image's 65532); default root."""
        self.base = base
        self.kind = kind
        self.chroot_only = chroot_only
        self.user = user
        self.name = "kcrmain-" + secrets.token_hex(4)
        self.root = os.path.join(base, "rootfs")
        self.data = os.path.join(base, "data")
        self.probe = probe
        self.proc = None
        self.pid = None

    def _build_rootfs(self):
        r = self.root
        for d in ["bin", "proc", "tmp", "mnt/data", "dev", "opt/kcrtest", "usr/local/bin", "etc"]:
            os.makedirs(os.path.join(r, d), exist_ok=True)
        os.makedirs(self.data, exist_ok=True)
        os.chmod(self.data, 0o777)
        opt = os.path.join(r, "opt/kcrtest")
        shutil.copy2(self.probe, os.path.join(opt, "kcr-probe"))
        shutil.copy2(self.probe, os.path.join(opt, self.name))
        if self.kind == "busybox":
            shutil.copy2(BUSYBOX, os.path.join(r, "bin/busybox"))
            for a in APPLETS:
                os.symlink("busybox", os.path.join(r, "bin", a))
            # busybox has no bash applet; the language table runs `bash {file}`
            with open(os.path.join(r, "bin/bash"), "w") as f:
                f.write('#!/bin/sh\nexec /bin/sh "$@"\n')
            os.chmod(os.path.join(r, "bin/bash"), 0o755)
            with open(os.path.join(r, "usr/local/bin/only-in-rootfs"), "w") as f:
                f.write(f"#!/bin/sh\necho '{MARKER_OUTPUT}'\n")
            os.chmod(os.path.join(r, "usr/local/bin/only-in-rootfs"), 0o755)
            with open(os.path.join(r, "etc/passwd"), "w") as f:
                f.write("root:x:0:0::/:/bin/sh\nnonroot:x:65532:65532::/tmp:/bin/sh\n")
        else:
            os.rmdir(os.path.join(r, "bin"))
            os.makedirs(os.path.join(r, "usr"), exist_ok=True)
            for l in ["bin", "lib", "lib64", "sbin"]:
                os.symlink("usr/" + l, os.path.join(r, l))
            os.makedirs(os.path.join(r, "opt/kcr/bin"), exist_ok=True)
            os.symlink("/usr/bin/python3", os.path.join(r, "opt/kcr/bin/python"))
            with open(os.path.join(opt, "only-in-rootfs"), "w") as f:
                f.write(f"#!/bin/sh\necho '{MARKER_OUTPUT}'\n")
            os.chmod(os.path.join(opt, "only-in-rootfs"), 0o755)

    def _script(self):
        r = self.root
        env = ("env -i PATH=/opt/kcrtest:/opt/kcr/bin:/usr/local/bin:/usr/bin:/bin "
               f"MARKER=1 HOME=/tmp LANG=C.UTF-8 {self.name} sleep")
        if self.user is not None:
            env = f"/opt/kcrtest/kcr-probe run-as {self.user} {self.user} {env}"
        mounts = [
            f"mount --bind {r} {r}",
            f"mount -t proc proc {r}/proc",
            f"mount -t tmpfs -o size=64m,mode=1777 tmpfs {r}/tmp",
            f"mount -t tmpfs -o size=1m tmpfs {r}/dev",
            f"touch {r}/dev/null && mount --bind /dev/null {r}/dev/null",
            f"mount --bind {self.data} {r}/mnt/data",
        ]
        if self.kind == "python":
            mounts += [f"mount --bind /usr {r}/usr", f"mount -o remount,bind,ro {r}/usr",
                       f"mount --bind /etc {r}/etc", f"mount -o remount,bind,ro {r}/etc"]
        if self.chroot_only:
            tail = f"exec chroot {r} {env}"
        else:
            tail = (f"cd {r} && mkdir -p .old && pivot_root . .old && cd / && "
                    f"umount -l /.old && rmdir /.old && exec {env}")
        return " && ".join(["set -e"] + mounts) + " && " + tail

    def start(self, timeout=10):
        self._build_rootfs()
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--uts", "--ipc", "--fork", "--propagation",
             "private", "sh", "-c", self._script()],
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            pids = find_pids_by_name(self.name)
            if pids:
                self.pid = pids[0]
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"main container exited with {self.proc.returncode}")
            time.sleep(0.02)
        raise RuntimeError("main container did not start")

    def stop(self):
        # A pid-namespace init ignores SIGTERM: SIGKILL it, the namespace dies.
        for pid in find_pids_by_name(self.name):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)


class Sidecar:
    SECRET = "kcr-secret-" + secrets.token_hex(8)

    def __init__(self, build, base, data_dir, main_name, language="bash", extra_env=None,
                 user=None, nsexec=None, cgroup_procs=None, wrapper=None):
        """user: run as this uid/gid (through setpriv, keeping the bounding set so
        that a file-capability kcr-nsexec works); cgroup_procs: a cgroup.procs
        file to move the sidecar into before it serves; wrapper: argv to run
        kcr-sidecar under (valgrind)."""
        self.build = build
        self.user = user
        self.wrapper = list(wrapper or [])
        self.cgroup_procs = cgroup_procs
        self.sock = os.path.join(base, "sidecar.sock")
        self.log_path = os.path.join(base, "sidecar.log")
        env = {
            "PATH": "/usr/bin:/bin",
            "LANGUAGE": language,
            "WORKING_DIR": data_dir,
            "SIDECAR_SOCKET": self.sock,
            "MAIN_PROCESS_NAME": main_name,
            "KCR_NSEXEC": nsexec or os.path.join(build, "kcr-nsexec"),
            "KCR_TEST_SECRET": self.SECRET,
            "MAX_EXECUTION_TIME": "60",
        }
        env.update(extra_env or {})
        self.env = env
        # SIDECAR_SOCKET="" means TCP on SIDECAR_PORT
        self.tcp_port = int(env["SIDECAR_PORT"]) if not env["SIDECAR_SOCKET"] else 0
        self.proc = None

    def start(self, timeout=10):
        self.log = open(self.log_path, "wb")
        argv = self.wrapper + [os.path.join(self.build, "kcr-sidecar")]
        if self.user is not None:
            argv = ["setpriv", f"--reuid={self.user}", f"--regid={self.user}",
                    "--clear-groups", "--inh-caps=-all", "--"] + argv
        procs = self.cgroup_procs

        def enter_cgroup():
            if procs:
                with open(procs, "w") as f:
                    f.write("0")

        self.proc = subprocess.Popen(argv, env=self.env, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, preexec_fn=enter_cgroup)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.tcp_port or os.path.exists(self.sock):
                try:
                    self.request("GET", "/health")
                    return self
                except OSError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"kcr-sidecar exited {self.proc.returncode}: "
                                   + open(self.log_path, errors="replace").read()[-2000:])
            time.sleep(0.02)
        raise RuntimeError("kcr-sidecar did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def request(self, method, path, body=None, headers=None, timeout=90):
        if self.tcp_port:
            c = http.client.HTTPConnection("127.0.0.1", self.tcp_port, timeout=timeout)
        else:
            c = UnixHTTPConnection(self.sock, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return Response(r.status, r.read(), dict(r.getheaders()))
        finally:
            c.close()

    def execute(self, code, **fields):
        fields["code"] = code
        r = self.request("POST", "/execute", json.dumps(fields),
                         {"Content-Type": "application/json"})
        return r

    def upload(self, files):
        """files: list of (filename, bytes). Multipart field 'files'."""
        boundary = uuid.uuid4().hex
        parts = []
        for name, data in files:
            parts.append((f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                          f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                          ).encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", "/files", body,
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def require_root_and_binaries(build):
    import pytest
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces, pivot_root)")
    for b in ("kcr-sidecar", "kcr-nsexec", "kcr-probe"):
        if not os.access(os.path.join(build, b), os.X_OK):
            pytest.skip(f"{b} not built in {build}")
    if not os.path.exists(BUSYBOX):
        pytest.skip("busybox-static is not installed (deps/test.txt)")


class Pod:
    """A main container plus a kcr-sidecar pointed at it."""

    def __init__(self, tmp, build, kind="busybox", chroot_only=False, language="bash",
                 extra_env=None, main_user=None, **sidecar_opts):
        self.main = MainContainer(str(tmp), os.path.join(build, "kcr-probe"), kind,
                                  chroot_only, main_user).start()
        try:
            self.sidecar = Sidecar(build, str(tmp), self.main.data, self.main.name, language,
                                   extra_env, **sidecar_opts).start()
        except Exception:
            self.main.stop()
            raise

    def execute(self, code, **fields):
        return self.sidecar.execute(code, **fields)

    def run(self, code, **fields):
        r = self.execute(code, **fields)
        assert r.status == 200, r.body
        return r.json()

    def close(self):
        self.sidecar.stop()
        self.main.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def module_pod(name, **kw):
    """A module-scoped fixture: a Pod(**kw) in a fresh temporary directory
    called name, closed after the module's tests (which are skipped without
    root or the binaries). `pod = module_pod("bb")` in a test module."""
    import pytest

    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory, build_dir):
        require_root_and_binaries(build_dir)
        with Pod(tmp_path_factory.mktemp(name), build_dir, **kw) as p:
            yield p
    return fixture


def wait_no_survivors(marker, timeout=5.0):
    deadline = time.time() + timeout
    left = pids_with_marker(marker)
    while left and time.time() < deadline:
        time.sleep(0.05)
        left = pids_with_marker(marker)
    return left
