"""The kubernetes pod backend against the API server SIMULATION (k8s_sim.py),
whose pods are real local pods (namespaces + kcr-sidecar) reached through
loopback pod IPs. Each kcr replica is a kcr-k8s-driver process running
src/pod/pod-k8s.c exactly as kcr serve does (create, sidecar calls, destroy)."""
import json
import time

import pytest
import requests

from conftest import wait_for
from k8s_util import Replica, Sim, needs_k8s_bins

pytestmark = [pytest.mark.needs_root, needs_k8s_bins]


@pytest.fixture
def sim():
    s = Sim(token="sim-token-0123456789")
    try:
        yield s
        s.assert_backend_objects_valid()
    finally:
        s.stop()


@pytest.fixture
def replicas():
    started = []

    def start(sim, **env):
        r = Replica(sim, **env)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def test_simulated_pod_manifest_and_single_use(sim, replicas):
    """A warm pod is claimed, runs code as 65532 in a real pod, then is deleted;
    the pool is refilled at once; the pods carry the section-15 fields."""
    r = replicas(sim, POD_POOL_PY=1, K8S_MAIN_MEMORY_MB="48", K8S_MAIN_CPU_MILLIS="150")
    warm = sim.wait(lambda: [p for p in sim.pods("kcr.dev/pool=warm")
                             if p["status"].get("phase") == "Running"], 60, "a warm py pod")
    spec = warm[0]["spec"]
    assert spec["shareProcessNamespace"] is True
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    side = [c for c in spec["containers"] if c["name"] == "kcr-sidecar"][0]
    assert sorted(side["securityContext"]["capabilities"]["add"]) == [
        "SYS_ADMIN", "SYS_CHROOT", "SYS_PTRACE"]
    main = [c for c in spec["containers"] if c["name"] == "main"][0]
    assert main["resources"]["limits"] == {"memory": "48Mi", "cpu": "150m"}, main["resources"]

    out = r.exec("import os; print(os.getuid(), os.getgid()); print(open('/etc/hostname').read() != '')")
    assert out["ok"], out
    assert out["exit_code"] == 0
    assert out["stdout"].splitlines()[0] == "65532 65532"
    used = out["pod"]
    claims = [c for c in sim.stats()["claims"] if c["pod"] == used]
    assert len(claims) == 1, "the pod used was claimed from the warm pool"
    # Single use: deleted, and a new warm pod replaces it.
    sim.wait(lambda: used not in [p["name"] for p in sim.stats()["live"]], 30, "pod deleted")
    sim.wait(lambda: [p for p in sim.live("warm", "py") if p["name"] != used], 60, "refill")
    h = r.health()
    assert h["backend"] == "kubernetes" and h["status"] == "healthy", h


def test_simulated_on_demand_pod_when_pool_empty(sim, replicas):
    """Pool size 0: a pod is created for the request, waited for, used, deleted."""
    r = replicas(sim, POD_POOL_PY=0)
    out = r.exec("echo on-demand; exit 3", lang="bash")
    assert out["ok"], out
    assert out["exit_code"] == 3 and out["stdout"] == "on-demand\n"
    assert sim.stats()["claims"] == [], "created already claimed, never via the warm pool"
    sim.wait(lambda: sim.live() == [], 30, "no pod left")


