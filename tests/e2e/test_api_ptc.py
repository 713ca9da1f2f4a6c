"""POST /exec/programmatic (programmatic tool calling, the protocol of
@librechat/agents' run_tools_with_code and run_tools_with_bash) over raw
HTTP against a real `kcr serve`.

A first request {code, tools, ...} runs the program in a pod until it calls
tools: the answer is tool_call_required with the calls and a continuation
token, and the program waits, paused, in its pod. {continuation_token,
tool_results} resumes it there. The run ends completed (stdout, stderr,
files) or error ("Time limit exceeded", "Out of memory", "Sandbox exited
with code N", "Too many tool call round trips").

Covered here: the Python side (tools as async functions named as the client
normalises them, keyword arguments, results as JSON values, asyncio.gather
as one batch, ToolError) and the bash side (functions taking one JSON
argument); files in and out; the time limit counting only running time;
tokens single use, unguessable, bound to their principal (two API keys, two
LibreChat JWT users) and expiring (PTC_CONTINUATION_TIMEOUT_SECONDS); cancel
of a paused run and of a request in flight (X-LibreChat-Code-Request-ID);
PTC_MAX_PAUSED (429) and PTC_MAX_ROUND_TRIPS; malformed bodies (4xx, and a
malformed continuation leaves the run paused); /v1; metrics. Every test
shows that no pod is left behind (api_util.no_pod_leaked).

The LibreChat client itself drives the endpoint in test_api_ptc_client.py."""
import re
import threading
import uuid

import pytest
import requests

from api_util import (TEST_KEY, needs_pods, no_pod_leaked, own_pods_env, start_server,
                      stop_and_remove)
from auth_util import KeyPair, bearer, mint
from conftest import wait_for

PATH = "/exec/programmatic"
RID = "X-LibreChat-Code-Request-ID"
OTHER_KEY = "ptc-other-key-0123456789abcdef"
T = {"name": "t", "description": "a test tool",
     "parameters": {"type": "object", "properties": {}, "additionalProperties": True}}


def tool(name):
    return dict(T, name=name)


# ------------------------------------------------------------------ helpers

def post(s, body, headers=None, prefix="", path=PATH, http=None, **kw):
    """POST body (JSON, or raw bytes/str) to the programmatic route of s."""
    h = s.headers() if headers is None else dict(headers)
    if isinstance(body, (bytes, str)):
        h.setdefault("Content-Type", "application/json")
        kw["data"] = body
    else:
        kw["json"] = body
    kw.setdefault("timeout", 120)
    return (http or s.http).post(s.url + prefix + path, headers=h, **kw)


def start(s, code, tools=(T,), headers=None, prefix="", http=None, **fields):
    return post(s, dict({"code": code, "tools": list(tools)}, **fields), headers, prefix,
                http=http)


def cont(s, token, results, headers=None, prefix="", **kw):
    return post(s, {"continuation_token": token, "tool_results": results}, headers, prefix,
                **kw)


def cancel(s, request_id, headers=None, prefix=""):
    return post(s, {"request_id": request_id}, headers, prefix, path=PATH + "/cancel")


def answer(r, status):
    """The body of a 200 answer whose status is `status`."""
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["status"] == status, b
    return b


def paused(r, n=None):
    """A tool_call_required answer: its token and n calls (ids distinct)."""
    b = answer(r, "tool_call_required")
    tok = b["continuation_token"]
    assert isinstance(tok, str) and len(tok) >= 20, b
    calls = b["tool_calls"]
    assert calls and all({"id", "name", "input"} <= set(c) for c in calls), b
    assert len({c["id"] for c in calls}) == len(calls), b
    if n is not None:
        assert len(calls) == n, b
    return b


def ok_result(call, value):
    return {"call_id": call["id"], "result": value, "is_error": False}


def run_to_end(s, r, reply=lambda call: None, headers=None, prefix=""):
    """Answers every batch of tool calls with reply(call) until the run
    ends; returns (final body, the batches of calls)."""
    batches = []
    b = answer(r, r.json().get("status"))
    while b["status"] == "tool_call_required":
        b = paused(r)
        batches.append(b["tool_calls"])
        r = cont(s, b["continuation_token"], [ok_result(c, reply(c)) for c in b["tool_calls"]],
                 headers, prefix)
        assert r.status_code == 200, r.text
        b = r.json()
    return b, batches


