"""kcr serve with KCR_POD_BACKEND=kubernetes against the API server SIMULATION
(k8s_sim.py; its pods are real local pods), and the API black-box suites
and the security suite re-run in that mode through the k8s_backend_plugin pytest
plugin."""
import os
import re
import subprocess
import sys

import pytest

import api_util
from conftest import BUILD
from k8s_util import Sim, needs_k8s_bins

pytestmark = [pytest.mark.needs_root, needs_k8s_bins]

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def sim():
    s = Sim(token="serve-token-0123456789")
    yield s
    s.stop()


def k8s_env(sim, **extra):
    env = {"KCR_POD_BACKEND": "kubernetes", "K8S_API_URL": sim.url, "K8S_TOKEN": sim.token}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def test_exec_through_kubernetes_backend(sim):
    s = api_util.start_server(k8s_env(sim, POD_POOL_PY=1))
    try:
        r = s.exec("import os; print(os.getuid())")
        assert r.status_code == 200, r.text
        assert r.json()["stdout"] == "65532\n"
        h = s.get("/health/detailed").json()
        pods = h["services"]["pods"]
        assert pods["backend"] == "kubernetes" and pods["status"] == "healthy", pods
        claims = sim.stats()["claims"]
        assert len(claims) == 1 and claims[0]["owner"] == pods["details"]["replica"]
        # Single use: the pod that ran the code is gone.
        sim.wait(lambda: claims[0]["pod"] not in [p["name"] for p in sim.stats()["live"]],
                 30, "used pod deleted")
    finally:
        s.cleanup()


def test_programmatic_run_through_kubernetes_backend(sim):
    """POST /exec/programmatic on the kubernetes backend: the run pauses on a
    tool call in a claimed pod, resumes in the same pod, and the pod is
    deleted at the end like any used pod."""
    s = api_util.start_server(k8s_env(sim, POD_POOL_PY=1))
    try:
        code = "r = await lookup(q='kcr')\nprint('got', r['answer'])\n"
        r = s.post("/exec/programmatic",
                   json={"code": code, "tools": [{"name": "lookup", "parameters": {}}]})
        assert r.status_code == 200, r.text
        step = r.json()
        assert step["status"] == "tool_call_required", step
        [call] = step["tool_calls"]
        assert call["name"] == "lookup" and call["input"] == {"q": "kcr"}
        claims = sim.stats()["claims"]
        assert len(claims) == 1
        held = claims[0]["pod"]
        # Paused: the claimed pod is held, not deleted.
        assert held in [p["name"] for p in sim.stats()["live"]]
        r = s.post("/exec/programmatic", json={
            "continuation_token": step["continuation_token"],
            "tool_results": [{"call_id": call["id"], "result": {"answer": 42},
                              "is_error": False}]})
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["status"] == "completed" and done["stdout"] == "got 42\n", done
        assert len(sim.stats()["claims"]) == 1  # the same pod ran both halves
        sim.wait(lambda: held not in [p["name"] for p in sim.stats()["live"]],
                 30, "used pod deleted")
    finally:
        s.cleanup()


def test_serve_without_api_server_names_the_setting():
    code, out, err = api_util.run_server_once({"KCR_POD_BACKEND": "kubernetes",
                                               "K8S_API_URL": None,
                                               "KUBERNETES_SERVICE_HOST": None})
    assert code != 0 and "K8S_API_URL" in err and "KCR_POD_BACKEND" in err, err


def test_503_when_pods_cannot_be_created(sim):
    s = api_util.start_server(k8s_env(sim, POD_POOL_PY=0))
    try:
        sim.fail("POST", 500, 1000)
        r = s.exec("print(1)")
        assert r.status_code == 503, r.text
    finally:
        s.cleanup()


@pytest.mark.slow
@pytest.mark.timeout(2400)  # the suites' own run may take 1800 s (below)
def test_api_suites_pass_with_kubernetes_backend():
    """The black-box API suites and the security suite, unchanged, on the
    kubernetes backend: every kcr serve uses it, and the security suite's pods
    are created and claimed through it and reached over their pod IPs (two
    local-backend-only tests are skipped, with their kubernetes counterparts
    above; see k8s_backend_plugin.py)."""
    suites = ["test_api_basic.py", "test_api_exec.py", "test_api_files.py",
              "test_api_state.py", "test_api_durability.py", "test_languages.py",
              "test_api_client.py", "test_security.py", "test_parallel.py"]
    suites = [t for t in suites if os.path.exists(os.path.join(HERE, t))]
    env = dict(os.environ, KCR_BUILD=BUILD)
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "k8s_backend_plugin",
                        "-p", "no:cacheprovider"] + suites, cwd=HERE, env=env,
                       capture_output=True, text=True, timeout=1800)
    tail = p.stdout[-4000:]
    assert p.returncode == 0, tail + p.stderr[-2000:]
    assert re.search(r"\b\d+ passed", tail) and not re.search(r"\b\d+ failed", tail), tail
