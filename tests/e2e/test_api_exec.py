"""kcr serve: POST /exec end to end through local pods (api-contract rules 1-6)."""
import hashlib
import re

import pytest

from api_util import (exec_heavy, leftovers_after_exit, needs_pods, pool_settled, server,  # noqa: F401
                      start_server, stop_and_remove)
from conftest import wait_for


def exec_log_line(server, pred=lambda line: True):
    """The newest /exec access-log line for which pred holds, parsed, once
    the thread that drains the server's stderr has read it."""
    import json

    def find():
        lines = [json.loads(l) for l in list(server.stderr_lines) if l.startswith("{")]
        mine = [l for l in lines if l.get("msg") == "request" and l.get("path") == "/exec"
                and l.get("component") == "kcr-serve" and pred(l)]
        return mine[-1] if mine else None
    return wait_for(find, 10, what="an /exec access-log line")


def running_slots(server):
    """kcr_exec_slots{state="running"} from /metrics: executions admitted."""
    for line in server.get("/metrics").text.splitlines():
        if line.startswith('kcr_exec_slots{state="running"} '):
            return int(line.split()[1])
    raise AssertionError("no running slots in /metrics")

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{19}[A-Za-z0-9]")


def ok(r):
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["session_id", "files", "stdout", "stderr", "has_state", "state_size",
                          "state_hash"]
    assert ID.fullmatch(body["session_id"])
    return body


# Validation needs no pod.

def test_missing_code_or_lang_is_422(server):
    for body, field in (({"lang": "py"}, "body -> code"), ({"code": "print(1)"}, "body -> lang")):
        r = server.post("/exec", json=body)
        assert r.status_code == 422
        b = r.json()
        assert b["error"] == "Request validation failed" and b["error_type"] == "validation"
        assert b["details"][0] == {"field": field, "message": "Field required", "code": "missing"}


def test_empty_code_is_400(server):
    r = server.exec("   \n\t")
    assert r.status_code == 400
    b = r.json()
    assert b["error"] == "Code cannot be empty"
    assert b["details"][0]["code"] == "empty_code" and b["details"][0]["field"] == "code"


def test_unsupported_language_is_400(server):
    r = server.exec("print(1)", lang="python")
    assert r.status_code == 400
    b = r.json()
    assert b["error"] == "Unsupported programming language: python"
    assert b["details"][0] == {"field": "lang", "message": "Language 'python' is not supported",
                               "code": "unsupported_language"}


def test_bad_entity_id_is_422(server):
    for bad in ("has space", "x" * 41, "semi;colon"):
        r = server.exec("print(1)", entity_id=bad)
        assert r.status_code == 422, bad
        assert r.json()["details"][0]["field"] == "body -> entity_id"


def test_wrong_field_types_are_422_naming_the_field(server):
    for field in ("session_id", "user_id", "stdin"):
        r = server.exec("print(1)", **{field: 123})
        assert r.status_code == 422, field
        assert r.json()["details"][0]["field"] == f"body -> {field}"
    r = server.post("/exec", json={"lang": "py", "code": 5})
    assert r.status_code == 422 and r.json()["details"][0]["code"] == "string_type"
    r = server.exec("print(1)", files="nope")
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "body -> files"


def test_malformed_json_is_422(server):
    r = server.post("/exec", data="{not json", headers=server.headers(
        **{"Content-Type": "application/json"}))
    assert r.status_code == 422


# Executions.

