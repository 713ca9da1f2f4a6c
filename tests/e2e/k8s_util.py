"""Helpers for the kubernetes backend tests: start the API server SIMULATION
(tests/e2e/k8s_sim.py, real local pods behind loopback pod IPs) and kcr
replicas driven through build/kcr-k8s-driver (the backend outside kcr serve)."""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
import requests

from conftest import BUILD, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "k8s_sim.py")
KCR = os.path.join(BUILD, "kcr")
DRIVER = os.path.join(BUILD, "kcr-k8s-driver")
# The strict schema validator of the simulator (npm kubernetes-models, pinned).
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "k8s-schema")

needs_k8s_bins = pytest.mark.skipif(
    not all(os.path.exists(p) for p in (KCR, DRIVER, os.path.join(BUILD, "kcr-sidecar"),
                                        os.path.join(BUILD, "kcr-nsexec"))),
    reason="needs build/kcr, kcr-k8s-driver, kcr-sidecar and kcr-nsexec")


def ensure_schema():
    """Installs tests/k8s-schema/node_modules (`npm ci`, from the lockfile) when
    missing or older than the lockfile; returns the directory. One installer
    at a time (a file lock), for suites run side by side."""
    marker = os.path.join(SCHEMA_DIR, "node_modules", ".package-lock.json")
    lock = os.path.join(SCHEMA_DIR, "package-lock.json")
    if os.path.exists(marker) and os.path.getmtime(marker) >= os.path.getmtime(lock):
        return SCHEMA_DIR
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.fail("node and npm are needed for the simulator's schema validation "
                    "(tests/k8s-schema)")
    with open(os.path.join("/tmp", "kcr-k8s-schema.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not os.path.exists(marker) or os.path.getmtime(marker) < os.path.getmtime(lock):
            p = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                               cwd=SCHEMA_DIR, capture_output=True, text=True, timeout=900)
            assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return SCHEMA_DIR


class Sim:
    """One k8s_sim.py process (a simulation, not Kubernetes)."""

    def __init__(self, token=None):
        self.port = free_port()
        self.token = token
        self.log = open(os.path.join("/tmp", "k8s-sim-%d.log" % self.port), "wb")
        args = [sys.executable, SIM, "--port", str(self.port), "--kcr", KCR,
                "--schema-dir", ensure_schema(),
                "--pod-log", "/tmp/k8s-sim-pods-%d.log" % self.port]
        if token:
            args += ["--token", token]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("READY"), "simulator did not start: %r" % line
        self.url = "http://127.0.0.1:%d" % self.port

    def _h(self):
        return {"Authorization": "Bearer " + self.token} if self.token else {}

    def validate(self, obj):
        """The simulator's strict schema check of obj: {"ok", "errors"}."""
        return requests.post(self.url + "/_sim/validate", json=obj, timeout=30).json()

    def hold(self, ms, count=2):
        """The next `count` guarded writes each wait ms before their check."""
        requests.post(self.url + "/_sim/hold", params={"ms": ms, "count": count}, timeout=10)

    def stats(self):
        return requests.get(self.url + "/_sim/stats", timeout=10).json()

    def live(self, pool=None, lang=None):
        """Pods not being deleted, optionally filtered by kcr.dev/pool and language."""
        return [p for p in self.stats()["live"] if not p["deleting"]
                and (pool is None or p["labels"].get("kcr.dev/pool") == pool)
                and (lang is None or p["labels"].get("kcr.dev/language") == lang)]

    def pods(self, selector=None):
        r = requests.get(self.url + "/api/v1/namespaces/default/pods", headers=self._h(),
                         params={"labelSelector": selector} if selector else None, timeout=10)
        r.raise_for_status()
        return r.json()["items"]

    def delete(self, name):
        return requests.delete(self.url + "/api/v1/namespaces/default/pods/" + name,
                               headers=self._h(), timeout=10)

    def restart(self, down_ms):
        requests.post(self.url + "/_sim/restart", params={"down_ms": down_ms}, timeout=10)

    def fail(self, method, status, count):
        requests.post(self.url + "/_sim/fail",
                      params={"method": method, "status": status, "count": count}, timeout=10)

    def wait(self, pred, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.2)
        raise AssertionError("timed out after %ss waiting for %s; sim stats: %s"
                             % (timeout, what, json.dumps(self.stats())[:2000]))

    def assert_backend_objects_valid(self):
        """Every object the backend wrote passed the strict schema validation,
        and every write asked for fieldValidation=Strict."""
        st = self.stats()
        assert st["rejected"] == [], "objects rejected by the schema: %s" % st["rejected"]
        assert set(st["field_validation"]) <= {"Strict"}, st["field_validation"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Replica:
    """One kcr-k8s-driver process: the kubernetes backend of one API replica."""

    def __init__(self, sim, **env):
        e = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_", "POD_POOL_"))}
        e.update({"K8S_API_URL": sim.url, "POD_POOL_PY": "0", "POD_POOL_JS": "0",
                  "K8S_POD_READY_TIMEOUT_SECONDS": "40",
                  # Simulated pods share this machine's two cores: runners
                  # that each import the data-science stack would starve
                  # them (RUNNER_PRELOAD is tested in test_sidecar_runner.py
                  # and the manifest in test_k8s_spec.c).
                  "PRELOAD_PY": "none"})
        if sim.token:
            e["K8S_TOKEN"] = sim.token
        e.update({k: str(v) for k, v in env.items()})
        self.stderr = []
        self.proc = subprocess.Popen([DRIVER], env=e, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain, daemon=True).start()
        first = json.loads(self.proc.stdout.readline() or '{"ready":false}')
        assert first.get("ready"), "driver did not start: %s %s" % (first, self.stderr[-5:])

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def recv(self):
        line = self.proc.stdout.readline()
        assert line, "driver died: %s" % "".join(self.stderr[-10:])
        return json.loads(line)

    def call(self, **cmd):
        self.send(**cmd)
        return self.recv()

    def exec(self, code, lang="py", timeout=20):
        return self.call(op="exec", lang=lang, code=code, timeout=timeout)

    def health(self):
        return self.call(op="health")

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
