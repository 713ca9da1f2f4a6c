"""kcr serve with KCR_POD_BACKEND=kubernetes against the API server SIMULATION
(k8s_sim.py; its pods are real local pods), and the API black-box suites
and the security suite re-run in that mode through the k8s_backend_plugin pytest
plugin."""
import concurrent.futures
import os
import re
import subprocess
import sys
import time

import pytest

import api_util
from conftest import BUILD
from k8s_util import Sim, needs_k8s_bins

pytestmark = [pytest.mark.needs_root, needs_k8s_bins]

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def sim():
    s = Sim(token="serve-token-0123456789")
    try:
        yield s
        s.assert_backend_objects_valid()
    finally:
        s.stop()


def k8s_env(sim, **extra):
    env = {"KCR_POD_BACKEND": "kubernetes", "K8S_API_URL": sim.url, "K8S_TOKEN": sim.token}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def test_simulated_exec_through_kubernetes_backend(sim):
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


def test_simulated_programmatic_run_through_kubernetes_backend(sim):
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


def test_simulated_503_when_pods_cannot_be_created(sim):
    s = api_util.start_server(k8s_env(sim, POD_POOL_PY=0))
    try:
        sim.fail("POST", 500, 1000)
        r = s.exec("print(1)")
        assert r.status_code == 503, r.text
    finally:
        s.cleanup()


@pytest.mark.slow
@pytest.mark.timeout(2400)  # the suites' own run may take 1800 s (below)
def test_simulated_api_suites_pass_with_kubernetes_backend():
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


# ---------------------------------------------------------------------------
# Two `kcr serve` replicas sharing one warm pool in one (simulated) namespace.
# Each replica has its own data dir and embedded store (the shared stores are
# tested elsewhere); what they share here is the pool in the "cluster".


def replica_pair(sim, **extra):
    """Two kcr serve processes, same simulated API server and namespace."""
    env = k8s_env(sim, K8S_POD_READY_TIMEOUT_SECONDS=60, **extra)
    a = api_util.start_server(env)
    try:
        b = api_util.start_server(env)
    except BaseException:
        a.cleanup()
        raise
    return a, b


def replica_id(s):
    return s.get("/health/detailed").json()["services"]["pods"]["details"]["replica"]


def assert_single_use(sim, n_execs):
    """From the simulator's records: every pod was handed out once (claimed
    from the pool or created already claimed), and no pod's sidecar received
    /execute from more than one execution."""
    st = sim.stats()
    acquired = [a["pod"] for a in st["acquired"]]
    assert len(acquired) == len(set(acquired)), "a pod was handed out twice: %s" % acquired
    assert len(acquired) >= n_execs, st["acquired"]
    ex = st["executes"]
    assert sum(ex.values()) >= n_execs and all(n == 1 for n in ex.values()), ex
    assert set(ex) <= set(acquired), (ex, acquired)
    assert st["rejected"] == [], st["rejected"]
    return st


def test_simulated_two_serve_replicas_share_the_pool_concurrently(sim):
    """12 concurrent /exec spread over two replicas: all succeed, each in its
    own pod; both replicas claim from the one cluster-wide pool."""
    a, b = replica_pair(sim, POD_POOL_PY=3, K8S_ACQUIRE_WAIT_MS=20000)
    try:
        sim.wait(lambda: len([p for p in sim.live("warm", "py") if p["phase"] == "Running"])
                 >= 3, 90, "3 warm pods")
        ids = {replica_id(a), replica_id(b)}
        code = "import os, socket; print('pid', os.getpid())"
        with concurrent.futures.ThreadPoolExecutor(12) as ex:
            futs = [ex.submit((a if i % 2 else b).exec, code) for i in range(12)]
            rs = [f.result() for f in futs]
        assert all(r.status_code == 200 for r in rs), [r.text for r in rs]
        assert all(r.json()["stdout"].startswith("pid ") for r in rs), [r.text for r in rs]
        st = assert_single_use(sim, 12)
        assert {c["owner"] for c in st["acquired"]} <= ids
        claims = [c for c in st["claims"]]
        assert {c["owner"] for c in claims} == ids, "both replicas claimed warm pods: %s" % claims
    finally:
        a.cleanup()
        b.cleanup()