@needs_pods
def test_print_hi_and_unknown_fields_ignored(server):
    b = ok(server.exec('print("hi")', user_id="u1", LIBRECHAT_CODE_API_KEY="x",
                       codeSessionKey="execute_code", args=["a"], extra={"nested": [1]}))
    assert b["stdout"] == "hi\n" and b["stderr"] == ""
    assert b["files"] == []
    # A run that defines nothing has no state to keep.
    assert b["has_state"] is False
    assert b["state_size"] is None and b["state_hash"] is None
    # Python runs save their globals as the session's state
    # (docs/api-contract.md rule 13).
    b = ok(server.exec("y = 2"))
    assert b["has_state"] is True and b["state_size"] >= 2
    assert re.fullmatch(r"[0-9a-f]{64}", b["state_hash"])
    b = ok(server.exec("console.log(1)", lang="js"))
    assert b["has_state"] is False
    assert b["state_size"] is None and b["state_hash"] is None


@needs_pods
def test_lang_is_case_insensitive_and_v1_prefix(server):
    r = server.http.post(server.url + "/v1/exec", json={"lang": "PY", "code": "print(2)"},
                         headers=server.headers(), timeout=120)
    assert ok(r)["stdout"] == "2\n"


@needs_pods
def test_failing_code_is_200_with_stderr(server):
    b = ok(server.exec("import sys\nprint('before')\nraise ValueError('boom')"))
    assert b["stdout"] == "before\n"
    assert "ValueError: boom" in b["stderr"]
    b = ok(server.exec("import sys; sys.exit(3)"))
    assert "exit code 3" in b["stderr"]
    b = ok(server.exec("import ctypes; ctypes.string_at(0)"))
    assert b["stderr"]


@needs_pods
def test_timeout_is_200_with_message(server):
    b = ok(server.exec("import time\nprint('start', flush=True)\ntime.sleep(60)"))
    assert "Execution timed out after 5 seconds" in b["stderr"]
    assert b["stdout"] == "start\n"


@needs_pods
def test_output_rules(server):
    # Leading whitespace kept, control characters removed, stdout ends with \n.
    b = ok(server.exec(r"import sys; sys.stdout.write('  \n  indented\x07\x00 ok\x1b[0m')"))
    assert b["stdout"] == "  \n  indented ok[0m\n"
    # Invalid UTF-8 becomes U+FFFD; tabs and CR survive.
    b = ok(server.exec(r"import sys; sys.stdout.buffer.write(b'a\xffb\tc\r\n')"))
    assert b["stdout"] == "a\ufffdb\tc\r\n"
    # stderr gets no newline added.
    b = ok(server.exec(r"import sys; sys.stderr.write('warn')"))
    assert b["stderr"] == "warn" and b["stdout"] == ""


@needs_pods
def test_output_cap_in_characters(server):
    # The default cap is 65,536 characters (not bytes): 'é' is two bytes.
    b = ok(server.exec("print('é' * 70000)"))
    assert b["stdout"] == "é" * 65536 + "\n[Output truncated - size limit exceeded]\n"
    b = ok(server.exec("import sys; sys.stderr.write('e' * 65536)"))
    assert b["stderr"] == "e" * 65536


@needs_pods
def test_output_cap_is_configurable():
    s = start_server({"MAX_OUTPUT_SIZE": "2000"})
    try:
        b = ok(s.exec("print('x' * 5000)"))
        assert b["stdout"] == "x" * 2000 + "\n[Output truncated - size limit exceeded]\n"
        b = ok(s.exec("print('y' * 1999)"))
        assert b["stdout"] == "y" * 1999 + "\n"
        # Characters, not bytes: 'é' is two bytes, '😀' four; the answer
        # carries the API's own marker, never the pod's.
        for ch in ("é", "😀"):
            b = ok(s.exec("print(%r * 5000)" % ch))
            assert b["stdout"] == ch * 2000 + "\n[Output truncated - size limit exceeded]\n"
    finally:
        s.cleanup()
    # Below the sidecar's own 1 KiB floor: still a working server.
    s = start_server({"MAX_OUTPUT_SIZE": "100"})
    try:
        b = ok(s.exec("print('é' * 500)"))
        assert b["stdout"] == "é" * 100 + "\n[Output truncated - size limit exceeded]\n"
    finally:
        s.cleanup()