def completed(b):
    assert b["status"] == "completed", b
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{19}[A-Za-z0-9]", b["session_id"]), b
    assert isinstance(b["files"], list), b
    return b


def metric(s, name):
    """The value of a Prometheus sample named exactly `name` (labels
    summed), or None when /metrics has none."""
    vals = [float(line.rsplit(" ", 1)[1]) for line in s.get("/metrics").text.splitlines()
            if re.match(re.escape(name) + r"(\{| )", line)]
    return sum(vals) if vals else None


def round_trips(s, missing_ok=False):
    """kcr_ptc_round_trips: a counter (_total or bare) or a histogram (its
    _sum: round trips of the runs observed). None if absent and missing_ok."""
    for name in ("kcr_ptc_round_trips_sum", "kcr_ptc_round_trips_total", "kcr_ptc_round_trips"):
        v = metric(s, name)
        if v is not None:
            return v
    assert missing_ok, "no kcr_ptc_round_trips in /metrics"
    return None


def paused_runs(s):
    v = metric(s, "kcr_ptc_paused_runs")
    assert v is not None, "no kcr_ptc_paused_runs in /metrics"
    return v


def in_thread(fn):
    """Runs fn() in a thread; returns (thread, box) with box["r"] its result."""
    box = {}

    def run():
        try:
            box["r"] = fn()
        except Exception as e:  # noqa: BLE001 (reported by the test)
            box["e"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


# ------------------------------------------------------------------ servers

@pytest.fixture(scope="module")
def jwt_key():
    return KeyPair("EdDSA")


@pytest.fixture(scope="module")
def server(jwt_key):
    """Two API keys and LibreChat JWTs; runs may take 10 s; a paused run
    left by a failing test expires in 20 s, and does not hold the next
    tests' starts (PTC_MAX_PAUSED would be the warm pool's size, 1)."""
    s = start_server(dict(own_pods_env("ptc"), MAX_EXECUTION_TIME="10", API_KEYS=OTHER_KEY,
                          CODEAPI_JWT_PUBLIC_KEY=jwt_key.public_pem,
                          PTC_CONTINUATION_TIMEOUT_SECONDS="20", PTC_MAX_PAUSED="8"))
    yield s
    stop_and_remove(s)


@pytest.fixture(autouse=True)
def no_leak(request):
    """Every test on the module server leaves no pod behind."""
    if "server" not in request.fixturenames:
        yield
        return
    with no_pod_leaked(request.getfixturevalue("server")):
        yield


@pytest.fixture(scope="module")
def limits_server():
    s = start_server(dict(own_pods_env("ptc-limits"), PTC_MAX_PAUSED="1",
                          PTC_MAX_ROUND_TRIPS="2", MAX_EXECUTION_TIME="3"))
    yield s
    stop_and_remove(s)


@pytest.fixture(scope="module")
def expiry_server():
    s = start_server(dict(own_pods_env("ptc-expiry"), PTC_CONTINUATION_TIMEOUT_SECONDS="2"))
    yield s
    stop_and_remove(s)


@pytest.fixture(scope="module")
def oom_server():
    s = start_server(dict(own_pods_env("ptc-oom"), MAX_MEMORY_MB="64"))
    yield s
    stop_and_remove(s)


# ------------------------------------------------------------------ Python

@needs_pods
def test_one_call_round_trip(server):
    b = paused(start(server, 'r = await t(x=1)\nprint("got", r)'), 1)
    [c] = b["tool_calls"]
    assert c["name"] == "t" and c["input"] == {"x": 1}
    b = completed(answer(cont(server, b["continuation_token"], [ok_result(c, {"a": 1})]),
                         "completed"))
    assert b["stdout"] == "got {'a': 1}\n", b
    assert b["stderr"] == "" and b["files"] == []


@needs_pods
def test_code_without_tool_calls_completes_at_once(server):
    b = completed(answer(start(server, 'print("no tools used")'), "completed"))
    assert b["stdout"] == "no tools used\n"


@needs_pods
def test_tool_names_are_python_identifiers_as_the_client_makes_them(server):
    """normalizeToPythonIdentifier: '-' and spaces to '_', other characters
    dropped, a leading digit gets '_', keywords get '_tool'; the calls name
    the tools as registered."""
    names = {"get-weather": "get_weather", "class": "class_tool", "2fast": "_2fast",
             "get-data.v2": "get_datav2", "web search": "web_search"}
    code = "\n".join(f"await {py}(n={i})" for i, py in enumerate(names.values()))
    b, batches = run_to_end(server, start(server, code + '\nprint("all called")',
                                          tools=[tool(n) for n in names]))
    assert completed(b)["stdout"] == "all called\n"
    assert [[(c["name"], c["input"]) for c in batch] for batch in batches] == [
        [(name, {"n": i})] for i, name in enumerate(names)]


@needs_pods
def test_keyword_arguments_are_the_input_and_results_json_values(server):
    code = ('import json\n'
            'for _ in range(5):\n'
            '    v = await t(a=1, b="x", c=[1, 2.5], d={"k": None}, e=True)\n'
            '    print(type(v).__name__, json.dumps(v))')
    values = iter(["hello", {"a": [1, 2]}, None, 3.5, [True, "x"]])
    b, batches = run_to_end(server, start(server, code), lambda c: next(values))
    assert all(batch[0]["input"] == {"a": 1, "b": "x", "c": [1, 2.5], "d": {"k": None},
                                     "e": True} for batch in batches)
    assert completed(b)["stdout"] == ('str "hello"\ndict {"a": [1, 2]}\nNoneType null\n'
                                      'float 3.5\nlist [true, "x"]\n')


@needs_pods
def test_asyncio_gather_of_three_calls_is_one_round_trip(server):
    before = round_trips(server)
    r = start(server, 'a, b, c = await asyncio.gather(t(i=1), t(i=2), t(i=3))\nprint(a, b, c)')
    b = paused(r, 3)
    assert sorted(c["input"]["i"] for c in b["tool_calls"]) == [1, 2, 3]
    results = [ok_result(c, f"r{c['input']['i']}") for c in b["tool_calls"]]
    b = completed(answer(cont(server, b["continuation_token"], results[::-1]), "completed"))
    assert b["stdout"] == "r1 r2 r3\n"
    assert round_trips(server) - before == 1


@needs_pods
def test_tool_error_raises_ToolError(server):
    code = ('try:\n    await t()\n    print("no error")\n'
            'except ToolError as e:\n'
            '    print("caught", isinstance(e, Exception), type(e).__name__, str(e))')
    b = paused(start(server, code), 1)
    [c] = b["tool_calls"]
    r = cont(server, b["continuation_token"], [
        {"call_id": c["id"], "result": None, "is_error": True, "error_message": "quota exceeded"}])
    assert completed(answer(r, "completed"))["stdout"] == "caught True ToolError quota exceeded\n"


@needs_pods
def test_one_dict_argument_and_missing_results(server):
    """A tool takes one dict instead of keywords; a call left without a
    result raises ToolError("no result for this call"); a result for an id
    that was not asked for is ignored (docs/ptc.md)."""
    code = ('a, b = await asyncio.gather(t({"k": 1}), t(k=2), return_exceptions=True)\n'
            'print(repr(a), type(b).__name__, b)')
    b = paused(start(server, code), 2)
    assert sorted(c["input"]["k"] for c in b["tool_calls"]) == [1, 2]
    first = next(c for c in b["tool_calls"] if c["input"]["k"] == 1)
    r = cont(server, b["continuation_token"], [
        ok_result(first, "one"), {"call_id": "not-asked-for", "result": 3, "is_error": False}])
    b = answer(r, "completed")
    assert b["stdout"] == "'one' ToolError no result for this call\n", b


@needs_pods
def test_uncaught_exception_is_a_non_zero_exit(server):
    b = paused(start(server, 'await t()\nprint("before")\nraise ValueError("bad value")'), 1)
    b = answer(cont(server, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)]), "error")
    assert b["error"] == "Sandbox exited with code 1", b
    assert b["stdout"] == "before\n"
    assert "Traceback" in b["stderr"] and "ValueError: bad value" in b["stderr"], b


