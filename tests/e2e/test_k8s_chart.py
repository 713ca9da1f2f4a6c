"""The Helm chart (deploy/helm/kcr): `helm lint` and `helm template` pass, and
the rendered manifests carry the security fields (non-root API, pods-only Role
in the execution namespace, NetworkPolicy isolating execution pods) and a
configuration kcr actually reads. Helm comes from scripts/get-helm.sh (the
official binary inside an npm package, checksum-pinned; Debian has none)."""
import base64
import json
import os
import re
import subprocess

import pytest

from conftest import BUILD, ROOT

yaml = pytest.importorskip("yaml", reason="needs python3-yaml (deps/k8s.txt)")

CHART = os.path.join(ROOT, "deploy", "helm", "kcr")


@pytest.fixture(scope="module")
def helm():
    try:
        out = subprocess.run([os.path.join(ROOT, "scripts", "get-helm.sh"),
                              os.path.join(BUILD, "tools")], capture_output=True, text=True,
                             timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip("fetching helm from the npm registry timed out")
    if out.returncode != 0:
        pytest.skip("no helm binary (npm registry unreachable?): " + out.stderr[-500:])
    return out.stdout.strip()


def render(helm, *sets, namespace="apps"):
    args = [helm, "template", "rel", CHART, "--namespace", namespace]
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def one(docs, kind):
    found = [d for (k, _), d in docs.items() if k == kind]
    assert len(found) == 1, (kind, list(docs))
    return found[0]


def test_lint_strict(helm):
    out = subprocess.run([helm, "lint", "--strict", CHART], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 chart(s) failed" in out.stdout


SHARED = ("redis.host=redis.stores", "redis.existingSecret=kcr-redis",
          "s3.endpoint=minio.stores:9000", "s3.existingSecret=kcr-s3")


def test_deployment_is_unprivileged_with_probes(helm):
    docs = render(helm, "replicaCount=3", *SHARED)
    d = one(docs, "Deployment")
    spec = d["spec"]["template"]["spec"]
    assert d["spec"]["replicas"] == 3
    psc = spec["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 65532
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    (c,) = spec["containers"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
    assert spec["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
    svc = one(docs, "Service")
    assert svc["spec"]["selector"] == d["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["ports"][0]["targetPort"] == "http"


def test_role_is_pods_only_in_execution_namespace(helm):
    docs = render(helm, "execution.namespace=kcr-exec")
    role = one(docs, "Role")
    assert role["metadata"]["namespace"] == "kcr-exec"
    assert len(role["rules"]) == 1
    rule = role["rules"][0]
    assert rule["apiGroups"] == [""] and rule["resources"] == ["pods"]
    assert set(rule["verbs"]) >= {"create", "get", "list", "watch", "patch", "delete"}
    assert not set(rule["verbs"]) & {"*", "escalate", "bind", "impersonate"}
    rb = one(docs, "RoleBinding")
    assert rb["metadata"]["namespace"] == "kcr-exec"
    assert rb["roleRef"]["name"] == role["metadata"]["name"]
    sa = one(docs, "ServiceAccount")
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                               "namespace": "apps"}]
    assert not [d for (k, _), d in docs.items() if k in ("ClusterRole", "ClusterRoleBinding")]


def test_network_policy_isolates_execution_pods(helm):
    docs = render(helm, "execution.namespace=kcr-exec")
    np = one(docs, "NetworkPolicy")
    assert np["metadata"]["namespace"] == "kcr-exec"
    # The labels the backend puts on every execution pod (src/pod/k8s-spec.h).
    spec_h = open(os.path.join(ROOT, "src", "pod", "k8s-spec.h")).read()
    assert '"app.kubernetes.io/managed-by=kcr,app.kubernetes.io/component=execution"' in spec_h
    assert np["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/managed-by": "kcr", "app.kubernetes.io/component": "execution"}
    assert sorted(np["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert np["spec"]["egress"] == []
    (rule,) = np["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}]
    (peer,) = rule["from"]
    api_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert peer["podSelector"]["matchLabels"].items() <= api_labels.items()
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "apps"}
    off = render(helm, "networkPolicy.enabled=false")
    assert not [k for k in off if k[0] == "NetworkPolicy"]


def test_config_and_secret_are_what_kcr_reads(helm):
    docs = render(helm, "execution.pool.sizes.go=3", "api.masterApiKey=master-key-0123456789")
    cm = one(docs, "ConfigMap")["data"]
    assert cm["KCR_POD_BACKEND"] == "kubernetes"
    assert cm["K8S_NAMESPACE"] == "apps"
    assert cm["POD_POOL_PY"] == "2" and cm["POD_POOL_GO"] == "3"
    # Every variable the chart sets is one kcr reads (no silently ignored typo).
    src = ""
    for d, _, files in os.walk(os.path.join(ROOT, "src")):
        for f in files:
            if f.endswith(".c"):
                src += open(os.path.join(d, f), errors="replace").read()
    for key in cm:
        if key.startswith("POD_POOL_"):
            assert '"POD_POOL_"' in src
            continue
        assert '"%s"' % key in src, "kcr does not read %s" % key
    sec = one(docs, "Secret")
    key = base64.b64decode(sec["data"]["API_KEY"]).decode()
    assert len(key) >= 16 and re.fullmatch(r"[A-Za-z0-9]+", key)
    assert base64.b64decode(sec["data"]["MASTER_API_KEY"]).decode() == "master-key-0123456789"
    # The shared stores are off by default (test_shared_stores_* below).
    env = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0].get("env") or []
    assert not [e for e in env if e["name"].startswith(("REDIS_", "MINIO_"))]
    assert not [k for k in list(cm) + list(sec["data"]) if k.startswith(("REDIS_", "MINIO_"))]


def test_dashboard_ingress_is_optional_and_dashboard_only(helm):
    """dashboard.ingress (docs/dashboard.md): off by default; on, it needs a
    host and routes only the dashboard's page and its admin API."""
    assert not [k for k in render(helm) if k[0] == "Ingress"]
    out = subprocess.run([helm, "template", "rel", CHART, "--set", "dashboard.ingress.enabled=true"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "dashboard.ingress.host is required" in out.stderr
    docs = render(helm, "dashboard.ingress.enabled=true", "dashboard.ingress.host=kcr.example.com",
                  "dashboard.ingress.className=nginx", "dashboard.ingress.tlsSecretName=kcr-tls")
    ing = one(docs, "Ingress")
    assert ing["metadata"]["namespace"] == "apps"
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"] == [{"hosts": ["kcr.example.com"], "secretName": "kcr-tls"}]
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == "kcr.example.com"
    svc = one(docs, "Service")
    assert {(p["path"], p["pathType"]) for p in rule["http"]["paths"]} == {
        ("/admin", "Prefix"), ("/api/v1/admin", "Prefix")}
    for p in rule["http"]["paths"]:
        assert p["backend"]["service"] == {"name": svc["metadata"]["name"],
                                           "port": {"name": "http"}}
    # The routes the Ingress names are the ones kcr serves the dashboard on.
    serve_c = open(os.path.join(ROOT, "src", "api", "serve.c")).read()
    assert '{"GET", "/admin",' in serve_c and 'ADMIN_PREFIX "/overview"' in serve_c


def test_values_are_documented():
    """Every leaf of values.yaml has a comment on it or on a parent block."""
    lines = open(os.path.join(CHART, "values.yaml")).read().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        m = re.match(r"^( *)([A-Za-z][A-Za-z0-9]*):", line)
        if not m or m.group(1) != "":
            continue
        # A top-level key: the line above it or a line of its own block
        # (up to the next top-level key) must be a comment.
        block = []
        for nxt in lines[i + 1:]:
            if re.match(r"^[A-Za-z#]", nxt):
                break
            block.append(nxt)
        above = i > 0 and lines[i - 1].startswith("#")
        if not above and not any(b.lstrip().startswith("#") for b in block):
            undocumented.append(m.group(2))
    assert not undocumented, undocumented


def test_replica_url_from_the_pod_ip(helm):
    """With the shared metadata store, each replica tells the others where it
    is (docs/ptc.md): its pod IP from the downward API as KCR_REPLICA_IP,
    which kcr makes http://<ip>:<API_PORT> (brackets for IPv6: a manifest's
    "http://$(POD_IP):port" cannot add them). With the embedded store there
    is nobody to tell."""
    (c,) = one(render(helm), "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "KCR_REPLICA_IP" not in [e["name"] for e in c.get("env") or []]
    for sets, port in ((("redis.url=redis://r:6379/0",), "8000"),
                       (("redis.host=redis.stores", "api.port=9000"), "9000")):
        docs = render(helm, *sets)
        (c,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
        by = {e["name"]: e for e in c["env"]}
        assert "KCR_REPLICA_URL" not in by
        assert by["KCR_REPLICA_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
        assert one(docs, "ConfigMap")["data"]["API_PORT"] == port
    # With a policy on who reaches the API, the replicas still reach each other.
    docs = render(helm, "networkPolicy.apiIngressFrom[0].ipBlock.cidr=10.9.0.0/16")
    api = docs[("NetworkPolicy", "rel-kcr-api")]
    peers = api["spec"]["ingress"][0]["from"]
    assert {"ipBlock": {"cidr": "10.9.0.0/16"}} in peers
    selector = one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert {"podSelector": {"matchLabels": selector}} in peers


def test_librechat_jwt_settings(helm):
    """auth.*: the public key comes from a Secret (env or a mounted key
    directory), the other settings from the ConfigMap, all names kcr reads."""
    docs = render(helm, "auth.provider=librechat-jwt", "auth.jwt.publicKeySecret=lc-jwt",
                  "auth.trustedNetworks={10.0.0.0/8,fd00::/8}", "rateLimits.execPerMinute=42")
    cm = one(docs, "ConfigMap")["data"]
    assert cm["CODEAPI_AUTH_PROVIDER"] == "librechat-jwt"
    assert cm["CODEAPI_JWT_ISSUER"] == "librechat" and cm["CODEAPI_JWT_AUDIENCE"] == "codeapi"
    assert cm["AUTH_TRUSTED_NETWORKS"] == "10.0.0.0/8,fd00::/8"
    assert cm["RATE_LIMIT_EXEC_PER_MINUTE"] == "42"
    (c,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["CODEAPI_JWT_PUBLIC_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "lc-jwt", "key": "public.pem"}
    docs = render(helm, "auth.jwt.keysDirSecret=lc-keys")
    assert one(docs, "ConfigMap")["data"]["CODEAPI_JWT_PUBLIC_KEYS_DIR"] == "/etc/kcr/jwt-keys"
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    vol = {v["name"]: v for v in spec["volumes"]}["jwt-keys"]
    assert vol["secret"]["secretName"] == "lc-keys"
    (c,) = spec["containers"]
    mount = {m["name"]: m for m in c["volumeMounts"]}["jwt-keys"]
    assert mount["mountPath"] == "/etc/kcr/jwt-keys" and mount["readOnly"] is True
    # Without JWT settings nothing of them is rendered.
    cm = one(render(helm), "ConfigMap")["data"]
    assert not [k for k in cm if k.startswith("CODEAPI_")]


def fail_render(helm, *sets):
    out = subprocess.run([helm, "template", "rel", CHART] + sum([["--set", x] for x in sets], []),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, out.stdout[:500]
    return out.stderr


def container_env(docs):
    (c,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env") or []}


def test_replicas_need_the_shared_stores(helm):
    """replicaCount > 1 renders only with redis and s3 set: replicas on the
    embedded store would not share sessions or files."""
    for partial in ([], ["redis.url=redis://r:6379/0"], list(SHARED[2:])):
        err = fail_render(helm, "replicaCount=2", *partial)
        assert "replicaCount=2 needs the shared stores" in err and "redis" in err, err
    docs = render(helm, "replicaCount=2", *SHARED)
    assert one(docs, "Deployment")["spec"]["replicas"] == 2
    # No per-replica ReadWriteOnce volume, no Recreate strategy with the shared stores.
    assert not [k for k in docs if k[0] == "PersistentVolumeClaim"]
    d = one(docs, "Deployment")
    assert "strategy" not in d["spec"]
    vol = [v for v in d["spec"]["template"]["spec"]["volumes"] if v["name"] == "data"][0]
    assert "emptyDir" in vol
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0][
        "readinessProbe"]["httpGet"]["path"] == "/ready"
    # One replica on the embedded store keeps its data volume.
    docs = render(helm)
    assert one(docs, "PersistentVolumeClaim")
    assert one(docs, "Deployment")["spec"]["strategy"]["type"] == "Recreate"


def test_pod_disruption_budget_iff_replicas(helm):
    assert not [k for k in render(helm) if k[0] == "PodDisruptionBudget"]
    docs = render(helm, "replicaCount=3", *SHARED)
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1 and "maxUnavailable" not in pdb["spec"]
    assert pdb["spec"]["selector"]["matchLabels"] == \
        one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    pdb = one(render(helm, "replicaCount=3", "podDisruptionBudget.maxUnavailable=1", *SHARED),
              "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": pdb["spec"]["selector"]}
    assert not [k for k in render(helm, "replicaCount=3", "podDisruptionBudget.enabled=false",
                                  *SHARED) if k[0] == "PodDisruptionBudget"]


def test_shared_stores_env_with_secrets_referenced(helm):
    """redis and s3 values become kcr's variables (KubeCodeRun's names);
    passwords and keys come from the named Secrets, never from values."""
    docs = render(helm, "replicaCount=2", "redis.host=redis.stores", "redis.port=6380",
                  "redis.db=3", "redis.keyPrefix=kcr:", "redis.existingSecret=kcr-redis",
                  "redis.passwordKey=pw", "redis.tls.enabled=true", "redis.tls.caSecret=redis-ca",
                  "redis.tls.clientCertSecret=redis-client", "redis.socketTimeout=2",
                  "redis.maxConnections=40", "s3.endpoint=minio.stores:9000", "s3.bucket=files",
                  "s3.region=eu-west-1", "s3.secure=false", "s3.existingSecret=kcr-s3",
                  "s3.caSecret=s3-ca")
    env = container_env(docs)
    assert env["REDIS_HOST"] == "redis.stores" and env["REDIS_PORT"] == "6380"
    assert env["REDIS_DB"] == "3" and env["REDIS_KEY_PREFIX"] == "kcr:"
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "kcr-redis", "key": "pw"}}
    assert env["REDIS_SSL"] == "true" and env["REDIS_SSL_CERT_REQS"] == "required"
    assert env["REDIS_SSL_CA_CERTS"] == "/etc/kcr/redis-ca/ca.crt"
    assert env["REDIS_SSL_CERTFILE"] == "/etc/kcr/redis-client/tls.crt"
    assert env["REDIS_SSL_KEYFILE"] == "/etc/kcr/redis-client/tls.key"
    assert env["REDIS_SOCKET_TIMEOUT"] == "2" and env["REDIS_MAX_CONNECTIONS"] == "40"
    assert "REDIS_URL" not in env
    assert env["MINIO_ENDPOINT"] == "minio.stores:9000" and env["MINIO_BUCKET"] == "files"
    assert env["MINIO_REGION"] == "eu-west-1" and env["MINIO_SECURE"] == "false"
    assert env["MINIO_ACCESS_KEY"] == {"secretKeyRef": {"name": "kcr-s3", "key": "access-key"}}
    assert env["MINIO_SECRET_KEY"] == {"secretKeyRef": {"name": "kcr-s3", "key": "secret-key"}}
    assert env["MINIO_CA_CERTS"] == "/etc/kcr/s3-ca/ca.crt"
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    for name, secret, path in (("redis-ca", "redis-ca", "/etc/kcr/redis-ca"),
                               ("redis-client", "redis-client", "/etc/kcr/redis-client"),
                               ("s3-ca", "s3-ca", "/etc/kcr/s3-ca")):
        assert vols[name]["secret"]["secretName"] == secret
        assert mounts[name]["mountPath"] == path and mounts[name]["readOnly"] is True
    # Nothing secret is inlined: the chart's own Secret holds only the API keys.
    assert set(one(docs, "Secret")["data"]) <= {"API_KEY", "MASTER_API_KEY"}
    # A URL instead of host/port, itself from the Secret (it may hold a password).
    env = container_env(render(helm, "redis.existingSecret=kcr-redis", "redis.urlKey=url"))
    assert env["REDIS_URL"] == {"secretKeyRef": {"name": "kcr-redis", "key": "url"}}
    assert "REDIS_PASSWORD" not in env and "REDIS_HOST" not in env
    env = container_env(render(helm, "redis.url=redis://redis.stores:6379/1"))
    assert env["REDIS_URL"] == "redis://redis.stores:6379/1" and "REDIS_PASSWORD" not in env
    # Refusals that name the value to fix.
    assert "s3.existingSecret" in fail_render(helm, "s3.endpoint=minio:9000")
    assert "without a scheme" in fail_render(helm, "s3.endpoint=http://minio:9000",
                                             "s3.existingSecret=x")
    assert "redis.existingSecret" in fail_render(helm, "redis.urlKey=url")


def test_rendered_manifests_pass_strict_schema_validation(helm):
    """Every manifest `helm template` renders, in the default and the
    scaled-out configurations, passes the strict Kubernetes schema validator
    of the API server simulation (tests/k8s-schema: types, required fields,
    no unknown fields)."""
    from k8s_util import SCHEMA_DIR, ensure_schema
    ensure_schema()
    configs = [[], list(SHARED) + ["replicaCount=3", "redis.tls.enabled=true",
                                    "redis.tls.caSecret=ca", "s3.caSecret=ca",
                                    "dashboard.ingress.enabled=true",
                                    "dashboard.ingress.host=kcr.example.com",
                                    "auth.jwt.keysDirSecret=jwt",
                                    "networkPolicy.apiIngressFrom[0].podSelector.matchLabels.a=b",
                                    "execution.namespace=kcr-exec"]]
    objs = []
    for sets in configs:
        objs += list(render(helm, *sets).values())
    lines = "".join(json.dumps({"id": i, "object": o}) + "\n" for i, o in enumerate(objs))
    p = subprocess.run(["node", os.path.join(SCHEMA_DIR, "validate.mjs")], input=lines,
                       capture_output=True, text=True, timeout=120, cwd=SCHEMA_DIR)
    assert p.returncode == 0, p.stderr
    results = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(results) == len(objs)
    bad = [(objs[r["id"]]["kind"], objs[r["id"]]["metadata"]["name"], r["errors"])
           for r in results if not r["ok"]]
    assert not bad, bad
    kinds = {o["kind"] for o in objs}
    assert {"Deployment", "PodDisruptionBudget", "NetworkPolicy", "Role", "Ingress"} <= kinds
    # The validator is strict: the same Deployment with a typo fails.
    dep = [o for o in objs if o["kind"] == "Deployment"][0]
    dep["spec"]["template"]["spec"]["securityContext"]["runAsUsr"] = 1
    p = subprocess.run(["node", os.path.join(SCHEMA_DIR, "validate.mjs")],
                       input=json.dumps({"id": 0, "object": dep}) + "\n", capture_output=True,
                       text=True, timeout=60, cwd=SCHEMA_DIR)
    r = json.loads(p.stdout)
    assert not r["ok"] and r["errors"][0]["field"] == "spec.template.spec.securityContext.runAsUsr"