@needs_pods
def test_args_and_stdin(server):
    b = ok(server.exec("import sys; print(sys.argv[1:]); print(input())", args=["a b", "c"],
                       stdin="from stdin\n"))
    assert b["stdout"] == "['a b', 'c']\nfrom stdin\n"


@needs_pods
def test_session_reuse_by_session_id(server):
    first = ok(server.exec("open('keep.txt','w').write('1')"))
    sid = first["session_id"]
    again = ok(server.exec("print(1)", session_id=sid))
    assert again["session_id"] == sid
    fresh = ok(server.exec("print(1)", session_id="NoSuchSession12345678"))
    assert fresh["session_id"] not in (sid, "NoSuchSession12345678")
    assert ID.fullmatch(fresh["session_id"])


@needs_pods
def test_session_reuse_by_entity_id(server):
    a = ok(server.exec("print(1)", entity_id="agent_exec_test"))
    b = ok(server.exec("print(2)", entity_id="agent_exec_test"))
    assert a["session_id"] == b["session_id"]
    # session_id wins over entity_id.
    other = ok(server.exec("print(3)"))
    c = ok(server.exec("print(4)", session_id=other["session_id"], entity_id="agent_exec_test"))
    assert c["session_id"] == other["session_id"]


@needs_pods
def test_uploaded_file_mounted_by_both_shapes(server):
    up = server.upload("data.csv", b"a,b\n1,2\n").json()
    sid, fid = up["session_id"], up["files"][0]["fileId"]
    code = "print(open('/mnt/data/data.csv').read(), end='')"
    # Classic shape: {id, session_id, name}; the session comes from files[].session_id.
    b = ok(server.exec(code, files=[{"id": fid, "session_id": sid, "name": "data.csv"}]))
    assert b["stdout"] == "a,b\n1,2\n"
    assert b["session_id"] == sid
    assert b["files"] == []  # the mounted upload was not modified
    # Current shape: {id, name, resource_id, storage_session_id, kind}.
    b = ok(server.exec(code, files=[{"id": fid, "name": "data.csv", "resource_id": "user-1",
                                     "storage_session_id": sid, "kind": "user"}]))
    assert b["stdout"] == "a,b\n1,2\n" and b["session_id"] == sid
    # By name when the id is unknown in that session.
    b = ok(server.exec(code, files=[{"id": "NoSuchFile0123456789a", "session_id": sid,
                                     "name": "data.csv"}]))
    assert b["stdout"] == "a,b\n1,2\n"


@needs_pods
def test_file_from_another_session_is_copied(server):
    up = server.upload("shared.txt", b"from elsewhere").json()
    other = ok(server.exec("print(0)"))
    b = ok(server.exec("print(open('/mnt/data/shared.txt').read())",
                       session_id=other["session_id"],
                       files=[{"id": up["files"][0]["fileId"], "session_id": up["session_id"],
                               "name": "shared.txt"}]))
    assert b["session_id"] == other["session_id"]
    assert b["stdout"] == "from elsewhere\n"
    names = [f["name"] for f in server.get(f"/files/{other['session_id']}?detail=simple").json()]
    assert "shared.txt" in names
    # The original stays in its own session.
    orig = server.get(f"/files/{up['session_id']}?detail=simple").json()
    assert [f["name"] for f in orig] == ["shared.txt"]


@needs_pods
def test_unresolvable_file_is_404_naming_it(server):
    # 404 like a file of another caller (docs/auth.md), so ids cannot be probed.
    r = server.exec("print(1)", files=[{"id": "Missing0123456789abcd",
                                        "session_id": "NoSession0123456789ab",
                                        "name": "ghost.csv"}])
    assert r.status_code == 404
    b = r.json()
    assert b["error_type"] == "resource_not_found"
    assert "Missing0123456789abcd" in b["error"] and "ghost.csv" in b["error"]


