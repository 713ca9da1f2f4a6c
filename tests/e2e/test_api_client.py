"""LibreChat's own Code API client against a live kcr serve: the npm package
@librechat/agents (3.0.50, which sends X-API-Key itself, and 3.9.2 with
authHeaders) runs print("hi") through createCodeExecutionTool; a replica of
LibreChat's server-side upload/summary/download calls (axios + form-data,
chunked upload) round-trips a file. Versions are pinned in
tests/client/package-lock.json; node_modules is installed with `npm ci`."""
import json
import os
import shutil
import subprocess

import pytest

from api_util import ROOT_DIR, needs_pods, server  # noqa: F401

CLIENT = os.path.join(ROOT_DIR, "tests", "client")


# The first test also installs the client (`npm ci`, up to 900 s, in client_dir).
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def client_dir():
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed for LibreChat's client")
    marker = os.path.join(CLIENT, "node_modules", ".package-lock.json")
    lock = os.path.join(CLIENT, "package-lock.json")
    if not os.path.exists(marker) or os.path.getmtime(marker) < os.path.getmtime(lock):
        # No install scripts: the client needs none, and @librechat/agents
        # 3.9.2 pulls in an install-analytics package (reova) that phones home.
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=CLIENT,
                           capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return CLIENT


def node(client_dir, script, env, timeout=120):
    """Runs a client script with only the credentials given in env (none of
    this process's proxies, keys or JWT settings); returns (exit code, its
    last JSON line)."""
    drop = ("PROXY", "NO_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "CODE_API_KEY",
            "LIBRECHAT_CODE_API_KEY", "CODE_USER_ID", "CODEAPI_TENANT_ID")
    full = {k: v for k, v in os.environ.items()
            if k not in drop and not k.startswith("CODEAPI_JWT_")}
    full.update(env)
    p = subprocess.run(["node", script], cwd=client_dir, env=full, capture_output=True,
                       text=True, timeout=timeout)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert lines, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    return p.returncode, json.loads(lines[-1])


@needs_pods
@pytest.mark.parametrize("pkg", ["agents-classic", "agents-current"])
def test_librechat_agents_runs_print_hi(server, client_dir, pkg):
    code, out = node(client_dir, "run-exec.mjs", {
        "AGENTS_PKG": pkg, "CODE_API_BASEURL": server.url + "/v1", "CODE_API_KEY": server.key})
    assert code == 0, out
    assert out["modern"] == (pkg == "agents-current")
    assert out["content"].startswith("stdout:\nhi"), out
    sid = out["artifact"]["session_id"]
    assert len(sid) == 21
    # The session the client got back is a real one.
    assert server.get(f"/files/{sid}?detail=summary").status_code == 200


@needs_pods
def test_librechat_agents_with_wrong_key_is_refused(server, client_dir):
    code, out = node(client_dir, "run-exec.mjs", {
        "AGENTS_PKG": "agents-current", "CODE_API_BASEURL": server.url + "/v1",
        "CODE_API_KEY": "not-the-right-key-000"})
    assert code == 1
    assert "not authorized" in out["error"]


def test_librechat_server_upload_replica(server, client_dir):
    code, out = node(client_dir, "upload-replica.cjs", {
        "CODE_API_BASEURL": server.url + "/v1", "CODE_API_KEY": server.key})
    assert code == 0, out
    assert out["chunked"] is True and out["content_length"] is False
    assert out["message"] == "success" and out["filename"] == "my_data.csv"
    assert out["downloaded"] is True
    assert 0 <= out["summary_age_ms"] < 60_000


def test_openapi_document_is_valid_openapi_3(server, client_dir):
    """/openapi.json validates against the OpenAPI 3.0 schema with every $ref
    resolved (@apidevtools/swagger-parser, pinned in tests/client)."""
    doc = server.get("/openapi.json").text
    p = subprocess.run(["node", "validate-openapi.cjs"], cwd=client_dir, input=doc,
                       capture_output=True, text=True, timeout=60)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert p.returncode == 0 and out["ok"], out
    assert out["operations"] >= 20, out
    # Every keyed operation documents 401 and 503, every one 500, JSON bodies 415.
    spec = json.loads(doc)
    for path, item in spec["paths"].items():
        for method, o in item.items():
            if method == "parameters":
                continue
            codes = set(o["responses"])
            assert "500" in codes, (method, path)
            if o.get("security") != []:
                assert {"401", "503"} <= codes, (method, path, codes)
            if "application/json" in o.get("requestBody", {}).get("content", {}):
                assert "415" in codes, (method, path, codes)
    assert spec["paths"]["/files/{session_id}"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"] == {"$ref": "#/components/schemas/FileList"}