@needs_pods
def test_output_file_written_after_the_calls_comes_back(server):
    code = ('v = await t()\n'
            'with open("/mnt/data/out.txt", "w") as f:\n    f.write(f"value={v}\\n")\n'
            'print("written")')
    b, _ = run_to_end(server, start(server, code), lambda c: 42)
    b = completed(b)
    [f] = b["files"]
    assert f["name"] == "out.txt" and f["id"], b
    r = server.get(f"/download/{b['session_id']}/{f['id']}")
    assert r.status_code == 200 and r.content == b"value=42\n"


@needs_pods
def test_input_files_are_mounted_in_the_session(server):
    up = server.upload("input.txt", b"from the upload\n").json()
    sid, fid = up["session_id"], up["files"][0]["fileId"]
    code = 'await t()\nprint(open("/mnt/data/input.txt").read().strip())'
    r = start(server, code, session_id=sid,
              files=[{"id": fid, "session_id": sid, "name": "input.txt"}])
    b, _ = run_to_end(server, r)
    b = completed(b)
    assert b["stdout"] == "from the upload\n"
    assert b["session_id"] == sid
    assert b["files"] == []  # the input, unchanged, is no result


@needs_pods
def test_time_limit_while_running(server):
    """`timeout` (2000 ms) lowers the server's 10 s, as for /exec: stderr
    names the limit applied."""
    b = paused(start(server, "await t()\nwhile True:\n    pass", timeout=2000), 1)
    b = answer(cont(server, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)]), "error")
    assert b["error"] == "Time limit exceeded", b
    assert "Execution timed out after 2 seconds" in b["stderr"], b