@needs_pods
def test_generated_files_rules(server):
    up = server.upload("input.txt", b"original").json()
    sid, fid = up["session_id"], up["files"][0]["fileId"]
    code = "\n".join([
        "import os, json",
        "os.makedirs('/mnt/data/sub/deeper', exist_ok=True)",
        "open('/mnt/data/out.txt','w').write('top')",
        "open('/mnt/data/sub/deeper/nested.csv','w').write('n')",
        "json.dump({'k': 1}, open('/mnt/data/result.json','w'))",
        "open('/mnt/data/.hidden','w').write('h')",
        "open('/mnt/data/run.sh','w').write('echo')",
        "open('/mnt/data/evil.EXE','w').write('x')",
        "open('/mnt/data/input.txt','a').write(' modified')",
        "os.symlink('/etc/passwd', '/mnt/data/link.txt')",
        "os.mkfifo('/mnt/data/fifo.txt')",
    ])
    b = ok(server.exec(code, files=[{"id": fid, "session_id": sid, "name": "input.txt"}]))
    names = sorted(f["name"] for f in b["files"])
    assert names == ["input.txt", "out.txt", "result.json", "sub/deeper/nested.csv"], names
    for f in b["files"]:
        assert ID.fullmatch(f["id"]) and f["path"] is None
    by = {f["name"]: f for f in b["files"]}
    d = server.get(f"/download/{b['session_id']}/{by['input.txt']['id']}")
    assert d.content == b"original modified"
    d = server.get(f"/download/{b['session_id']}/{by['result.json']['id']}")
    assert d.json() == {"k": 1}
    assert d.headers["Content-Type"].startswith("application/json")
    d = server.get(f"/download/{b['session_id']}/{by['sub/deeper/nested.csv']['id']}")
    assert d.content == b"n"


@needs_pods
def test_output_file_count_and_size_bounds():
    s = start_server({"MAX_OUTPUT_FILES": "3", "MAX_FILE_SIZE_MB": "1"})
    try:
        b = ok(s.exec("for i in range(6): open(f'/mnt/data/f{i}.txt','w').write(str(i))\n"
                      "open('/mnt/data/big.bin','wb').write(b'x' * (2 * 1024 * 1024))"))
        assert len(b["files"]) == 3
        assert "big.bin" not in [f["name"] for f in b["files"]]
    finally:
        s.cleanup()


@needs_pods
def test_matplotlib_png_is_returned_byte_exact(server):
    code = "\n".join([
        "import matplotlib",
        "matplotlib.use('Agg')",
        "import matplotlib.pyplot as plt, hashlib",
        "plt.plot([1, 2, 3], [1, 4, 9])",
        "plt.savefig('/mnt/data/plot.png')",
        "print(hashlib.sha256(open('/mnt/data/plot.png','rb').read()).hexdigest())",
    ])
    b = ok(exec_heavy(server, code))
    assert b["stderr"] == "", b["stderr"]
    [f] = b["files"]
    assert f["name"] == "plot.png"
    d = server.get(f"/download/{b['session_id']}/{f['id']}")
    assert d.status_code == 200
    assert d.headers["Content-Type"] == "image/png"
    assert d.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert hashlib.sha256(d.content).hexdigest() == b["stdout"].strip()
    listing = server.get(f"/files/{b['session_id']}?detail=simple").json()
    assert {"id": f["id"], "name": "plot.png", "path": "/outputs/plot.png"} in listing


@needs_pods
def test_other_languages_run(server):
    b = ok(server.exec("console.log(6*7)", lang="js"))
    assert b["stdout"] == "42\n"
    b = ok(server.exec("echo hi from bash", lang="bash"))
    assert b["stdout"] == "hi from bash\n"


