"""A real S3-compatible server for the scale-out tests: s3rver from npm
(pinned in tests/s3/package-lock.json), started and stopped by
tests/helpers/s3rver.sh on a free loopback port, paused (SIGSTOP) and
resumed to fault the store. s3rver checks no SigV4 signature, so the
script puts tests/helpers/sigv4-proxy.py, a strict verifier, in front of it:
the port kcr is given is the proxy's. Skips, naming what is missing, without node and
npm."""
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import ROOT, free_port

SCRIPT = os.path.join(ROOT, "tests", "helpers", "s3rver.sh")
BUCKET = "kcr-files"

needs_s3 = pytest.mark.skipif(
    not (shutil.which("node") and shutil.which("npm")),
    reason="needs node and npm for s3rver (npm package s3rver, tests/s3)")


class S3:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kcr-s3-")
        self.port = None
        self.pid = None

    def start(self):
        self.port = self.port or free_port()
        p = subprocess.run([SCRIPT, "start", str(self.port), self.dir, BUCKET],
                           capture_output=True, text=True, timeout=1200)
        if p.returncode == 77:
            pytest.skip("s3rver needs node and npm: " + p.stderr.strip())
        assert p.returncode == 0, p.stderr
        self.pid = int(p.stdout.split()[-1])
        return self

    def env(self):
        return {"MINIO_ENDPOINT": f"127.0.0.1:{self.port}", "MINIO_ACCESS_KEY": "S3RVER",
                "MINIO_SECRET_KEY": "S3RVER", "MINIO_BUCKET": BUCKET, "MINIO_SECURE": "false"}

    def set_secret(self, secret):
        """The secret the proxy checks signatures with (read per request)."""
        with open(os.path.join(self.dir, "sigv4-secret"), "w") as f:
            f.write(secret + "\n")

    def proxy_log(self):
        with open(os.path.join(self.dir, "sigv4-proxy.log")) as f:
            return f.read()

    def pause(self):
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.pid, signal.SIGCONT)

    def cleanup(self):
        subprocess.run([SCRIPT, "stop", self.dir], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)