@needs_pods
def test_time_limit_before_the_first_call(server):
    b = answer(start(server, "while True:\n    pass\nawait t()", timeout=2000), "error")
    assert b["error"] == "Time limit exceeded", b
    assert "Execution timed out after 2 seconds" in b["stderr"], b


@needs_pods
def test_paused_time_does_not_count_against_the_limit(limits_server):
    """MAX_EXECUTION_TIME=3: the run waits 4.5 s paused (a deliberate sleep:
    the elapsed time is what is tested) and still completes."""
    import time
    s = limits_server
    with no_pod_leaked(s):
        b = paused(start(s, 'await t()\nprint("resumed")'), 1)
        time.sleep(4.5)
        b = answer(cont(s, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)]),
                   "completed")
        assert b["stdout"] == "resumed\n"


@needs_pods
def test_out_of_memory(oom_server):
    s = oom_server
    with no_pod_leaked(s):
        b = paused(start(s, 'await t()\nx = bytearray(512 * 1024 * 1024)\nprint("alive")'), 1)
        b = answer(cont(s, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)]), "error")
        assert b["error"] == "Out of memory", b
        assert "alive" not in b["stdout"]


# ------------------------------------------------------------------ bash

@needs_pods
def test_bash_tools_are_functions_of_one_json_argument(server):
    """normalizeToBashIdentifier ('-', spaces and '.' to '_'; reserved words
    get '_tool'); the argument is the input; a result is printed as compact
    JSON. Fields the bash client adds (workspace_instance_id) are ignored."""
    code = ('a=$(get_data_v2 \'{"x": 1, "y": [true, null]}\')\nb=$(if_tool \'{}\')\n'
            'echo "a=$a b=$b"')
    r = start(server, code, tools=[tool("get-data.v2"), tool("if")], lang="bash",
              workspace_instance_id="ws-1")
    replies = {"get-data.v2": {"a": [1, 2], "s": "x y"}, "if": {"ok": True}}
    b, batches = run_to_end(server, r, lambda c: replies[c["name"]])
    assert [[(c["name"], c["input"]) for c in batch] for batch in batches] == [
        [("get-data.v2", {"x": 1, "y": [True, None]})], [("if", {})]]
    assert completed(b)["stdout"] == 'a={"a":[1,2],"s":"x y"} b={"ok":true}\n'


@needs_pods
def test_bash_tool_error_is_exit_1_with_the_message_on_stderr(server):
    code = 'if out=$(t \'{}\'); then echo "ok $out"; else echo "rc=$?"; fi'
    b = paused(start(server, code, lang="bash"), 1)
    [c] = b["tool_calls"]
    r = cont(server, b["continuation_token"], [
        {"call_id": c["id"], "result": None, "is_error": True, "error_message": "no such city"}])
    b = completed(answer(r, "completed"))
    assert b["stdout"] == "rc=1\n"
    assert "no such city" in b["stderr"]