def test_simulated_two_replicas_share_pool_without_double_acquire(sim, replicas):
    """Two replicas race for one pool: every execution gets its own pod, no pod
    is claimed twice, and conflicts are resolved by the resourceVersion guard."""
    a = replicas(sim, POD_POOL_PY=4, K8S_ACQUIRE_WAIT_MS=20000)
    b = replicas(sim, POD_POOL_PY=4, K8S_ACQUIRE_WAIT_MS=20000)
    sim.wait(lambda: len([p for p in sim.pods("kcr.dev/pool=warm")
                          if p["status"].get("phase") == "Running"]) >= 4, 90, "4 warm pods")
    code = "import os; print(open('/proc/self/cgroup').read().count(':'))"
    a.send(op="par", n=5, lang="py", code=code)
    b.send(op="par", n=5, lang="py", code=code)
    ra, rb = a.recv()["results"], b.recv()["results"]
    assert all(x["ok"] and x["exit_code"] == 0 for x in ra + rb), ra + rb
    pods = [x["pod"] for x in ra + rb]
    assert len(set(pods)) == len(pods) == 10, pods
    claims = sim.stats()["claims"]
    claimed = [c["pod"] for c in claims]
    assert len(set(claimed)) == len(claimed), "a pod was claimed twice: %s" % claims
    owners = {c["owner"] for c in claims}
    ha, hb = a.health(), b.health()
    assert owners <= {ha["replica"], hb["replica"]}
    # Both replicas used the shared pool.
    assert ha["claims"] > 0 and hb["claims"] > 0, (ha, hb)


def test_simulated_killed_replica_leaves_no_pod(sim, replicas):
    """A replica killed mid-execution stops renewing its lease; another replica
    garbage-collects the pod, and the simulator destroys the real local pod."""
    env = dict(POD_POOL_PY=0, K8S_LEASE_SECONDS=4, K8S_GC_INTERVAL_SECONDS=1)
    a = replicas(sim, **env)
    b = replicas(sim, **env)
    a_id = a.health()["replica"]
    a.send(op="exec", lang="py", code="import time; time.sleep(120)", timeout=30)
    held = sim.wait(lambda: [p for p in sim.live("claimed", "py")
                             if p["labels"].get("kcr.dev/owner") == a_id
                             and p["phase"] == "Running"], 60, "a's pod running")
    name = held[0]["name"]
    ip = [p for p in sim.pods() if p["metadata"]["name"] == name][0]["status"]["podIP"]
    # The pod is really there: its sidecar answers on the pod IP.
    assert requests.get("http://%s:8080/ready" % ip, timeout=5).status_code == 200
    a.kill9()
    # b does not touch a live lease: for a while the pod survives a's death...
    time.sleep(1.5)
    assert name in [p["name"] for p in sim.live()]
    # ...then the lease expires and b collects it.
    sim.wait(lambda: name not in [p["name"] for p in sim.stats()["live"]], 30, "pod collected")
    assert b.health()["garbage_collected"] >= 1
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("http://%s:8080/ready" % ip, timeout=5)


def test_simulated_api_server_restart_during_watch(sim, replicas):
    """The API server goes away while the replica watches: the watch is resumed
    (410 -> relist), requests made during the outage are retried, and changes
    made after the restart are seen."""
    r = replicas(sim, POD_POOL_PY=1)
    sim.wait(lambda: sim.live("warm", "py") and all(
        p["phase"] == "Running" for p in sim.live("warm", "py")), 60, "warm pod")
    assert r.exec("print(1)")["stdout"] == "1\n"
    sim.restart(down_ms=1500)
    # Issued while the server is down: the client retries until it is back.
    out = r.exec("print(2)")
    assert out["ok"] and out["stdout"] == "2\n", out
    sim.wait(lambda: any("relisted" in line for line in r.stderr), 30, "relist after 410")
    # A change after the restart reaches the replica through the new watch:
    # delete the warm pods behind its back; it must notice and refill.
    sim.wait(lambda: [p for p in sim.live("warm", "py") if p["phase"] == "Running"], 60, "warm")
    # Counted before the deletes: the refill can come before a count taken
    # after them (one CI run lost that race). The new pod's name proves the
    # refill answers the deletes.
    before = r.health()["created"]
    deleted = set()
    for p in sim.live("warm", "py"):
        assert sim.delete(p["name"]).status_code == 200
        deleted.add(p["name"])
    sim.wait(lambda: r.health()["created"] > before and
             [p for p in sim.live("warm", "py") if p["name"] not in deleted], 30,
             "refill after external delete")
    assert r.health()["status"] == "healthy"
    assert r.exec("print(3)")["stdout"] == "3\n"


