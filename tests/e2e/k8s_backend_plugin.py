"""pytest plugin: run the API black-box suites with KCR_POD_BACKEND=kubernetes.

Loaded with `-p k8s_backend_plugin` (see test_k8s_api_suite.py). It starts one
API server SIMULATION (k8s_sim.py, real local pods behind loopback pod IPs) for
the session and makes every `kcr serve` that api_util.Server starts use the
kubernetes backend against it. The suites themselves are unchanged."""
import pytest

import api_util
from k8s_util import Sim

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
        "(test_k8s_serve.py::test_503_when_pods_cannot_be_created)",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = LOCAL_ONLY.get(item.nodeid.split("/")[-1])
        if reason:
            item.add_marker(pytest.mark.skip(reason="local backend only: " + reason))


@pytest.fixture(scope="session")
def k8s_sim():
    return _sim