@needs_pods
def test_bash_background_calls(server):
    code = ('{ a=$(t \'{"k":1}\'); printf \'%s\\n\' "$a" > /tmp/a.json; } &\n'
            '{ b=$(t \'{"k":2}\'); printf \'%s\\n\' "$b" > /tmp/b.json; } &\n'
            'wait\ncat /tmp/a.json /tmp/b.json')
    b, batches = run_to_end(server, start(server, code, lang="bash"),
                            lambda c: {"k": c["input"]["k"] * 10})
    assert sorted(c["input"]["k"] for batch in batches for c in batch) == [1, 2]
    assert completed(b)["stdout"] == '{"k":10}\n{"k":20}\n'


@needs_pods
def test_bash_exit_status_is_reported(server):
    b = paused(start(server, "t '{}' >/dev/null\necho partial\nexit 3", lang="bash"), 1)
    b = answer(cont(server, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)]), "error")
    assert b["error"] == "Sandbox exited with code 3", b
    assert b["stdout"] == "partial\n"


# ------------------------------------------------------------------ tokens

@needs_pods
def test_token_is_single_use(server):
    b1 = paused(start(server, 'await t()\nawait t()\nprint("done")'), 1)
    b2 = paused(cont(server, b1["continuation_token"], [ok_result(b1["tool_calls"][0], 1)]), 1)
    assert b2["continuation_token"] != b1["continuation_token"]
    r = cont(server, b1["continuation_token"], [ok_result(b1["tool_calls"][0], 1)])
    assert r.status_code == 404, r.text
    b = answer(cont(server, b2["continuation_token"], [ok_result(b2["tool_calls"][0], 2)]),
               "completed")
    assert b["stdout"] == "done\n"
    r = cont(server, b2["continuation_token"], [ok_result(b2["tool_calls"][0], 2)])
    assert r.status_code == 404, r.text


@needs_pods
def test_unknown_tokens_are_404(server):
    b = paused(start(server, 'await t()\nprint("still mine")'), 1)
    tok = b["continuation_token"]
    flipped = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    for wrong in (flipped, tok + "x", tok[:-1], uuid.uuid4().hex, "x"):
        r = cont(server, wrong, [ok_result(b["tool_calls"][0], 1)])
        assert r.status_code == 404, (wrong, r.text)
    b = answer(cont(server, tok, [ok_result(b["tool_calls"][0], 1)]), "completed")
    assert b["stdout"] == "still mine\n"


def _principals(kind, jwt_key):
    if kind == "two_api_keys":
        return {"x-api-key": TEST_KEY}, {"x-api-key": OTHER_KEY}
    return (bearer(mint(jwt_key, sub="ptc-user-a")), bearer(mint(jwt_key, sub="ptc-user-b")))


@needs_pods
@pytest.mark.parametrize("kind", ["two_api_keys", "two_librechat_users"])
def test_token_and_cancel_are_bound_to_the_principal(server, jwt_key, kind):
    """Another principal gets what a token or request id that does not exist
    gets (docs/api-contract.md, "Callers own their data"): 404 for the
    token, cancelled false, and the run stays the owner's."""
    a, b_ = _principals(kind, jwt_key)
    rid = str(uuid.uuid4())
    b = paused(start(server, 'await t()\nprint("owner resumed")', headers=dict(a, **{RID: rid})), 1)
    r = cont(server, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)], headers=b_)
    assert r.status_code == 404, r.text
    r = cancel(server, rid, headers=b_)
    assert r.status_code == 200 and r.json()["cancelled"] is False, r.text
    r = cont(server, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)], headers=a)
    assert answer(r, "completed")["stdout"] == "owner resumed\n"


@needs_pods
def test_expired_token_is_404_and_its_pod_destroyed(expiry_server):
    """PTC_CONTINUATION_TIMEOUT_SECONDS=2: a run left paused is ended, its
    pod destroyed (no_pod_leaked waits for that), then its token is 404."""
    s = expiry_server
    with no_pod_leaked(s):
        b = paused(start(s, 'await t()\nprint("too late")'), 1)
    assert paused_runs(s) == 0
    r = cont(s, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)])
    assert r.status_code == 404, r.text