def test_simulated_throttling_and_auth(sim, replicas):
    """429 with Retry-After and 503 are retried (bounded); a wrong token fails
    the start with the API server's answer."""
    r = replicas(sim, POD_POOL_PY=0)
    sim.fail("POST", 429, 2)
    sim.fail("DELETE", 503, 1)
    out = r.exec("print('after 429')")
    assert out["ok"] and out["stdout"] == "after 429\n", out
    sim.wait(lambda: sim.live() == [], 30, "pod deleted despite a 503")
    bad = Sim.__new__(Sim)
    bad.url, bad.token = sim.url, "wrong-token"
    with pytest.raises(AssertionError, match="401"):
        Replica(bad)


# ---------------------------------------------------------------------------
# The simulator itself is strict: schema validation and resourceVersion.

def raw_pod(name="kcr-raw-1", **spec_extra):
    spec = {"containers": [{"name": "main", "image": "kcr-python:latest",
                            "env": [{"name": "LANGUAGE", "value": "bash"}]}]}
    spec.update(spec_extra)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name,
                                                            "labels": {"kcr.dev/pool": "x"}},
            "spec": spec}


def post_pod(sim, body):
    return requests.post(sim.url + "/api/v1/namespaces/default/pods", json=body,
                         headers=sim._h(), timeout=10)


def test_simulated_api_server_rejects_unknown_fields():
    """A manifest with a typo'd field is refused with 422 and a Status naming
    the field, as fieldValidation=Strict does; nothing is created."""
    s = Sim(token="strict-token-0123456789")
    try:
        r = post_pod(s, raw_pod(securityContext={"runAsUsr": 65532}))
        assert r.status_code == 422, r.text
        st = r.json()
        assert st["kind"] == "Status" and st["reason"] == "Invalid" and st["code"] == 422
        assert "spec.securityContext.runAsUsr" in st["message"], st
        assert [c["field"] for c in st["details"]["causes"]] == ["spec.securityContext.runAsUsr"]
        # Deeper, inside a list item, and in metadata too.
        bad = raw_pod()
        bad["spec"]["containers"][0]["securityContext"] = {"capabilities": {"dorp": ["ALL"]}}
        bad["metadata"]["lables"] = {"a": "b"}
        r = post_pod(s, bad)
        assert r.status_code == 422
        fields = sorted(c["field"] for c in r.json()["details"]["causes"])
        assert fields == ["metadata.lables",
                          "spec.containers[0].securityContext.capabilities.dorp"], fields
        assert s.stats()["creates"] == 0 and s.live() == []
    finally:
        s.stop()


def test_simulated_api_server_rejects_wrong_types_and_missing_fields():
    s = Sim()
    try:
        r = post_pod(s, raw_pod(securityContext={"runAsUser": "65532"}))
        assert r.status_code == 422, r.text
        causes = r.json()["details"]["causes"]
        assert [c["field"] for c in causes] == ["spec.securityContext.runAsUser"], causes
        assert "integer" in causes[0]["message"]
        body = raw_pod(restartPolicy="Sometimes")  # not in the enum
        del body["spec"]["containers"][0]["name"]
        r = post_pod(s, body)
        assert r.status_code == 422
        assert sorted(c["field"] for c in r.json()["details"]["causes"]) == [
            "spec.containers[0].name", "spec.restartPolicy"]
        # A label value must be a string.
        body = raw_pod()
        body["metadata"]["labels"]["n"] = 1
        assert post_pod(s, body).status_code == 422
        # The valid pod is accepted.
        assert post_pod(s, raw_pod()).status_code == 201
    finally:
        s.stop()


