"""kcr serve: health, OpenAPI, auth, content types, error shapes, headers,
prefixes, configuration failures (api-contract rules 10-12)."""
import json
import os
import re
import stat

import requests

from api_util import ROOT_DIR, TEST_KEY, run_server_once, server, start_server  # noqa: F401
from conftest import wait_for

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def assert_app_error(r, status, error_type):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"error", "error_type", "details", "request_id", "timestamp"}, body
    assert body["error_type"] == error_type
    assert re.fullmatch(r"[A-Za-z0-9_-]{21}", body["request_id"])
    assert isinstance(body["timestamp"], float)
    return body


def test_health_and_ready_need_no_key(server):
    r = requests.get(server.url + "/health", timeout=10)
    assert r.status_code == 200
    assert r.json()["status"] == "healthy"
    r = requests.get(server.url + "/ready", timeout=10)
    assert r.status_code in (200, 503)
    assert r.json()["status"] in ("ready", "not_ready")


def test_every_path_works_with_and_without_v1(server):
    for path in ("/health", "/v1/health", "/v1/openapi.json", "/openapi.json"):
        assert requests.get(server.url + path, timeout=10).status_code == 200, path
    r = server.get("/v1/files/nosuchsession0123456789")
    assert r.status_code == 200 and r.json() == []


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def served_routes():
    """(METHOD, path) of every route in src/api/serve.c's route table, path
    parameters written {} (ADMIN_PREFIX expanded from src/api/admin.h)."""
    src = open(os.path.join(ROOT_DIR, "src", "api", "serve.c")).read()
    table = re.search(r"kcr_http_route routes\[\] = \{(.*?)\n\};", src, re.S)
    assert table, "no route table in src/api/serve.c"
    admin = open(os.path.join(ROOT_DIR, "src", "api", "admin.h")).read()
    prefix = re.search(r'#define ADMIN_PREFIX "([^"]*)"', admin).group(1)
    routes = {(method, (prefix if admin_prefixed else "") + path)
              for method, admin_prefixed, path in
              re.findall(r'\{"([A-Z]+)",\s*(ADMIN_PREFIX\s*)?"([^"]*)"', table.group(1))}
    assert len(routes) > 10, routes
    return routes