def test_503_when_pod_backend_is_down():
    s = start_server({"KCR_SIDECAR_BIN": "/nonexistent/kcr-sidecar"})
    try:
        r = s.exec("print(1)")
        assert r.status_code == 503, r.text
        assert r.json()["error_type"] == "service_unavailable"
        assert s.get("/ready").status_code == 503
        # Everything else keeps working.
        assert s.upload("a.txt", b"a").status_code == 200
    finally:
        s.cleanup()


@needs_pods
def test_request_log_line_has_language_and_outcome(server):
    b = ok(server.exec("print('logged')"))
    last = exec_log_line(server, lambda l: l.get("session_id") == b["session_id"])
    assert last["language"] == "py" and last["outcome"] == "completed"
    assert last["status"] == 200 and "duration_ms" in last and last["method"] == "POST"
    assert ID.fullmatch(last["request_id"])


@needs_pods
@pytest.mark.slow
def test_sigterm_finishes_inflight_execution():
    """SIGTERM: the server stops accepting at once, lets the execution in
    flight finish, destroys every pod (warm ones too) and exits 0."""
    import os
    import socket
    import tempfile
    import threading
    import time
    run_dir = tempfile.mkdtemp(prefix="kcr-api-run-")
    os.chmod(run_dir, 0o755)
    parent = "kcr-e2e-term-%d" % os.getpid()
    s = start_server({"KCR_RUN_DIR": run_dir, "KCR_CGROUP_PARENT": parent, "POD_POOL_PY": "2"})
    try:
        result = {}

        def run():
            result["r"] = s.exec("import time; time.sleep(2); print('done')")

        t = threading.Thread(target=run)
        t.start()
        wait_for(lambda: running_slots(s) == 1, 30, what="the execution to be running")
        s.proc.terminate()
        # Stops accepting: a new connection is refused while the run finishes.
        deadline = time.monotonic() + 1.0
        refused = False
        while time.monotonic() < deadline and not refused:
            try:
                socket.create_connection(("127.0.0.1", s.port), timeout=0.5).close()
                time.sleep(0.05)
            except OSError:
                refused = True
        assert refused, "still accepting connections after SIGTERM"
        assert s.proc.wait(timeout=30) == 0
        t.join(30)
        assert result["r"].status_code == 200
        assert result["r"].json()["stdout"] == "done\n"
        assert leftovers_after_exit(run_dir, parent) == []
    finally:
        stop_and_remove(s, run_dir, parent)


@needs_pods
def test_sigterm_grace_is_bounded():
    """An execution longer than KCR_SHUTDOWN_GRACE_SECONDS does not hold the
    shutdown: the server exits after the grace, its pods destroyed."""
    import os
    import tempfile
    import threading
    import time
    run_dir = tempfile.mkdtemp(prefix="kcr-api-run-")
    os.chmod(run_dir, 0o755)
    parent = "kcr-e2e-grace-%d" % os.getpid()
    s = start_server({"KCR_RUN_DIR": run_dir, "KCR_CGROUP_PARENT": parent,
                      "KCR_SHUTDOWN_GRACE_SECONDS": "1"})
    try:
        def run():
            try:
                s.exec("import time; time.sleep(25)")
            except Exception:
                pass  # the server ends past its grace: the connection drops

        t = threading.Thread(target=run, daemon=True)
        t.start()
        wait_for(lambda: running_slots(s) == 1, 30, what="the execution to be running")
        t0 = time.monotonic()
        s.proc.terminate()
        s.proc.wait(timeout=20)
        assert time.monotonic() - t0 < 8, "shutdown waited for the execution"
        assert leftovers_after_exit(run_dir, parent) == []
    finally:
        stop_and_remove(s, run_dir, parent)


@needs_pods
def test_memory_limit_is_reported():
    s = start_server({"MAX_MEMORY_MB": "64"})
    try:
        b = ok(s.exec("x = bytearray(512 * 1024 * 1024)\nprint('alive')"))
        assert "alive" not in b["stdout"]
        assert "memory" in b["stderr"].lower(), b["stderr"]
        assert "64 MB" in b["stderr"]
    finally:
        s.cleanup()