def test_simulated_api_server_resource_versions():
    """Every write bumps resourceVersion; a merge patch, PUT or DELETE
    preconditioned on a stale version is 409 with a Status; a failed JSON-patch
    test is 422; a patch whose result is not schema-valid is 422; a pod's spec
    cannot change."""
    s = Sim()
    try:
        url = s.url + "/api/v1/namespaces/default/pods/kcr-raw-1"
        assert post_pod(s, raw_pod()).status_code == 201
        # The simulator starts the pod in the background and bumps the version
        # when its status changes: the versions below are read once it has.
        def started():
            p = requests.get(url, headers=s._h(), timeout=10).json()
            return p if p.get("status", {}).get("phase") in ("Running", "Failed") else None

        settled = wait_for(started, 120, what="the simulated pod's start")
        rv0 = settled["metadata"]["resourceVersion"]

        def patch(body, ctype="application/merge-patch+json"):
            return requests.patch(url, data=json.dumps(body), timeout=10,
                                  headers={"Content-Type": ctype})

        r = patch({"metadata": {"resourceVersion": rv0, "labels": {"kcr.dev/pool": "claimed"}}})
        assert r.status_code == 200, r.text
        rv1 = r.json()["metadata"]["resourceVersion"]
        assert int(rv1) > int(rv0)
        # The loser of a race: same precondition, now stale.
        r = patch({"metadata": {"resourceVersion": rv0, "labels": {"kcr.dev/pool": "claimed"}}})
        assert r.status_code == 409 and r.json()["reason"] == "Conflict", r.text
        # An unguarded patch applies and bumps again.
        r = patch({"metadata": {"annotations": {"a": "1"}}})
        assert r.status_code == 200 and int(r.json()["metadata"]["resourceVersion"]) > int(rv1)
        rv2 = r.json()["metadata"]["resourceVersion"]
        # JSON patch: test op guards the claim.
        jp = "application/json-patch+json"
        r = patch([{"op": "test", "path": "/metadata/labels/kcr.dev~1pool", "value": "warm"},
                   {"op": "replace", "path": "/metadata/labels/kcr.dev~1pool", "value": "x"}], jp)
        assert r.status_code == 422, r.text
        r = patch([{"op": "test", "path": "/metadata/resourceVersion", "value": rv2},
                   {"op": "add", "path": "/metadata/labels/owner", "value": "me"}], jp)
        assert r.status_code == 200, r.text
        rv3 = r.json()["metadata"]["resourceVersion"]
        # Patches are validated after they are applied; the spec is immutable.
        r = patch({"metadata": {"labels": {"n": 1}}})
        assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == \
            "metadata.labels.n", r.text
        r = patch({"spec": {"restartPolicy": "Never"}})
        assert r.status_code == 422, r.text
        r = patch({"spec": {"hostNetwrk": True}})
        assert r.status_code == 422 and "spec.hostNetwrk" in r.text, r.text
        # PUT with a stale version: 409.
        cur = requests.get(url, timeout=10).json()
        # (the pod's own status changes, as it starts, are writes too)
        rv3 = cur["metadata"]["resourceVersion"]
        assert int(rv3) > int(rv2)
        stale = dict(cur, metadata=dict(cur["metadata"], resourceVersion=rv2))
        r = requests.put(url, json=stale, timeout=10)
        assert r.status_code == 409, r.text
        # DELETE with a stale precondition: 409, the pod stays; current: deleted.
        r = requests.delete(url, json={"apiVersion": "v1", "kind": "DeleteOptions",
                                       "preconditions": {"resourceVersion": rv2}}, timeout=10)
        assert r.status_code == 409, r.text
        for _ in range(5):  # the pod's status may move on between GET and DELETE
            rv = requests.get(url, timeout=10).json()["metadata"]["resourceVersion"]
            r = requests.delete(url, json={"preconditions": {"resourceVersion": rv}},
                                timeout=10)
            if r.status_code != 409:
                break
        assert r.status_code == 200, r.text
        assert s.validate(raw_pod())["ok"] is True
    finally:
        s.stop()