# ------------------------------------------------------------------ cancel

@needs_pods
def test_cancel_a_paused_run(server):
    rid = str(uuid.uuid4())
    b = paused(start(server, 'await t()\nprint("never")', headers=server.headers(**{RID: rid})), 1)
    r = cancel(server, rid)
    assert r.status_code == 200 and r.json()["cancelled"] is True, r.text
    r = cont(server, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)])
    assert r.status_code == 404, r.text
    r = cancel(server, rid)
    assert r.status_code == 200 and r.json()["cancelled"] is False, r.text


@needs_pods
@pytest.mark.parametrize("which", ["first_request", "continuation"])
def test_cancel_a_request_in_flight(server, which):
    """The program runs `while True` under a request id (in the first
    request, or in a continuation after a call); a cancel from another
    thread (repeated until it finds the request) ends it: the request
    answers "Execution cancelled" (not the time limit's error)."""
    rid = str(uuid.uuid4())
    h = server.headers(**{RID: rid})
    if which == "first_request":
        code = "while True:\n    pass\nawait t()"
        th, box = in_thread(lambda: start(server, code, headers=h, http=requests))
    else:
        b = paused(start(server, "await t()\nwhile True:\n    pass"), 1)
        th, box = in_thread(lambda: cont(server, b["continuation_token"],
                                         [ok_result(b["tool_calls"][0], 1)], headers=h,
                                         http=requests))
    wait_for(lambda: cancel(server, rid).json()["cancelled"], 30, interval=0.2,
             what="a cancel that finds the request in flight")
    th.join(30)
    assert not th.is_alive(), "the cancelled request did not answer within 30 s"
    assert "e" not in box, box
    assert answer(box["r"], "error")["error"] == "Execution cancelled"
    if which == "continuation":
        r = cont(server, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)])
        assert r.status_code == 404, r.text


def test_cancel_of_an_unknown_request_id(server):
    r = cancel(server, str(uuid.uuid4()))
    assert r.status_code == 200 and r.json()["cancelled"] is False, r.text


# ------------------------------------------------------------------ limits

@needs_pods
def test_paused_runs_are_capped(limits_server):
    """PTC_MAX_PAUSED=1: a second start while one run is paused is 429 with
    the body and Retry-After of kcr's rate limit; once the first run
    finished a start works again."""
    s = limits_server
    with no_pod_leaked(s):
        first = paused(start(s, 'await t()\nprint("first")'), 1)
        r = start(s, 'await t()\nprint("second")')
        assert r.status_code == 429, r.text
        body = r.json()
        assert body["error"] == "rate_limited" and body["message"], body
        n = body["retry_after_seconds"]
        assert isinstance(n, int) and n >= 1 and int(r.headers["Retry-After"]) == n
        b = answer(cont(s, first["continuation_token"], [ok_result(first["tool_calls"][0], 1)]),
                   "completed")
        assert b["stdout"] == "first\n"
        b, _ = run_to_end(s, start(s, 'await t()\nprint("third")'))
        assert completed(b)["stdout"] == "third\n"


@needs_pods
def test_round_trips_are_capped(limits_server):
    """PTC_MAX_ROUND_TRIPS=2: the third batch of calls ends the run; a
    gather is one batch."""
    s = limits_server
    with no_pod_leaked(s):
        b = paused(start(s, 'for i in range(3):\n    await t(i=i)\nprint("done")'), 1)
        b = paused(cont(s, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)]), 1)
        b = answer(cont(s, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)]), "error")
        assert "Too many tool call round trips" in b["error"], b
        b, batches = run_to_end(s, start(
            s, 'await asyncio.gather(t(i=1), t(i=2), t(i=3))\nawait t(i=4)\nprint("two")'))
        assert completed(b)["stdout"] == "two\n" and [len(x) for x in batches] == [3, 1]


# ------------------------------------------------------------------ validation
# (tool_results that is not an array: test_malformed_continuation_keeps_the_run,
# with a real token)

def _has(r, *words):
    text = r.text.lower()
    return any(w.lower() in text for w in words)


