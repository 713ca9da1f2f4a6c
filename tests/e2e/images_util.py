"""Helpers for the image tests: a private Docker engine started by hand
(machine-feasibility.md section 5: no iptables, no bridge, its own data and
exec roots, pid file and socket) and stopped afterwards, leaving nothing."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class DockerdUnavailable(Exception):
    """The engine cannot run here; the message says why (used as skip reason)."""


def _mounts_under(prefix):
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            mnt = line.split()[1].replace("\\040", " ")
            if mnt == prefix or mnt.startswith(prefix + "/"):
                out.append(mnt)
    return out


def ensure_dockerd_installed():
    """dockerd from Debian's docker.io; installed through scripts/deps.sh images
    when missing (root only). Raises DockerdUnavailable with the reason."""
    if shutil.which("dockerd") and shutil.which("docker"):
        return
    if os.geteuid() != 0:
        raise DockerdUnavailable("dockerd not installed and not root (apt-get install docker.io)")
    if os.environ.get("KCR_TEST_NO_INSTALL"):
        raise DockerdUnavailable("dockerd not installed (KCR_TEST_NO_INSTALL set)")
    r = subprocess.run([os.path.join(ROOT, "scripts", "deps.sh"), "images"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or not shutil.which("dockerd"):
        raise DockerdUnavailable("installing docker.io failed: " + (r.stderr or r.stdout)[-300:])


class Dockerd:
    """A dockerd of our own. Use as a context manager; env() gives the
    environment for docker clients (DOCKER_HOST)."""

    def __init__(self, parent=None):
        # Socket paths must stay short (sun_path is 108 bytes): containerd puts
        # its sockets under the exec root.
        base = parent if parent and len(parent) < 48 else None
        self.dir = tempfile.mkdtemp(prefix="kcr-dockerd-", dir=base)
        self.sock = os.path.join(self.dir, "docker.sock")
        self.pidfile = os.path.join(self.dir, "dockerd.pid")
        self.log = os.path.join(self.dir, "dockerd.log")
        self.proc = None

    def env(self):
        e = dict(os.environ)
        e["DOCKER_HOST"] = "unix://" + self.sock
        # Temp dirs of the scripts (socket dirs, contexts) go under our dir.
        e["TMPDIR"] = self.dir
        e.pop("DOCKER_CONTEXT", None)
        return e

    def docker(self, *args, timeout=120, check=True):
        r = subprocess.run(["docker", *args], env=self.env(), capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: rc={r.returncode}\n{r.stderr}")
        return r

    def start(self, timeout=30):
        cmd = ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
               "--storage-driver=overlay2",
               "--data-root", os.path.join(self.dir, "data"),
               "--exec-root", os.path.join(self.dir, "exec"),
               "--pidfile", self.pidfile, "-H", "unix://" + self.sock]
        logf = open(self.log, "wb")
        try:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.sock):
                r = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                                   env=self.env(), capture_output=True, text=True, timeout=10)
                if r.returncode == 0:
                    return r.stdout.strip()
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise DockerdUnavailable(f"dockerd did not come up: {tail}")

    def log_tail(self, n=600):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # Containers first, so nothing outlives the engine.
            ids = subprocess.run(["docker", "ps", "-aq"], env=self.env(), capture_output=True,
                                 text=True, timeout=30).stdout.split()
            if ids:
                subprocess.run(["docker", "rm", "-f", *ids], env=self.env(),
                               capture_output=True, timeout=60)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # dockerd's containerd shim children are in its session.
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for m in sorted(_mounts_under(self.dir), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def dockerfile_entrypoint(path):
    """The exec-form ENTRYPOINT of the last stage of a Dockerfile, as a list."""
    text = open(path).read().replace("\\\n", " ")
    found = re.findall(r"^ENTRYPOINT\s+(\[.*\])\s*$", text, re.M)
    return json.loads(found[-1]) if found else None


def lang_table():
    """(code, image, env dict) for every language of src/common/lang.c."""
    src = open(os.path.join(ROOT, "src", "common", "lang.c")).read()
    base = re.search(r"#define BASE_ENV\s+\\\s*\n(.*?)\n\n", src, re.S)
    base_env = re.findall(r'"([A-Z_]+=[^"]*)"', base.group(1)) if base else []
    out = []
    for block in re.findall(r"\{\s*\n\s*\.code = .*?\.mem_mult = [^,]*,\s*\n\s*\}", src, re.S):
        code = re.search(r'\.code = "([^"]+)"', block).group(1)
        image = re.search(r'\.image = "([^"]+)"', block).group(1)
        env_m = re.search(r"\.env = \{(.*?)NULL\}", block, re.S)
        env = {}
        if env_m:
            items = env_m.group(1)
            if "BASE_ENV" in items:
                for kv in base_env:
                    k, v = kv.split("=", 1)
                    env[k] = v
            for kv in re.findall(r'"([A-Za-z_]+=[^"]*)"', items):
                k, v = kv.split("=", 1)
                env[k] = v
        out.append((code, image, env))
    return out
