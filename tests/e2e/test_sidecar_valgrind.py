"""kcr-sidecar under valgrind (memcheck), serving real work against a real main
container: executions with output floods, binary output, stdin, a timeout,
uploads, listings, downloads, deletes, bad requests. kcr-nsexec and user code
run natively (no --trace-children). Passing means valgrind found no invalid
access, no use of uninitialised memory and no definite leak at exit.

valgrind 3.19 does not emulate openat2, so this also runs the sidecar's file
handling on fs_open_beneath_walk, the fallback for kernels and seccomp profiles
without openat2."""
import json
import os
import re
import shutil

import pytest

from maincontainer_util import Pod, require_root_and_binaries

pytestmark = pytest.mark.needs_root


def _memcheck(tmp_path, build_dir):
    """The wrapper that runs the sidecar under memcheck, and the path of its
    log; skips without root, the binaries or valgrind."""
    require_root_and_binaries(build_dir)
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed (deps/test.txt lists it)")
    log = os.path.join(str(tmp_path), "valgrind.log")
    wrapper = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite", "--track-fds=no", f"--log-file={log}"]
    return wrapper, log


def _assert_clean(p, log):
    """The sidecar of the closed pod p exited 0 and memcheck's log names no
    invalid access, no uninitialised value and no definite leak."""
    status = p.sidecar.proc.returncode
    report = open(log, errors="replace").read()
    assert status == 0, f"kcr-sidecar exited {status} under valgrind:\n{report[-4000:]}"
    assert not re.search(r"Invalid (read|write)|uninitialised|definitely lost", report), report


def test_sidecar_is_clean_under_valgrind(tmp_path, build_dir):
    wrapper, log = _memcheck(tmp_path, build_dir)
    with Pod(tmp_path, build_dir, wrapper=wrapper, extra_env={"MAX_OUTPUT_SIZE": "65536"}) as p:
        # The process serving is valgrind's memcheck tool running kcr-sidecar.
        assert "memcheck" in os.readlink(f"/proc/{p.sidecar.proc.pid}/exe")
        assert p.run("echo hello")["stdout"] == "hello\n"
        flood = p.run("yes 0123456789abcdef | head -c 3000000")
        assert flood["exit_code"] == 0 and "truncated" in flood["stdout"], flood["stdout"][-80:]
        binary = p.run("head -c 20000 /opt/kcrtest/kcr-probe")
        assert binary["exit_code"] == 0
        both = p.run("cat; echo err >&2; exit 3", stdin="from stdin ü\n")
        assert both["stdout"] == "from stdin ü\n" and both["stderr"] == "err\n"
        assert both["exit_code"] == 3
        slow = p.run("sleep 30", timeout=1)
        assert slow["timed_out"] is True and slow["exit_code"] == 124
        up = p.sidecar.upload([("a.txt", b"alpha"), ("b.bin", bytes(range(256)) * 64)])
        assert up.status == 200, up.body
        listing = p.sidecar.request("GET", "/files?recursive=1").json()["files"]
        assert {f["name"] for f in listing} >= {"a.txt", "b.bin"}
        assert p.sidecar.request("GET", "/files/b.bin").body == bytes(range(256)) * 64
        assert p.sidecar.request("GET", "/files/../etc/passwd").status in (400, 404)
        assert p.sidecar.request("DELETE", "/files/a.txt").status in (200, 204)
        for body in (b"{", b'{"code": 1}', b'{"code": "x", "lang": "cobol"}', b"\xff\xfe"):
            r = p.sidecar.request("POST", "/execute", body=body,
                                  headers={"Content-Type": "application/json"})
            assert 400 <= r.status < 500, (body, r.status)
    _assert_clean(p, log)


def _post(p, path, obj=None, raw=None):
    body = raw if raw is not None else (json.dumps(obj) if obj is not None else None)
    r = p.sidecar.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    return r.status, r.json()


def test_programmatic_tool_calling_is_clean_under_valgrind(tmp_path, build_dir):
    """The same for /programmatic (src/sidecar/sidecar-ptc*.c): pauses,
    continues, errors, a cancel, a hostile message, bash."""
    wrapper, log = _memcheck(tmp_path, build_dir)
    p = Pod(tmp_path, build_dir, kind="python", language="py", wrapper=wrapper,
            extra_env={"PRESTART_RUNNER": "false"})
    try:
        assert "memcheck" in os.readlink(f"/proc/{p.sidecar.proc.pid}/exe")
        code = ("a, b = await asyncio.gather(t(x=1), t(x=2))\n"
                "try:\n    await t(x=3)\nexcept ToolError as e:\n    print('error', e)\n"
                "print(a, b, flush=True)\n"
                "import os, time\nos.write(4, b'1x')\ntime.sleep(30)\n")
        st, r = _post(p, "/programmatic", {"code": code, "tools": ["t"], "timeout": 30})
        assert st == 200 and len(r["tool_calls"]) == 2, r
        assert _post(p, "/programmatic/continue", raw="[")[0] == 400
        st, r = _post(p, "/programmatic/continue", {"tool_results": [
            {"call_id": c["id"], "result": {"v": c["input"]["x"]}} for c in r["tool_calls"]]})
        assert st == 200 and r["status"] == "tool_call_required", r
        assert _post(p, "/programmatic", {"code": "1", "tools": ["t"]})[0] == 409
        st, r = _post(p, "/programmatic/continue", {"tool_results": [
            {"call_id": r["tool_calls"][0]["id"], "is_error": True, "error_message": "no"}]})
        assert st == 200 and r["status"] == "done", r
        assert r["stdout"] == "error no\n{'v': 1} {'v': 2}\n", r
        assert r["stderr"].endswith("kcr: invalid tool call message\n"), r
        # Cancelled while paused; its answer kept for /continue.
        st, r = _post(p, "/programmatic", {"code": "await t()\n", "tools": ["t", "u"]})
        assert r["status"] == "tool_call_required", r
        assert _post(p, "/programmatic/cancel") == (200, {"cancelled": True})
        st, r = _post(p, "/programmatic/continue", {"tool_results": []})
        assert r["status"] == "done" and r["signal"] == 9, r
        st, r = _post(p, "/programmatic", {"code": "x=$(t '{\"a\": \"b\\nc\"}')\necho $x\n",
                                           "lang": "bash", "tools": ["t"]})
        assert r["status"] == "tool_call_required", r
        st, r = _post(p, "/programmatic/continue", {"tool_results": [
            {"call_id": r["tool_calls"][0]["id"], "result": r["tool_calls"][0]["input"]}]})
        assert r["status"] == "done" and r["stdout"] == '{"a":"b\\nc"}\n', r
        for body in (b"{", b'{"code": "x"}', b'{"code": "x", "tools": ["a-b", "a_b"]}'):
            assert 400 <= _post(p, "/programmatic", raw=body)[0] < 500, body
        # One left paused at shutdown: the sidecar kills and frees it.
        st, r = _post(p, "/programmatic", {"code": "await t()\n", "tools": ["t"]})
        assert r["status"] == "tool_call_required", r
    finally:
        p.close()
    _assert_clean(p, log)