MALFORMED = [
    ("not_json", b'{"code": "await t()", "tools": [', ("json",)),
    ("code_missing", {"tools": [T]}, ("code",)),
    ("code_not_a_string", {"code": 5, "tools": [T]}, ("code",)),
    ("tools_not_an_array", {"code": "await t()", "tools": {"name": "t"}}, ("tools",)),
    ("tool_without_name", {"code": "await t()", "tools": [{"description": "d"}]}, ("name",)),
    ("tool_name_too_long", {"code": "await t()", "tools": [tool("x" * 257)]}, ("name",)),
    ("tool_names_repeated", {"code": "await t()", "tools": [T, T]}, ("name", "unique", "twice")),
    ("tools_missing", {"code": "await t()"}, ("tools", "/exec")),
    ("lang_unknown", {"code": "await t()", "tools": [T], "lang": "cobol"},
     ("lang", "cobol", "language")),
    ("code_and_continuation_token", {"code": "await t()", "tools": [T],
                                     "continuation_token": "x" * 32, "tool_results": []},
     ("continuation",)),
]


@pytest.mark.parametrize("body,words", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_request_is_4xx_with_a_clear_message(server, body, words):
    r = post(server, body)
    assert r.status_code in (400, 422), r.text
    assert r.json()["error"], r.text
    assert _has(r, *words), (words, r.text)


def test_empty_tools_says_to_use_exec(server):
    r = start(server, 'print("hi")', tools=[])
    assert r.status_code == 400, r.text
    assert "/exec" in r.json()["error"], r.text


MALFORMED_CONTINUATIONS = {
    "tool_results_not_an_array": lambda tok, call: {"continuation_token": tok,
                                                    "tool_results": {"call_id": call["id"]}},
    "tool_results_a_string": lambda tok, call: {"continuation_token": tok, "tool_results": "1"},
    "code_and_continuation_token": lambda tok, call: {
        "code": 'print("other")', "tools": [T], "continuation_token": tok,
        "tool_results": [ok_result(call, 1)]},
}


@needs_pods
@pytest.mark.parametrize("case", sorted(MALFORMED_CONTINUATIONS))
def test_malformed_continuation_keeps_the_run(server, case):
    b = paused(start(server, 'v = await t()\nprint("resumed with", v)'), 1)
    [c] = b["tool_calls"]
    r = post(server, MALFORMED_CONTINUATIONS[case](b["continuation_token"], c))
    assert r.status_code in (400, 422), r.text
    assert paused_runs(server) == 1
    b = answer(cont(server, b["continuation_token"], [ok_result(c, 7)]), "completed")
    assert b["stdout"] == "resumed with 7\n"


def test_credentials_are_required(server):
    r = start(server, "await t()", headers={})
    assert r.status_code == 401, r.text
    r = start(server, "await t()", headers={"x-api-key": "wrong-key-0123456789abcdef"})
    assert r.status_code == 401, r.text
    r = cancel(server, "x", headers={})
    assert r.status_code == 401, r.text


# ------------------------------------------------------------------ /v1, metrics

@needs_pods
def test_v1_prefix(server):
    rid = str(uuid.uuid4())
    b = paused(start(server, 'await t()\nprint("via v1")', prefix="/v1",
                     runtime_session_hint="thread-1"), 1)
    b = answer(cont(server, b["continuation_token"], [ok_result(b["tool_calls"][0], 1)],
                    prefix="/v1"), "completed")
    assert b["stdout"] == "via v1\n"
    b = paused(start(server, "await t()", prefix="/v1", headers=server.headers(**{RID: rid})))
    r = cancel(server, rid, prefix="/v1")
    assert r.status_code == 200 and r.json()["cancelled"] is True, r.text


@needs_pods
def test_metrics(server):
    text = server.get("/metrics").text
    assert "# TYPE kcr_ptc_paused_runs gauge" in text
    assert re.search(r"^# TYPE kcr_ptc_round_trips(_total)? (counter|histogram)$", text, re.M), text
    assert paused_runs(server) == 0
    before = round_trips(server)
    b = paused(start(server, 'await t()\nawait t()\nprint("two trips")'), 1)
    assert paused_runs(server) == 1
    b, _ = run_to_end(server, cont(server, b["continuation_token"],
                                   [ok_result(b["tool_calls"][0], 1)]))
    assert completed(b)["stdout"] == "two trips\n"
    assert paused_runs(server) == 0
    assert round_trips(server) - before == 2
