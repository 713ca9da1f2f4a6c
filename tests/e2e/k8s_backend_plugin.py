"""pytest plugin: run the black-box suites with KCR_POD_BACKEND=kubernetes.

Loaded with `-p k8s_backend_plugin` (see test_k8s_serve.py). It starts one
API server SIMULATION (k8s_sim.py, real local pods behind loopback pod IPs) for
the session and
  - makes every `kcr serve` that api_util.Server starts use the kubernetes
    backend against it;
  - replaces pod_util.LocalPod by K8sPod: a pod created and claimed through
    the kubernetes backend (kcr-k8s-driver) with the test's limits, talked to
    over its pod IP (http://127.0.N.M:8080) like kcr serve does.
The suites themselves are unchanged."""
import http.client
import urllib.parse

import pytest

import api_util
import pod_util
from k8s_util import Replica, Sim

_sim = None


def pytest_configure(config):
    global _sim
    _sim = Sim(token="suite-token-0123456789")
    orig = api_util.Server.environ

    def environ(self):
        env = orig(self)
        env.update({"KCR_POD_BACKEND": "kubernetes", "K8S_API_URL": _sim.url,
                    "K8S_TOKEN": _sim.token, "K8S_POD_READY_TIMEOUT_SECONDS": "60"})
        # A test's own extra env (e.g. a smaller MAX_EXECUTION_TIME) still wins.
        env.update(self.extra_env)
        return env

    api_util.Server.environ = environ
    pod_util.LocalPod = K8sPod


class K8sPod(pod_util.LocalPod):
    """A pod of the kubernetes backend with the LocalPod interface. Its env
    (MAX_MEMORY_MB, MAX_PIDS, MAX_EXECUTION_TIME...) configures the backend, so
    the limits reach the pod through the manifest. `socket` and
    `working_dir_host` are the node-side facts the simulator reports, for the
    tests that look at the real pod from the host."""

    def start(self):
        env = {k: v for k, v in self.env.items()
               if k.startswith(("MAX_", "LANG_", "KCR_LOG"))}
        # Pod-level knobs of a LocalPod, as the kubernetes backend spells them.
        # MAX_OUTPUT_SIZE of a LocalPod is the sidecar's byte cap; the backend's
        # is the API's character cap, which it gives the sidecar as 4x bytes.
        if "MAX_OUTPUT_SIZE" in env:
            env["MAX_OUTPUT_SIZE"] = str(max(1, int(env["MAX_OUTPUT_SIZE"]) // 4))
        for local, k8s in (("POD_TMP_MB", "K8S_TMP_SIZE_MB"), ("POD_DATA_MB", "K8S_DATA_SIZE_MB")):
            if local in self.env:
                env[k8s] = self.env[local]
        env.update({"POD_POOL_" + c: "0" for c in ("PY", "JS")})
        self.replica = Replica(_sim, **env)
        r = self.replica.call(op="acquire", lang=self.lang)
        if not r.get("ok"):
            self.replica.stop()
            raise pod_util.PodError(r.get("error"))
        self.id = r["pod"]
        u = urllib.parse.urlsplit(r["base_url"])
        self.host, self.port = u.hostname, u.port
        info = [p for p in _sim.stats()["live"] if p["name"] == self.id][0]
        self.socket, self.working_dir_host = info["socket"], info["working_dir_host"]
        self.health, self.create_ms = {}, None

    def close(self, timeout=30):
        rep = getattr(self, "replica", None)
        if rep is None:
            return
        self.replica = None
        try:
            rep.call(op="release", pod=self.id)
        finally:
            rep.stop()

    def stderr_text(self):
        return "".join(self.replica.stderr[-20:]) if getattr(self, "replica", None) else ""

    def connection(self, timeout):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def pytest_unconfigure(config):
    if _sim is not None:
        _sim.stop()


# Tests about the local backend itself, each with the kubernetes-mode test
# that covers the same behaviour.
LOCAL_ONLY = {
    "test_api_basic.py::test_bad_configuration_names_the_variable":
        "asserts KCR_POD_BACKEND=kubernetes fails without an API server "
        "(test_k8s_serve.py::test_serve_without_api_server_names_the_setting)",
    "test_api_exec.py::test_503_when_pod_backend_is_down":
        "breaks the local backend with KCR_SIDECAR_BIN "
        "(test_k8s_serve.py::test_simulated_503_when_pods_cannot_be_created)",
    "test_api_basic.py::test_only_the_api_reaches_the_pods":
        "checks local pods' socket directories; in Kubernetes the NetworkPolicy admits only "
        "the API (test_k8s_chart.py)",
    "test_api_basic.py::test_rootless_serve_reports_degraded_isolation":
        "the local backend's rootless mode (user namespaces, no cgroups); a Kubernetes pod's "
        "isolation is the cluster's "
        "(test_k8s_backend.py::test_simulated_pod_manifest_and_single_use)",
    "test_api_exec.py::test_dead_warm_pod_is_replaced_before_the_run":
        "kills a local pod's sidecar found through KCR_RUN_DIR; the retry it proves is the "
        "orchestrator's, the same for every backend",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        nodeid = item.nodeid.split("/")[-1]
        if nodeid in LOCAL_ONLY:
            item.add_marker(pytest.mark.skip(reason="local backend only: " + LOCAL_ONLY[nodeid]))


@pytest.fixture(scope="session")
def k8s_sim():
    return _sim
