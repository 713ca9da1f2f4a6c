"""LibreChat's own programmatic tool calling client against a live kcr serve:
@librechat/agents 3.9.2's createProgrammaticToolCallingTool
(run_tools_with_code) and createBashProgrammaticToolCallingTool
(run_tools_with_bash), invoked as LibreChat's ToolNode invokes them, with
LangChain tools (zod schemas) that record their invocations
(tests/client/run-ptc.mjs, which names the scenarios). What the model's
code does with the tools, and what the client makes of kcr's answers, are
checked end to end: one call; five dependent calls; three calls through
asyncio.gather in one round trip; a failing tool, caught as ToolError and
uncaught; an output file written after the calls, downloaded; an input file
of the code session; the time limit; the host aborting a run (the client's
cancel request ends it in kcr); bash; a LibreChat JWT instead of a key.
Every test shows that no pod is left behind (api_util.no_pod_leaked).

The raw protocol, its limits and its errors: test_api_ptc.py."""
import json

import pytest

from api_util import needs_pods, no_pod_leaked, own_pods_env, start_server, stop_and_remove
from auth_util import KeyPair, jwt_server
from conftest import wait_for
from test_api_client import client_dir, node  # noqa: F401  (client_dir: a fixture)
from test_api_ptc import round_trips

# The first test also installs the client (`npm ci`, up to 900 s, in client_dir).
pytestmark = [pytest.mark.timeout(1800), needs_pods]


@pytest.fixture(scope="module")
def server():
    """Runs may take 20 s."""
    s = start_server(dict(own_pods_env("ptc-client"), MAX_EXECUTION_TIME="20",
                          PTC_MAX_PAUSED="4"))
    yield s
    stop_and_remove(s)


@pytest.fixture(autouse=True)
def no_leak(server):
    with no_pod_leaked(server):
        yield


def ptc(server, client_dir, scenario, **env):
    """run-ptc.mjs with one scenario against server (API key); returns
    (exit code, its JSON line)."""
    return node(client_dir, "run-ptc.mjs", dict({
        "PTC_SCENARIO": scenario, "CODE_API_BASEURL": server.url + "/v1",
        "CODE_API_KEY": server.key}, **env))


def inputs(out, name=None):
    return [c["input"] for c in out["calls"] if name is None or c["name"] == name]


def test_one_call(server, client_dir):
    code, out = ptc(server, client_dir, "one")
    assert code == 0, out
    assert out["tool"] == "run_tools_with_code"
    assert out["content"].startswith("stdout:\nOslo 4"), out
    assert [(c["name"], c["input"]) for c in out["calls"]] == [("get-weather", {"city": "Oslo"})]
    assert len(out["artifact"]["session_id"]) == 21
    assert out["artifact"]["files"] == []


def test_five_dependent_calls(server, client_dir):
    code, out = ptc(server, client_dir, "loop")
    assert code == 0, out
    assert out["content"].startswith("stdout:\nn = 5"), out
    assert inputs(out, "add_one") == [{"n": i} for i in range(5)]
    assert out["maxConcurrent"] == 1


def test_gather_of_three_calls_is_one_round_trip(server, client_dir):
    """The client runs one batch's calls concurrently: fetch_item waits for
    all three to be in flight, which happens only if kcr asked for them in
    one tool_call_required. kcr_ptc_round_trips agrees."""
    before = round_trips(server, missing_ok=True)
    code, out = ptc(server, client_dir, "gather")
    assert code == 0, out
    assert out["content"].startswith("stdout:\nitem-1 item-2 item-3 str"), out
    assert sorted(i["id"] for i in inputs(out, "fetch_item")) == [1, 2, 3]
    assert out["maxConcurrent"] == 3 and out["barrierTimedOut"] is False, out
    assert before is not None, "no kcr_ptc_round_trips in /metrics"
    assert round_trips(server) - before == 1


def test_tool_error_caught_as_ToolError(server, client_dir):
    code, out = ptc(server, client_dir, "tool_error_caught")
    assert code == 0, out
    assert out["content"].startswith("stdout:\ncaught True boom: disk full"), out
    assert inputs(out) == [{"reason": "disk full"}]


def test_tool_error_uncaught_fails_the_run(server, client_dir):
    code, out = ptc(server, client_dir, "tool_error_uncaught")
    assert code == 1, out
    err = out["error"]
    assert err.startswith("Programmatic execution failed"), err
    # kcr's "Sandbox exited with code 1", as the client words it, and the traceback.
    assert "Execution exited with code 1" in err, err
    assert "boom: nobody caught me" in err and "ToolError" in err, err
    assert "unreachable" not in err