@needs_pods
def test_python_state_persists_between_executions(server):
    b = ok(server.exec("import math as m\nx = 41\ndef inc(a):\n    return a + 1\n"
                       "class Box:\n    size = 3\nbox = Box()\n_private = 1\nprint('set')"))
    sid = b["session_id"]
    assert b["has_state"] is True
    # The state is the session's /state blob: version byte 1, ETag = its sha256.
    st = server.get(f"/state/{sid}")
    assert st.status_code == 200 and st.content[0] == 1
    assert hashlib.sha256(st.content).hexdigest() == b["state_hash"] == st.headers["ETag"][1:-1]
    b = ok(server.exec("print(inc(x), box.size, round(m.pi, 2), '_private' in globals())",
                       session_id=sid))
    assert b["stdout"] == "42 3 3.14 False\n", b
    # A failing run keeps the previous state; tracebacks show the user's code.
    b = ok(server.exec("x = 0\nraise ValueError('boom')", session_id=sid))
    assert b["has_state"] is False
    assert 'File "/mnt/data/code.py", line 2, in <module>' in b["stderr"]
    assert "__kcr" not in b["stderr"]
    b = ok(server.exec("print(x)", session_id=sid))
    assert b["stdout"] == "41\n"
    # Deleting a name is remembered too.
    b = ok(server.exec("del x", session_id=sid))
    assert b["has_state"] is True
    b = ok(server.exec("print('x' in globals(), inc(1))", session_id=sid))
    assert b["stdout"] == "False 2\n"
    # A syntax error points at the user's line.
    b = ok(server.exec("def broken(:\n    pass", session_id=sid))
    assert "def broken(:" in b["stderr"] and "SyntaxError" in b["stderr"]
    # Another session does not see it; a state uploaded with POST /state is used.
    other = ok(server.exec("print('x' in globals())"))
    assert other["stdout"] == "False\n"
    r = server.post(f"/state/{other['session_id']}", data=st.content,
                    headers=server.headers(**{"Content-Type": "application/octet-stream"}))
    assert r.status_code == 201
    b = ok(server.exec("print(x, inc(1))", session_id=other["session_id"]))
    assert b["stdout"] == "41 2\n"
    # The state file is never returned as an output.
    assert b["files"] == []
    # Version 2 is the same pickle, lz4-framed (docs/api-contract.md rule 13): restored too.
    import lz4.frame
    v2 = b"\x02" + lz4.frame.compress(st.content[1:])
    third = ok(server.exec("print('x' in globals())"))
    r = server.post(f"/state/{third['session_id']}", data=v2,
                    headers=server.headers(**{"Content-Type": "application/octet-stream"}))
    assert r.status_code == 201
    b = ok(server.exec("print(x, inc(1))", session_id=third["session_id"]))
    assert b["stdout"] == "41 2\n" and "could not be restored" not in b["stderr"], b
    # What pickles by itself is kept when another value does not (a
    # generator pickles neither way); plain values alone take one pass.
    b = ok(server.exec("import numpy as np\ng = (i for i in range(3))\ny = np.arange(3)",
                       session_id=sid))
    assert b["has_state"] is True
    b = ok(server.exec("print('g' in globals(), y.sum(), np.pi > 3, inc(1))", session_id=sid))
    assert b["stdout"] == "False 3 True 2\n", b
    b = ok(server.exec("z = [1, 2]\nw = {'k': z}", session_id=sid))
    b = ok(server.exec("print(w['k'] is z, y.tolist())", session_id=sid))
    assert b["stdout"] == "True [0, 1, 2]\n", b
    # Arrays go into the file as they are (pickle protocol 5) and come back
    # equal; a state over the 50 MiB cap is not kept, the previous one is.
    b = ok(server.exec("big = np.arange(200000, dtype=np.float64).reshape(400, 500)\n"
                       "t = big.T", session_id=sid))
    assert b["has_state"] is True and b["state_size"] > 1600000, b
    b = ok(server.exec("print(big.sum() == 199999 * 100000, t.shape, t.flags.c_contiguous)",
                       session_id=sid))
    assert b["stdout"] == "True (500, 400) False\n", b
    b = ok(server.exec("huge = bytearray(51 << 20)", session_id=sid))
    assert b["has_state"] is False, b
    b = ok(server.exec("print('huge' in globals(), big.shape, inc(1))", session_id=sid))
    assert b["stdout"] == "False (400, 500) 2\n", b