def openapi_doc(server):
    r = requests.get(server.url + "/openapi.json", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    return r.json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def test_openapi_documents_every_route(server):
    """Every route kcr serves is in the document, and the document has no
    operation kcr does not serve."""
    doc = openapi_doc(server)
    documented = {(m.upper(), re.sub(r"\{[^}/]+\}", "{}", p)) for p, m, _ in operations(doc)}
    served = served_routes()
    assert served - documented == set(), "routes missing from src/api/openapi.json"
    assert documented - served == set(), "documented routes kcr does not serve"
    langs = doc["components"]["schemas"]["ExecRequest"]["properties"]["lang"]["enum"]
    assert {"py", "js", "ts", "go", "java", "c", "cpp", "php", "rs", "r", "f90", "d",
            "bash"} <= set(langs)


# Operations whose path parameters the document does not declare, as served
# before the document moved to src/api/openapi.json (kept identical then):
# OpenAPI 3 wants them declared; fixing it is a change of the served document.
UNDECLARED_PATH_PARAMS = {"OPTIONS /download/{session_id}/{file_id}"}


def test_openapi_is_a_valid_openapi3_document(server):
    """Structural checks of OpenAPI 3.0 (Debian packages no validator): the
    required fields, path templates and their parameters, responses, unique
    operationIds, security schemes, and that every $ref resolves."""
    doc = openapi_doc(server)
    assert re.fullmatch(r"3\.0\.\d+", doc["openapi"]), doc["openapi"]
    assert set(doc) <= {"openapi", "info", "servers", "paths", "components", "security",
                        "tags", "externalDocs"}, set(doc)
    assert doc["info"]["title"] and doc["info"]["version"]
    assert all(s["url"] for s in doc["servers"])

    def resolve(ref):
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and part in node, "unresolved $ref " + ref
            node = node[part]
        return node

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                assert isinstance(node["$ref"], str)
                resolve(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(doc)

    schemes = doc["components"]["securitySchemes"]
    for requirement in doc["security"]:
        assert set(requirement) <= set(schemes), requirement
    ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/"), path
        assert set(item) <= HTTP_METHODS | {"parameters", "summary", "description", "servers"}, \
            (path, set(item))
        templated = set(re.findall(r"\{([^}/]+)\}", path))
        for method, op in ((m, o) for m, o in item.items() if m in HTTP_METHODS):
            where = f"{method.upper()} {path}"
            ids.append(op["operationId"])
            assert op.get("summary"), where
            params = [resolve(p["$ref"]) if "$ref" in p else p
                      for p in item.get("parameters", []) + op.get("parameters", [])]
            for prm in params:
                assert prm["in"] in ("path", "query", "header", "cookie"), (where, prm)
                assert prm["name"] and ("schema" in prm or "content" in prm), (where, prm)
            in_path = {p["name"] for p in params if p["in"] == "path"}
            if where not in UNDECLARED_PATH_PARAMS:
                assert in_path == templated, (where, in_path)
            assert all(p["required"] is True for p in params if p["in"] == "path"), where
            responses = op["responses"]
            assert responses, where
            for status, resp in responses.items():
                assert re.fullmatch(r"[1-5](\d\d|XX)|default", status), (where, status)
                resp = resolve(resp["$ref"]) if "$ref" in resp else resp
                assert isinstance(resp.get("description"), str), (where, status)
            if "requestBody" in op:
                assert op["requestBody"]["content"], where
            for requirement in op.get("security", []):
                assert set(requirement) <= set(schemes), (where, requirement)
    assert len(ids) == len(set(ids)), "operationIds are not unique"


def test_openapi_common_responses(server):
    """The responses every operation can give, each where it applies: 500
    everywhere; 401 and 503 where credentials are needed; 429 on the
    rate-limited routes; 403 where kind=user can name another user; 415
    where a JSON body is taken."""
    doc = openapi_doc(server)
    limited = {"exec", "upload", "uploadBatch", "download"}
    for path, method, op in operations(doc):
        where, got = f"{method.upper()} {path}", set(op["responses"])
        want = {"500"}
        if op.get("security") != []:
            want |= {"401", "503"}
        if op["operationId"] in limited:
            want.add("429")
        if (any(p.get("name") == "kind" for p in op.get("parameters", []))
                or op["operationId"].startswith("upload")):
            want.add("403")
        if "application/json" in op.get("requestBody", {}).get("content", {}):
            want.add("415")
        assert want <= got, (where, want - got)


def test_openapi_json_is_the_file_served(server):
    """GET /openapi.json is src/api/openapi.json with what only the running
    server knows filled in: its version and its languages."""
    doc = openapi_doc(server)
    with open(os.path.join(ROOT_DIR, "src", "api", "openapi.json")) as f:
        want = json.load(f)
    assert want["info"]["version"] == "@KCR_VERSION@"
    assert doc["info"]["version"] == server.get("/health").json()["version"]
    want["info"]["version"] = doc["info"]["version"]
    lang = want["components"]["schemas"]["ExecRequest"]["properties"]["lang"]
    assert lang["enum"] == ["@KCR_LANGUAGES@"]
    langs = doc["components"]["schemas"]["ExecRequest"]["properties"]["lang"]["enum"]
    assert len(langs) == len(set(langs)) and "@KCR_LANGUAGES@" not in langs
    lang["enum"] = langs
    assert doc == want


def test_security_headers_on_every_response(server):
    responses = [
        requests.get(server.url + "/health", timeout=10),
        requests.get(server.url + "/files/x", timeout=10),  # 401
        requests.post(server.url + "/exec", data="x", headers={"Content-Type": "image/png"},
                      timeout=10),  # 415
        server.get("/nowhere"),  # 404
    ]
    for r in responses:
        for k, v in SECURITY_HEADERS.items():
            assert r.headers.get(k) == v, (r.status_code, k, r.headers)


def test_missing_and_invalid_key_give_401(server):
    r = requests.get(server.url + "/files/abc", timeout=10)
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "API key is required" and isinstance(body["timestamp"], float)
    r = requests.get(server.url + "/files/abc", headers={"x-api-key": "wrong-key-wrong-key"},
                     timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "Invalid API key"
    r = requests.get(server.url + "/metrics", timeout=10)
    assert r.status_code == 401
    r = requests.get(server.url + "/health/detailed", timeout=10)
    assert r.status_code == 401


def test_key_header_forms(server):
    forms = [
        {"X-API-KEY": TEST_KEY},
        {"x-api-key": TEST_KEY},
        {"X-Api-Key": TEST_KEY},
        {"Authorization": "Bearer " + TEST_KEY},
        {"Authorization": "ApiKey " + TEST_KEY},
    ]
    for h in forms:
        r = requests.get(server.url + "/files/abc", headers=h, timeout=10)
        assert r.status_code == 200, h
    r = requests.get(server.url + "/files/abc", headers={"Authorization": "Basic " + TEST_KEY},
                     timeout=10)
    assert r.status_code == 401


def test_415_comes_before_auth(server):
    r = requests.post(server.url + "/exec", data="<x/>",
                      headers={"Content-Type": "application/xml"}, timeout=10)
    assert r.status_code == 415
    assert r.json()["error"] == "Unsupported content type: application/xml"
    # JSON, form and text types pass the check (and then need a key).
    for ct in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        r = requests.post(server.url + "/exec", data="{}", headers={"Content-Type": ct},
                          timeout=10)
        assert r.status_code == 401, ct
    # /state/ takes any body type.
    r = requests.post(server.url + "/state/abc", data=b"\x01x",
                      headers={"Content-Type": "application/octet-stream"}, timeout=10)
    assert r.status_code == 401


def test_unknown_path_404_and_wrong_method_405_are_json(server):
    r = server.get("/no/such/path")
    assert_app_error(r, 404, "resource_not_found")
    r = server.get("/exec")
    assert r.status_code == 405
    assert r.json()["error"]
    assert "POST" in r.headers.get("Allow", "")
    r = server.delete("/files/abc")
    assert r.status_code == 405


def test_metrics_are_prometheus_text(server):
    r = server.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    assert "# TYPE kcr_executions_total counter" in text
    assert 'kcr_executions_total{language="py",outcome="completed"}' in text
    assert "# TYPE kcr_execution_duration_seconds histogram" in text
    assert 'kcr_execution_duration_seconds_bucket{language="py",le="+Inf"}' in text
    assert "# TYPE kcr_pool_pods gauge" in text
    assert re.search(r'kcr_http_responses_total\{status="200"\} [1-9]', text)


def test_health_detailed_lists_dependencies(server):
    r = server.get("/health/detailed")
    assert r.status_code in (200, 503)
    body = r.json()
    assert set(body["services"]) == {"metadata", "files", "pods"}
    assert body["services"]["metadata"]["status"] == "healthy"
    assert body["summary"]["total_services"] == 3


def test_short_api_key_stops_the_start_naming_the_variable():
    code, out, err = run_server_once({"API_KEY": "short"})
    assert code != 0
    assert "API_KEY" in err and "16" in err
    assert len(err.strip().splitlines()) == 1, err
    code, out, err = run_server_once({"API_KEYS": "good-key-0123456789,bad"})
    assert code != 0 and "API_KEYS" in err


def test_bad_configuration_names_the_variable():
    for var, val in (("MAX_EXECUTION_TIME", "abc"), ("API_PORT", "70000"),
                     ("KCR_POD_BACKEND", "docker"), ("MAX_FILE_SIZE_MB", "-1")):
        code, out, err = run_server_once({var: val})
        assert code != 0, var
        assert var in err, (var, err)
    code, out, err = run_server_once({"KCR_POD_BACKEND": "kubernetes"})
    assert code != 0 and "KCR_POD_BACKEND" in err
    for host in ("no-such-host", "10.0.0.300"):
        code, out, err = run_server_once({"API_HOST": host})
        assert code == 2 and "API_HOST" in err and host in err, (host, err)
    # Checked even when the pod backend cannot start.
    code, out, err = run_server_once({"POD_POOL_PY": "lots", "KCR_SIDECAR_BIN": "/nonexistent"})
    assert code == 2 and "POD_POOL_PY" in err, err


def test_ipv6_listen_address_is_dual_stack():
    import socket
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError as e:
        import pytest
        pytest.skip(f"no IPv6 loopback here: {e}")
    s = start_server({"API_HOST": "::"})
    try:
        for url in (f"http://[::1]:{s.port}/health", f"http://127.0.0.1:{s.port}/health"):
            assert requests.get(url, timeout=10).status_code == 200, url
        assert f"listening on http://[::1]:{s.port}" in "".join(s.stdout_lines)
    finally:
        s.cleanup()


def test_generated_key_is_printed_stored_and_reused():
    s = start_server(api_key=None)
    try:
        line = "".join(s.stdout_lines)
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+) \(API key in (\S+): (\S+)\)", line)
        assert m, line
        url, path, key = m.groups()
        assert url == s.url
        assert path == os.path.join(s.data_dir, "api-key")
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o600
        with open(path) as f:
            assert f.read().strip() == key
        assert len(key) >= 16
        assert requests.get(url + "/files/x", headers={"x-api-key": key},
                            timeout=10).status_code == 200
        assert s.stop() == 0
        s.start()
        # Printed once: a restart names the file, not the key.
        again = "".join(s.stdout_lines)
        assert key not in again and "(API key in %s)" % path in again, again
        assert requests.get(s.url + "/files/x", headers={"x-api-key": key},
                            timeout=10).status_code == 200
    finally:
        s.cleanup()


def test_cors_option():
    s = start_server({"ENABLE_CORS": "true",
                      "CORS_ORIGINS": "http://app.example, https://app.example.com"})
    try:
        r = requests.options(s.url + "/exec", headers={
            "Origin": "http://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key,content-type"}, timeout=10)
        assert r.status_code == 204
        assert r.headers["Access-Control-Allow-Origin"] == "http://app.example"
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        r = s.get("/files/x", headers={"x-api-key": TEST_KEY, "Origin": "http://evil.example"})
        assert "Access-Control-Allow-Origin" not in r.headers
        # Exact origins only: credentials are allowed, so no prefix or part of one.
        for origin in ("https://app.example.co", "http://app.exampl", "app.example",
                       "https://app.example.com.evil", "http://app.example, https://x"):
            r = s.get("/files/x", headers={"x-api-key": TEST_KEY, "Origin": origin})
            assert "Access-Control-Allow-Origin" not in r.headers, origin
        r = s.get("/files/x", headers={"x-api-key": TEST_KEY, "Origin": "https://app.example.com"})
        assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    finally:
        s.cleanup()
    # Off by default.
    s = start_server()
    try:
        r = s.get("/files/x", headers={"x-api-key": TEST_KEY, "Origin": "http://app.example"})
        assert "Access-Control-Allow-Origin" not in r.headers
    finally:
        s.cleanup()


def test_sigterm_exits_zero():
    s = start_server()
    try:
        assert s.stop() == 0
    finally:
        s.cleanup()


def _status_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def test_only_the_api_reaches_the_pods():
    """Pod ids are visible to every host user (cgroup names), so the sidecar
    socket's directory decides: 65532 binds, the API's group connects, any
    other host user gets EACCES. The pod manager, the API's child, keeps root."""
    import glob
    import shutil
    import socket
    import subprocess
    import sys
    import tempfile
    import pytest
    if os.geteuid() != 0:
        pytest.skip("needs root (the API drops to KCR_SERVE_UID only when started as root)")
    run_dir = tempfile.mkdtemp(prefix="kcr-api-run-")
    os.chmod(run_dir, 0o755)
    s = start_server({"KCR_RUN_DIR": run_dir})
    try:
        # The warm pool's pod, before any execution uses (and destroys) it.
        def warm_pod_socket():
            for path in glob.glob(os.path.join(run_dir, "pods/*/sock/sidecar.sock")):
                with socket.socket(socket.AF_UNIX) as c:
                    try:
                        c.connect(path)
                        return path
                    except OSError:
                        pass
            return None
        sock = wait_for(warm_pod_socket, 20, what="a warm pod's sidecar socket")
        st = os.stat(os.path.dirname(sock))
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65532, 65530, 0o710)
        probe = ("import socket, sys\n"
                 "c = socket.socket(socket.AF_UNIX)\n"
                 "try:\n    c.connect(sys.argv[1]); print('connected')\n"
                 "except OSError as e:\n    print(type(e).__name__)\n")
        for uid, want in ((1000, "PermissionError"), (65530, "connected")):
            out = subprocess.run([sys.executable, "-c", probe, sock], user=uid, group=uid,
                                 extra_groups=[], capture_output=True, text=True)
            assert out.stdout.strip() == want, (uid, out)
        r = s.exec("print(6*7)")
        assert r.status_code == 200 and r.json()["stdout"] == "42\n", r.text
        children = []
        for p in filter(str.isdigit, os.listdir("/proc")):
            try:
                st = _status_of(p)
            except OSError:
                continue  # gone meanwhile
            if st.get("PPid") == str(s.proc.pid):
                children.append(st["Uid"].split()[0])
        assert "0" in children, ("no root child of the API (the pod manager)", children)
    finally:
        s.stop()
        s.cleanup()
        shutil.rmtree(run_dir, ignore_errors=True)


def test_http_side_runs_unprivileged(server):
    """As root, the serving process drops to KCR_SERVE_UID with no capability
    in any set, no_new_privs and no core dumps; the pod manager keeps root."""
    if os.geteuid() != 0:
        import pytest
        pytest.skip("needs root (the drop happens only when started as root)")
    with open(f"/proc/{server.proc.pid}/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    assert status["Uid"].split() == ["65530"] * 4
    assert status["Gid"].split() == ["65530"] * 4
    assert status["Groups"].strip() == ""
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, (cap, status[cap])
    assert status["NoNewPrivs"].strip() == "1"
    # The data dir belongs to the serving uid.
    assert os.stat(server.data_dir).st_uid == 65530


def test_rootless_serve_reports_degraded_isolation():
    """kcr serve started without root runs rootless pods (user namespaces, no
    cgroups, rlimits only): code still runs, and /health/detailed says the
    isolation is degraded."""
    import shutil
    import tempfile
    import pytest
    if os.geteuid() != 0:
        pytest.skip("needs root to start the server as another user")
    uid = 65534
    base = tempfile.mkdtemp(prefix="kcr-rootless-")
    os.chmod(base, 0o755)
    os.chown(base, uid, uid)
    s = start_server({"KCR_RUN_DIR": os.path.join(base, "run"),
                      "KCR_DATA_DIR": os.path.join(base, "data")}, user=uid)
    try:
        r = s.exec("import os; print(os.getuid())")
        assert r.status_code == 200 and r.json()["stdout"] == "65532\n", r.text
        h = s.get("/health/detailed").json()
        pods = h["services"]["pods"]
        assert pods["status"] == "degraded", pods
        assert pods["details"]["isolation"] == "rootless", pods
        assert pods["details"]["cgroups"] == "disabled", pods
        assert h["status"] == "degraded", h
    finally:
        s.stop()
        s.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def test_access_log_of_a_path_that_is_not_utf8(server):
    """GET /x/%FF decodes to a byte that is not UTF-8: the request still has
    its full access-log line (method, path re-encoded, status)."""
    import json
    r = server.get("/nothere/%FF%C3%A9", headers=server.headers())
    assert r.status_code == 404
    rid = r.headers["X-Request-ID"]
    found = wait_for(lambda: [l for l in list(server.stderr_lines) if rid in l], 10,
                     what="the log line of " + rid)
    line = json.loads(found[0])
    assert line["method"] == "GET" and line["status"] == 404
    assert line["path"] == "/nothere/%FF%C3%A9"


def test_ready_names_the_dependency_not_its_error():
    """/ready is public: when the store fails it says so, without the cause
    (paths, database messages), which goes to the log."""
    import json
    s = start_server()
    blobs = os.path.join(s.data_dir, "blobs")
    try:
        assert s.http.get(s.url + "/ready", timeout=10).status_code == 200
        os.chmod(blobs, 0o500)  # the serving uid may no longer write there
        r = s.http.get(s.url + "/ready", timeout=10)
        assert r.status_code == 503
        assert r.json() == {"status": "not_ready", "reason": "store unavailable",
                            "stores": {"metadata": {"store": "sqlite", "status": "healthy"},
                                       "files": {"store": "fs", "status": "unhealthy"}}}
        assert s.data_dir not in r.text and "writable" not in r.text
        rid = r.headers["X-Request-ID"]
        logged = wait_for(lambda: [json.loads(l) for l in list(s.stderr_lines)
                                   if l.startswith("{") and rid in l], 10,
                          what="the log line of " + rid)
        assert "not writable" in logged[0]["error"], logged
    finally:
        os.chmod(blobs, 0o700)
        s.cleanup()


def test_connections_per_address_are_capped():
    """Issue 13, item 1: one address cannot hold every connection slot (a
    slowloris sending nothing); MAX_CONNECTIONS_PER_IP of them, then the next
    is closed at once. Others get in as soon as those close."""
    import socket
    s = start_server({"MAX_CONNECTIONS_PER_IP": "4"})
    held = []
    try:
        for _ in range(4):
            held.append(socket.create_connection(("127.0.0.1", s.port), timeout=5))
            held[-1].sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished

        def fifth_is_closed():
            """A fifth connection is closed unanswered: once the server has
            accepted the four held ones (it does so in its own time)."""
            extra = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            try:
                extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                return extra.recv(4096) == b""
            except (ConnectionResetError, BrokenPipeError):
                return True
            finally:
                extra.close()
        wait_for(fifth_is_closed, 10, interval=0.1,
                 what="a fifth connection from one address to be refused")
        for c in held:
            c.close()
        held = []

        def health_answers():
            try:
                return requests.get(s.url + "/health", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False
        wait_for(health_answers, 10, interval=0.1, what="a connection after the held ones closed")
    finally:
        for c in held:
            c.close()
        s.stop()