def test_simulated_race_for_one_warm_pod_has_one_winner(sim):
    """Both replicas see the same single warm pod and send their claims with
    the same resourceVersion (the simulator holds both claims until both
    arrived): one wins, the other gets 409, retries and still runs its code."""
    a = api_util.start_server(k8s_env(sim, POD_POOL_PY=1, K8S_ACQUIRE_WAIT_MS=20000,
                                      K8S_POD_READY_TIMEOUT_SECONDS=60))
    b = None
    try:
        warm = sim.wait(lambda: [p for p in sim.live("warm", "py") if p["phase"] == "Running"],
                        60, "a warm pod")
        # b starts on a full pool: it creates nothing, both see the same pod.
        b = api_util.start_server(k8s_env(sim, POD_POOL_PY=1, K8S_ACQUIRE_WAIT_MS=20000,
                                          K8S_POD_READY_TIMEOUT_SECONDS=60))
        time.sleep(1)
        assert [p["name"] for p in sim.live("warm", "py")] == [warm[0]["name"]]
        conflicts0 = sim.stats()["conflicts"]
        sim.hold(ms=1500, count=2)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            fa, fb = ex.submit(a.exec, "print('a')"), ex.submit(b.exec, "print('b')")
            ra, rb = fa.result(), fb.result()
        assert ra.status_code == 200 and ra.json()["stdout"] == "a\n", ra.text
        assert rb.status_code == 200 and rb.json()["stdout"] == "b\n", rb.text
        st = assert_single_use(sim, 2)
        won = [c for c in st["claims"] if c["pod"] == warm[0]["name"]]
        assert len(won) == 1, st["claims"]
        assert st["conflicts"] > conflicts0, "the loser's claim was refused with 409"
        pa, pb = (s.get("/health/detailed").json()["services"]["pods"]["details"]
                  for s in (a, b))
        assert pa["claim_conflicts"] + pb["claim_conflicts"] >= 1, (pa, pb)
    finally:
        a.cleanup()
        if b:
            b.cleanup()


def test_simulated_killed_serve_replica_leaves_no_pod(sim):
    """A replica killed with SIGKILL while its execution holds a claimed pod:
    the other replica collects the pod once the lease has run out (a short
    lease and GC interval here), and the real pod is gone."""
    a, b = replica_pair(sim, POD_POOL_PY=0, K8S_LEASE_SECONDS=4, K8S_GC_INTERVAL_SECONDS=1)
    try:
        a_id = replica_id(a)
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            ex.submit(a.exec, "import time; time.sleep(60)")
            held = sim.wait(lambda: [p for p in sim.live("claimed", "py")
                                     if p["labels"].get("kcr.dev/owner") == a_id
                                     and p["phase"] == "Running"], 60, "a's pod running")
            name = held[0]["name"]
            a.kill9()
        assert name in [p["name"] for p in sim.live()]
        sim.wait(lambda: name not in [p["name"] for p in sim.stats()["live"]], 30,
                 "the dead replica's pod collected")
        details = b.get("/health/detailed").json()["services"]["pods"]["details"]
        assert details["garbage_collected"] >= 1, details
        assert b.exec("print('still fine')").json()["stdout"] == "still fine\n"
        sim.wait(lambda: sim.live() == [], 30, "no pod left")
    finally:
        a.cleanup()
        b.cleanup()


def test_simulated_two_replicas_keep_the_warm_pool_bounded(sim):
    """The pool target is per cluster: two replicas, each configured for 2
    warm py pods, count the same pods; a transient overshoot (both refilling
    at once) is bounded by a batch and never grows, through executions."""
    a, b = replica_pair(sim, POD_POOL_PY=2, POD_POOL_JS=0, K8S_POOL_BATCH=1)
    try:
        sim.wait(lambda: len([p for p in sim.live("warm", "py") if p["phase"] == "Running"])
                 >= 2, 90, "2 warm pods")
        peak = 0
        for i in range(4):
            assert (a if i % 2 else b).exec("print(%d)" % i).json()["stdout"] == "%d\n" % i
            peak = max(peak, len(sim.live("warm", "py")))
        deadline = time.time() + 6
        while time.time() < deadline:
            peak = max(peak, len(sim.live("warm", "py")))
            time.sleep(0.2)
        # target 2, plus at most one batch (1) from the other replica.
        assert peak <= 3, peak
        sim.wait(lambda: len([p for p in sim.live("warm", "py") if p["phase"] == "Running"])
                 >= 2, 60, "refilled")
        assert len(sim.live("warm", "py")) <= 3
        assert_single_use(sim, 4)
    finally:
        a.cleanup()
        b.cleanup()