@needs_pods
def test_state_persistence_can_be_disabled():
    s = start_server({"STATE_PERSISTENCE_ENABLED": "false"})
    try:
        b = ok(s.exec("x = 1"))
        assert b["has_state"] is False
        b = ok(s.exec("print('x' in globals())", session_id=b["session_id"]))
        assert b["stdout"] == "False\n"
    finally:
        s.cleanup()


@needs_pods
def test_client_timeout_only_shortens_the_limit(server):
    # LibreChat's programmatic path sends `timeout` in ms.
    b = ok(server.exec("import time; time.sleep(10)", timeout=1500))
    assert b["stderr"].count("Execution timed out after 2 seconds") == 1, b["stderr"]
    b = ok(server.exec("print('fine')", timeout=600000))
    assert b["stdout"] == "fine\n"
    b = ok(server.exec("print('ignored')", timeout="soon"))
    assert b["stdout"] == "ignored\n"


@needs_pods
def test_parallel_sessions_do_not_cross_talk(server):
    import concurrent.futures as cf

    def one(i):
        r = server.exec(f"open('/mnt/data/out.txt','w').write('run {i}')\nprint({i})")
        b = ok(r)
        [f] = b["files"]
        d = server.get(f"/download/{b['session_id']}/{f['id']}")
        return i, b["stdout"], d.content, b["session_id"]

    with cf.ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(one, range(12)))
    for i, out, content, _ in results:
        assert out == f"{i}\n" and content == f"run {i}".encode()
    assert len({sid for *_, sid in results}) == 12


def _sidecar_of(sock):
    """The pid of the kcr-sidecar serving the unix socket sock, or None."""
    import os
    want = ("SIDECAR_SOCKET=" + sock).encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if not f.read().startswith(b"kcr-sidecar"):
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if want in f.read().split(b"\0"):
                    return int(pid)
        except OSError:
            continue
    return None


@needs_pods
def test_dead_warm_pod_is_replaced_before_the_run():
    """A warm pod that died while it waited (its sidecar killed) fails before
    the program is sent: the request goes to a fresh pod and succeeds."""
    import glob
    import os
    import shutil
    import signal
    import tempfile
    if os.geteuid() != 0:
        pytest.skip("needs root (finds and kills the pod's sidecar)")
    run_dir = tempfile.mkdtemp(prefix="kcr-api-run-")
    os.chmod(run_dir, 0o755)
    s = start_server({"KCR_RUN_DIR": run_dir, "POD_POOL_PY": "1"})
    try:
        def warm_sidecar():
            for sock in glob.glob(os.path.join(run_dir, "pods/*/sock/sidecar.sock")):
                pid = _sidecar_of(sock)
                if pid:
                    return pid
            return None
        # Warm means in the pool: a sidecar killed while its pod is still
        # being made fails that creation instead (seen on a loaded CI
        # machine), and the request never meets a dead pod.
        wait_for(lambda: pool_settled(s), 30, what="the warm pool filled")
        pid = wait_for(warm_sidecar, 20, what="a warm pod's sidecar")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10, interval=0.01,
                 what=f"the killed sidecar (pid {pid}) to be gone")
        b = ok(s.exec("print('fresh pod')"))
        assert b["stdout"] == "fresh pod\n", b
        assert any("trying a fresh one" in line for line in s.stderr_lines), s.stderr_lines[-5:]
    finally:
        s.stop()
        s.cleanup()
        shutil.rmtree(run_dir, ignore_errors=True)