def test_output_file_written_after_the_calls(server, client_dir):
    code, out = ptc(server, client_dir, "file")
    assert code == 0, out
    assert out["content"].startswith("stdout:\nwrote 3 rows"), out
    assert [c["name"] for c in out["calls"]] == ["get_rows", "get-weather"]
    sid = out["artifact"]["session_id"]
    [f] = out["artifact"]["files"]
    assert f["name"] == "report.csv", out["artifact"]
    r = server.get(f"/download/{sid}/{f['id']}")
    assert r.status_code == 200, r.text
    assert r.content == b"name,value\na,1\nb,2\nrome,17\n"


def test_input_file_of_the_code_session(server, client_dir):
    up = server.upload("input.txt", b"hello input\n").json()
    sid, fid = up["session_id"], up["files"][0]["fileId"]
    code, out = ptc(server, client_dir, "read_input", PTC_SESSION_ID=sid,
                    PTC_FILES=json.dumps([{"id": fid, "name": "input.txt"}]))
    assert code == 0, out
    assert out["content"].startswith("stdout:\nhello input 4"), out
    assert out["artifact"]["session_id"] == sid


def test_time_limit(server, client_dir):
    code, out = ptc(server, client_dir, "timeout")
    assert code == 1, out
    assert out["error"].startswith("Programmatic execution failed"), out
    # kcr's "Time limit exceeded", as the client words it; the limit is the
    # model's timeout argument (2000 ms), not the server's 20 s.
    assert "exceeded the time limit" in out["error"], out
    assert "Execution timed out after 2 seconds" in out["error"], out
    assert inputs(out) == [{"city": "Oslo"}]


def test_host_abort_cancels_the_run_in_kcr(server, client_dir):
    """The abort comes while the continuation runs `while True`: the client
    POSTs /exec/programmatic/cancel with the request's id, and kcr finds
    that request (its log says cancelled) and ends the run (no_leak: the pod
    is gone; test_api_ptc.py checks the request's own answer)."""
    code, out = ptc(server, client_dir, "abort")
    assert code == 1 and out["aborted"] is True, out
    assert inputs(out) == [{"city": "Oslo"}]

    def cancel_logged():
        for line in list(server.stderr_lines):
            if line.startswith("{") and "/exec/programmatic/cancel" in line:
                d = json.loads(line)
                if d.get("msg") == "request":
                    return d
        return None
    d = wait_for(cancel_logged, 10, what="the client's cancel request in kcr's log")
    assert d["status"] == 200 and d.get("cancelled") is True, d


def test_bash_one_call(server, client_dir):
    code, out = ptc(server, client_dir, "bash_one")
    assert code == 0, out
    assert out["tool"] == "run_tools_with_bash"
    assert out["content"].startswith('stdout:\ngot {"city":"Oslo","temp":4}'), out
    assert [(c["name"], c["input"]) for c in out["calls"]] == [("get-weather", {"city": "Oslo"})]


def test_bash_background_calls(server, client_dir):
    code, out = ptc(server, client_dir, "bash_background")
    assert code == 0, out
    assert out["content"].startswith(
        'stdout:\n{"city":"Oslo","temp":4}\n{"city":"Rome","temp":17}'), out
    assert sorted(i["city"] for i in inputs(out)) == ["Oslo", "Rome"]


def test_bash_tool_error(server, client_dir):
    code, out = ptc(server, client_dir, "bash_tool_error")
    assert code == 0, out
    assert out["content"].startswith("stdout:\nrc=1"), out
    assert "boom: no disk" in out["content"].split("stderr:", 1)[1], out


def test_librechat_jwt_host(client_dir):
    """A current LibreChat host: authHeaders an async function giving a JWT
    (the client sends no key; the server also takes the test key, which
    no_pod_leaked uses to read /health/detailed)."""
    key = KeyPair("EdDSA")
    s = jwt_server(key, own_pods_env("ptc-jwt"))
    try:
        with no_pod_leaked(s):
            code, out = node(client_dir, "run-ptc.mjs", {
                "PTC_SCENARIO": "one", "CODE_API_BASEURL": s.url + "/v1",
                "CODEAPI_JWT_PRIVATE_KEY": key.private_pem, "CODE_USER_ID": "ptc-jwt-user"})
            assert code == 0 and out["auth"] == "librechat-jwt", out
            assert out["content"].startswith("stdout:\nOslo 4"), out
    finally:
        stop_and_remove(s)
