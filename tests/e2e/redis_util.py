"""A real redis-server for the scale-out tests: started on a free loopback
port in its own temporary directory, paused (SIGSTOP) and resumed to fault
the store, killed at the end. Skips, naming redis-server, when the Debian
package is missing (deps/test.txt installs it for make test)."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

needs_redis = pytest.mark.skipif(
    not os.path.exists(REDIS_SERVER), reason="needs redis-server (Debian package redis-server)")


class Redis:
    def __init__(self, password=None):
        self.password = password
        self.dir = tempfile.mkdtemp(prefix="kcr-redis-")
        self.port = None
        self.proc = None

    def start(self, timeout=20):
        self.port = self.port or free_port()
        # appendonly + fsync always: what an operator runs for a store whose
        # acknowledged writes must survive (docs/scale-out.md).
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                "--protected-mode", "no", "--daemonize", "no", "--logfile", ""]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                auth = (f"AUTH {self.password}\r\n" if self.password else "")
                s.sendall((auth + "PING\r\n").encode())
                data = b""
                while b"PONG" not in data:
                    chunk = s.recv(256)
                    if not chunk:
                        return False
                    data += chunk
                return True
        except OSError:
            return False

    def command(self, *args):
        """One command on its own connection; the reply parsed (integers,
        strings, arrays, nil as None; an error reply raises)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            f = s.makefile("rwb")
            if self.password:
                self._send(f, "AUTH", self.password)
                self._read(f)
            self._send(f, *args)
            return self._read(f)

    @staticmethod
    def _send(f, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        f.write(out)
        f.flush()

    def _read(self, f):
        line = f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)[:n]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read(f) for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