@needs_pods
def test_nested_file_references_are_placed_at_their_path(server):
    """LibreChat v0.8.7 writes notes/sub/out.txt with bash + a python3 heredoc,
    gets it back by its relative name, and passes it back by reference: it is
    mounted at the same relative path, directories created."""
    code = ("python3 - <<'PY'\nimport os\nos.makedirs('/mnt/data/notes/sub', exist_ok=True)\n"
            "open('/mnt/data/notes/sub/out.txt', 'w').write('nested!')\nprint('WROTE')\nPY")
    a = ok(server.exec(code, lang="bash"))
    assert a["stdout"] == "WROTE\n"
    [f] = a["files"]
    assert f["name"] == "notes/sub/out.txt"
    ref = {"id": f["id"], "name": f["name"], "storage_session_id": a["session_id"],
           "resource_id": f["id"], "kind": "user"}
    # In a fresh session (a copy) and in the same one.
    for extra in ({}, {"session_id": a["session_id"]}):
        b = ok(server.exec("cat '/mnt/data/notes/sub/out.txt'", lang="bash", files=[ref], **extra))
        assert b["stdout"] == "nested!\n", b  # docs/api-contract.md rule 4: final newline
        assert b["files"] == []  # mounted, not modified: not an output
    # A name that is not a safe relative path is a 400 naming it.
    for bad in ("../escape.txt", "/etc/passwd", "a//b.txt", "a/./b.txt", "x/" * 17 + "y"):
        r = server.exec("print(1)", files=[dict(ref, name=bad)])
        assert r.status_code == 400, (bad, r.text)
        assert bad[:40] in r.json()["error"], r.json()


@needs_pods
def test_request_log_line_has_stages_ms(server):
    """The /exec log line says where the time went (core/orchestrator.h,
    struct kcr_exec_stages): every stage, none negative, together no more
    than the total, and the run itself took time."""
    stages = ("session", "resolve", "queue", "acquire", "files_in", "list_before", "execute",
              "list_after", "state", "outputs", "release", "total")
    b = ok(server.exec("print('staged')"))
    mine = [exec_log_line(server, lambda l: l.get("session_id") == b["session_id"])]
    st = mine[-1]["stages_ms"]
    assert set(st) == set(stages), st
    assert all(isinstance(v, (int, float)) and v >= 0 for v in st.values()), st
    assert sum(v for k, v in st.items() if k != "total") <= st["total"] + 0.05, st
    assert st["execute"] > 0 and st["total"] <= mine[-1]["duration_ms"] + 0.05, (st, mine[-1])
    # The listing after the run comes with /execute's answer (list_files):
    # its time (the sidecar's walk, the parse) is list_after's, not execute's.
    assert st["list_after"] > 0, st


def test_control_bytes_in_output_are_truncated_not_503():
    """With MAX_OUTPUT_SIZE set (the Helm chart sets it), a stream of control
    bytes reaches the sidecar's byte cap, and JSON escapes each to 6 bytes:
    kcr's reply cap must allow for that (issue 13, item 5: it answered 503)."""
    s = start_server({"MAX_OUTPUT_SIZE": "65536"})
    try:
        code = ("import sys\nsys.stdout.buffer.write(b'\\x01' * 300000)\n"
                "sys.stderr.buffer.write(b'\\x02' * 300000)\n")
        b = ok(s.exec(code))
        assert b["stdout"].endswith("[Output truncated - size limit exceeded]\n"), b["stdout"]
        assert "\x01" not in b["stdout"] and "\x02" not in b["stderr"]
        assert "Output truncated" in b["stderr"]
    finally:
        s.cleanup()
