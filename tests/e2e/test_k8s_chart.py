"""The Helm chart (deploy/helm/kcr): `helm lint` and `helm template` pass, and
the rendered manifests carry the security fields (non-root API, pods-only Role
in the execution namespace, NetworkPolicy isolating execution pods) and a
configuration kcr actually reads. Helm comes from scripts/get-helm.sh (the
official binary inside an npm package, checksum-pinned; Debian has none)."""
import base64
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


def test_deployment_is_unprivileged_with_probes(helm):
    docs = render(helm, "replicaCount=3")
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
    # Optional stores are off by default, and on only with their settings.
    assert "REDIS_URL" not in sec["data"] and "S3_ENDPOINT" not in cm
    out = subprocess.run([helm, "template", "rel", CHART, "--set", "redis.enabled=true"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "redis.url is required" in out.stderr
    docs = render(helm, "redis.enabled=true", "redis.url=redis://r:6379/0",
                  "s3.enabled=true", "s3.endpoint=http://minio:9000")
    assert base64.b64decode(one(docs, "Secret")["data"]["REDIS_URL"]) == b"redis://r:6379/0"
    assert one(docs, "ConfigMap")["data"]["S3_ENDPOINT"] == "http://minio:9000"


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
