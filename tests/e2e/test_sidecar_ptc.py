"""Programmatic tool calling in the sidecar (src/sidecar/sidecar-ptc.c,
docs/ptc-sandbox.md): /programmatic, /programmatic/continue and
/programmatic/cancel against real local pods. The program runs in the real
sandbox and calls tools over fd 4; this test plays the client, answering the
tool calls the sidecar hands out."""
import json
import os
import threading
import time

import pytest

from conftest import wait_for
from pod_util import LocalPod, _procs, children, cmdline

pytestmark = pytest.mark.needs_root

JSON = {"Content-Type": "application/json"}


def post(pod, path, obj=None, raw=None, timeout=60):
    body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else None)
    status, data = pod.request("POST", path, body, JSON, timeout=timeout)
    return status, json.loads(data)


def start(pod, code, tools, lang="py", timeout=10, **extra):
    req = {"code": code, "lang": lang, "timeout": timeout, "tools": tools, **extra}
    return post(pod, "/programmatic", req, timeout=timeout + 30)


def cont(pod, results, timeout=40):
    return post(pod, "/programmatic/continue", {"tool_results": results}, timeout=timeout)


def ok(call, value):
    return {"call_id": call["id"], "result": value, "is_error": False}


def fail(call, message):
    return {"call_id": call["id"], "result": None, "is_error": True, "error_message": message}


def drive(pod, first, answer):
    """Answers every tool_call_required with answer(call) (a result dict)
    until the run is done; returns (done answer, [each batch of calls])."""
    status, r = first
    batches = []
    while True:
        assert status == 200, r
        if r["status"] == "done":
            return r, batches
        assert r["status"] == "tool_call_required", r
        batches.append(r["tool_calls"])
        status, r = cont(pod, [answer(c) for c in r["tool_calls"]])


def run(lang, code, tools, answer):
    """Starts code (with tools) on a fresh pod of lang and drives it to the
    end, as drive does; the pod is gone when it returns."""
    with LocalPod(lang) as pod:
        return drive(pod, start(pod, code, tools, lang=lang), answer)


def sidecar_pid(pod):
    want = b"SIDECAR_SOCKET=" + pod.socket.encode() + b"\0"
    for pid, (_, argv) in _procs().items():
        if not argv[0].endswith(b"kcr-sidecar"):
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if want in f.read():
                    return pid
        except OSError:
            continue
    pytest.fail("the pod's kcr-sidecar was not found")


def descendants(pid):
    """Every process below pid (user code lives below the sidecar's kcr-nsexec)."""
    procs, out, todo = _procs(), [], [pid]
    while todo:
        kids = children(todo.pop(), procs)
        out += kids
        todo += kids
    return out


def assert_no_process_left(pod):
    side = sidecar_pid(pod)
    wait_for(lambda: not descendants(side), timeout=5,
             what=lambda: f"the sidecar's processes to end: {descendants(side)}")


# --------------------------------------------------------------------------
# Python


def test_py_round_trip_values_reach_the_program():
    code = ("s = await lookup(q='a')\n"
            "d = await lookup({'q': 'b'})\n"
            "print(type(s).__name__, repr(s))\n"
            "print(type(d).__name__, d['k'], d['n'])\n")
    with LocalPod("py") as pod:
        status, r = start(pod, code, ["lookup"])
        assert status == 200 and r["status"] == "tool_call_required", r
        assert r["tool_calls"] == [{"id": "call_1", "name": "lookup", "input": {"q": "a"}}]
        status, r = cont(pod, [ok(r["tool_calls"][0], "hello")])
        assert status == 200 and r["tool_calls"] == [
            {"id": "call_2", "name": "lookup", "input": {"q": "b"}}], r
        status, r = cont(pod, [ok(r["tool_calls"][0], {"k": [1, 2], "n": None})])
        assert status == 200 and r["status"] == "done", r
        assert r["stdout"] == "str 'hello'\ndict [1, 2] None\n", r
        assert r["exit_code"] == 0 and r["stderr"] == "", r
        for k in ("execution_time_ms", "timed_out", "oom_killed", "signal"):
            assert k in r, r


def test_py_gather_sends_one_message():
    code = ("a, b, c = await asyncio.gather(get_weather(city='SF'), get_weather(city='NY'),\n"
            "                               class_tool(n=3))\n"
            "print(a, b, c)\n")
    with LocalPod("py") as pod:
        status, r = start(pod, code, ["get-weather", "class"])
        assert status == 200 and r["status"] == "tool_call_required", r
        calls = r["tool_calls"]
        assert [c["name"] for c in calls] == ["get-weather", "get-weather", "class"], calls
        assert [c["input"] for c in calls] == [{"city": "SF"}, {"city": "NY"}, {"n": 3}]
        assert len({c["id"] for c in calls}) == 3
        status, r = cont(pod, [ok(c, c["input"].get("city", "x") + "!" if "city" in c["input"]
                                  else 7) for c in calls])
        assert status == 200 and r["status"] == "done", r
        assert r["stdout"] == "SF! NY! 7\n", r


def test_py_tool_error_raises_tool_error():
    code = ("try:\n"
            "    await search(q='x')\n"
            "except ToolError as e:\n"
            "    print('caught:', e)\n"
            "await search(q='y')\n"
            "print('not reached')\n")
    r, batches = run("py", code, ["search"],
                     lambda c: fail(c, "quota exceeded for " + c["input"]["q"]))
    assert len(batches) == 2
    assert r["stdout"] == "caught: quota exceeded for x\n", r
    assert r["exit_code"] == 1, r
    # The traceback is the program's own: no frame of the runner.
    assert r["stderr"] == ("Traceback (most recent call last):\n"
                           '  File "/mnt/data/code.py", line 5, in <module>\n'
                           "    await search(q='y')\n"
                           "ToolError: quota exceeded for y\n"), r


# A program that speaks the channel protocol itself (what the runner does).
RAW = ("import json, os\n"
       "def exchange(calls):\n"
       "    msg = json.dumps({'calls': calls}).encode()\n"
       "    os.write(4, b'%d\\n' % len(msg) + msg)\n"
       "    head = b''\n"
       "    while not head.endswith(b'\\n'):\n"
       "        head += os.read(4, 1)\n"
       "    body = b''\n"
       "    while len(body) < int(head):\n"
       "        body += os.read(4, int(head) - len(body))\n"
       "    print(json.dumps(json.loads(body), sort_keys=True))\n")


def test_py_unregistered_tool_is_answered_without_a_round_trip():
    code = RAW + ("exchange([{'id': 'a1', 'name': 'nope', 'input': {}},\n"
                  "          {'id': 7, 'name': '', 'input': 1}])\n")
    with LocalPod("py") as pod:
        status, r = start(pod, code, ["search"])
        assert status == 200 and r["status"] == "done", r
        assert r["exit_code"] == 0, r
        assert json.loads(r["stdout"]) == {"results": [
            {"id": "a1", "ok": False, "error": "Sandbox requested an unregistered tool: nope"},
            {"id": 7, "ok": False, "error": "Sandbox requested an unregistered tool: "}]}, r


def test_py_mixed_message_waits_only_for_registered_calls():
    code = RAW + ("exchange([{'id': 1, 'name': 'search', 'input': {'q': 1}},\n"
                  "          {'id': 2, 'name': 'missing'},\n"
                  "          {'id': 3, 'name': 'search', 'input_json': '{\"q\": 3}'}])\n")
    with LocalPod("py") as pod:
        status, r = start(pod, code, ["search"])
        assert status == 200 and r["status"] == "tool_call_required", r
        calls = r["tool_calls"]
        assert calls == [{"id": "call_1", "name": "search", "input": {"q": 1}},
                         {"id": "call_2", "name": "search", "input": {"q": 3}}], r
        status, r = cont(pod, [ok(calls[1], "three"), fail(calls[0], "one failed")])
        assert r["status"] == "done" and r["exit_code"] == 0, r
        assert json.loads(r["stdout"]) == {"results": [
            {"id": 1, "ok": False, "error": "one failed"},
            {"id": 2, "ok": False, "error": "Sandbox requested an unregistered tool: missing"},
            {"id": 3, "ok": True, "value": "three"}]}, r


def test_py_inputs_that_are_no_json_fail_at_the_call():
    # Raised where the program calls the tool; the run goes on.
    code = ("for bad in (float('nan'), 2 ** 70, object(), '\\ud800'):\n"
            "    try:\n"
            "        await t(x=bad)\n"
            "    except (TypeError, ValueError) as e:\n"
            "        print(type(e).__name__)\n"
            "print(await t(1, y=2) if False else await t({'a': 'é'}, b=[1.5, None, True]))\n")
    r, batches = run("py", code, ["t"], lambda c: ok(c, c["input"]))
    assert [b[0]["input"] for b in batches] == [{"a": "é", "b": [1.5, None, True]}]
    assert r["stdout"] == ("ValueError\nValueError\nTypeError\nUnicodeEncodeError\n"
                           "{'a': 'é', 'b': [1.5, None, True]}\n"), r


def test_py_five_dependent_calls():
    code = ("x = 0\n"
            "for i in range(5):\n"
            "    x = await inc(n=x)\n"
            "print('result', x)\n")
    r, batches = run("py", code, ["inc"], lambda c: ok(c, c["input"]["n"] + 1))
    assert [len(b) for b in batches] == [1] * 5
    assert [b[0]["id"] for b in batches] == [f"call_{i}" for i in range(1, 6)]
    assert r["stdout"] == "result 5\n" and r["exit_code"] == 0, r


def test_py_sync_program_and_fds():
    # A program without top-level await runs plainly (no event loop of
    # ours), sees fds 0-2 and 4 only, and can still call tools itself.
    code = ("import os, resource\n"
            "def is_open(fd):\n"
            "    try:\n"
            "        os.fstat(fd)\n"
            "        return True\n"
            "    except OSError:\n"
            "        return False\n"
            "n = resource.getrlimit(resource.RLIMIT_NOFILE)[0]\n"
            "print(sorted(fd for fd in range(min(n, 65536)) if is_open(fd)))\n"
            "print(os.get_inheritable(4), os.getcwd(), __name__, __file__)\n"
            "import sys\n"
            "print(sys.argv, 'asyncio' in dir(), ToolError.__name__)\n"
            "print(asyncio.run(echo(v=1)))\n")
    with LocalPod("py") as pod:
        r, _ = drive(pod, start(pod, code, ["echo"], args=["a1"]), lambda c: ok(c, c["input"]))
        assert r["exit_code"] == 0, r
        assert r["stdout"].splitlines() == [
            "[0, 1, 2, 4]",
            "True /mnt/data __main__ /mnt/data/code.py",
            "['/mnt/data/code.py', 'a1'] True ToolError",
            "{'v': 1}"], r
        # A plain execution after the run still sees 0-2 only.
        r = pod.execute("import os\nprint(sorted(os.listdir('/proc/self/fd')))\n")
        assert r["stdout"] == "['0', '1', '2', '3']\n", r  # 3: listdir's own


# --------------------------------------------------------------------------
# Time


@pytest.mark.slow
def test_timeout_counts_only_running_time():
    code = ("import time\n"
            "for i in range(2):\n"
            "    await wait(i=i)\n"
            "    time.sleep(0.5)\n"
            "print('finished')\n")
    with LocalPod("py") as pod:
        status, r = start(pod, code, ["wait"], timeout=2)
        assert r["status"] == "tool_call_required", r
        while r["status"] == "tool_call_required":
            time.sleep(3)  # longer than the whole time limit
            status, r = cont(pod, [ok(c, None) for c in r["tool_calls"]])
        assert r["status"] == "done" and not r["timed_out"], r
        assert r["stdout"] == "finished\n" and r["exit_code"] == 0, r
        assert r["execution_time_ms"] < 2000, r


def test_timeout_after_a_tool_call():
    code = "await wait()\nprint('spinning', flush=True)\nwhile True:\n    pass\n"
    with LocalPod("py") as pod:
        status, r = start(pod, code, ["wait"], timeout=2)
        assert r["status"] == "tool_call_required", r
        t0 = time.monotonic()
        status, r = cont(pod, [ok(r["tool_calls"][0], 1)])
        assert r["status"] == "done" and r["timed_out"] and r["exit_code"] == 124, r
        assert r["stdout"] == "spinning\n", r
        assert r["stderr"].endswith("Execution timed out after 2 seconds"), r
        assert 1.5 < time.monotonic() - t0 < 10
        assert_no_process_left(pod)


def test_list_files_comes_with_the_done_answer():
    """A start with list_files: the done answer (brought by /continue, or
    kept by a cancel) carries the listing of GET /files?recursive=1; the
    pause does not; without list_files no answer has one."""
    code = ("import os\n"
            "os.makedirs('/mnt/data/out/sub', exist_ok=True)\n"
            "open('/mnt/data/out/sub/r.txt', 'w').write('r')\n"
            "os.symlink('/etc', '/mnt/data/out/etc-link')\n"
            "v = await t()\n"
            "open('/mnt/data/after.txt', 'w').write(str(v))\n")
    with LocalPod("py") as pod:
        status, r = start(pod, code, ["t"], list_files=True)
        assert status == 200 and r["status"] == "tool_call_required", r
        assert "listing" not in r
        status, r = cont(pod, [ok(r["tool_calls"][0], 42)])
        assert status == 200 and r["status"] == "done" and r["exit_code"] == 0, r
        names = sorted(f["name"] for f in r["listing"]["files"])
        assert "after.txt" in names and "out/sub/r.txt" in names, names
        assert not any(n.startswith("out/etc-link") for n in names), names
        got = pod.list_files(recursive=True)
        assert sorted(r["listing"]["files"], key=lambda f: f["name"]) == \
            sorted(got, key=lambda f: f["name"])
    with LocalPod("py") as pod:
        status, r = start(pod, "await t()\n", ["t"], list_files=True)
        assert r["status"] == "tool_call_required", r
        assert post(pod, "/programmatic/cancel") == (200, {"cancelled": True})
        status, r = cont(pod, [ok({"id": "call_1"}, 1)])
        assert status == 200 and r["status"] == "done" and r["signal"] == 9, r
        assert isinstance(r["listing"]["files"], list), r
    with LocalPod("py") as pod:
        r, _ = drive(pod, start(pod, "await t()\n", ["t"]), lambda c: ok(c, 1))
        assert not {"listing", "listing_ms", "listing_error"} & set(r), r


# --------------------------------------------------------------------------
# Cancel, conflicts, malformed requests


def test_cancel_while_paused():
    with LocalPod("py") as pod:
        status, r = start(pod, "print('before', flush=True)\nawait t()\nprint('after')\n", ["t"])
        assert r["status"] == "tool_call_required", r
        status, r = post(pod, "/programmatic/cancel")
        assert status == 200 and r == {"cancelled": True}, r
        assert_no_process_left(pod)
        status, r = cont(pod, [ok({"id": "call_1"}, 1)])
        assert status == 200 and r["status"] == "done", r
        assert r["exit_code"] == 137 and r["signal"] == 9 and not r["timed_out"], r
        assert r["stdout"] == "before\n", r
        # Nothing left to cancel or continue; the pod executes again.
        assert post(pod, "/programmatic/cancel") == (200, {"cancelled": False})
        assert cont(pod, [])[0] == 409
        assert pod.execute("print(2)")["stdout"] == "2\n"


def test_continue_racing_a_cancel_gets_the_cancelled_answer():
    """kcr may send /continue while its cancel of that paused run is still
    finishing it (kcr's cancel comes from another client request): the
    continuation waits for the cancel's answer, never "nothing paused" (409).
    Repeated, each time with the continuation sent right behind the cancel."""
    with LocalPod("py") as pod:
        for _ in range(8):
            status, r = start(pod, "await t()\nprint('after')\n", ["t"])
            assert r["status"] == "tool_call_required", r
            box = {}
            th = threading.Thread(target=lambda: box.update(c=post(pod, "/programmatic/cancel")))
            th.start()
            status, r = cont(pod, [ok(r["tool_calls"][0], 1)])
            th.join(30)
            assert box["c"] == (200, {"cancelled": True}) or box["c"][1] == {"cancelled": False}
            assert status == 200 and r["status"] == "done", (status, r)
            if box["c"][1]["cancelled"]:
                assert r["exit_code"] == 137 and r["signal"] == 9, r
            else:  # the continuation won: the program finished first
                assert r["exit_code"] == 0 and r["stdout"] == "after\n", r
        assert_no_process_left(pod)


def test_cancel_while_running():
    with LocalPod("py") as pod:
        out = {}

        def run():
            out["r"] = start(pod, "import time\nprint('up', flush=True)\ntime.sleep(100)\n", ["t"],
                             timeout=20)

        th = threading.Thread(target=run)
        th.start()
        side = sidecar_pid(pod)
        # Running: the runner has its program's path in its argv.
        wait_for(lambda: any(b"/mnt/data/code.py" in cmdline(p) for p in descendants(side)),
                 timeout=10, what="the program to start")
        time.sleep(0.3)
        t0 = time.monotonic()
        status, r = post(pod, "/programmatic/cancel")
        assert status == 200 and r == {"cancelled": True}, r
        th.join(10)
        assert not th.is_alive()
        assert time.monotonic() - t0 < 5
        status, r = out["r"]
        assert status == 200 and r["status"] == "done", r
        assert r["exit_code"] == 137 and r["signal"] == 9 and not r["timed_out"], r
        assert r["stdout"] == "up\n", r
        assert_no_process_left(pod)


def test_malformed_continue_keeps_the_run():
    with LocalPod("py") as pod:
        assert cont(pod, [])[0] == 409  # nothing paused
        status, r = start(pod, "print(await t(), await t())\n", ["t"])
        call = r["tool_calls"][0]
        for raw in (b"not json", b"[]", b'{"tool_results": 5}',
                    b'{"tool_results": [{"call_id": 1}]}',
                    b'{"tool_results": [{"call_id": "call_1", "is_error": "yes"}]}'):
            status, r = post(pod, "/programmatic/continue", raw=raw)
            assert status == 400, (raw, r)
        # A result for an unknown call is ignored; the waiting call's is used.
        status, r = cont(pod, [ok({"id": "call_99"}, "x"), ok(call, "first")])
        assert r["status"] == "tool_call_required", r
        # A waiting call without a result gets an error.
        status, r = cont(pod, [])
        assert r["status"] == "done" and r["exit_code"] == 1, r
        assert "ToolError: no result for this call" in r["stderr"], r


def test_second_run_and_execute_are_refused_while_one_is_active():
    with LocalPod("py") as pod:
        status, r = start(pod, "print(await t())\n", ["t"])
        assert r["status"] == "tool_call_required", r
        status, r2 = start(pod, "print(1)\n", ["t"])
        assert status == 409, r2
        status, data = pod.request("POST", "/execute", b'{"code": "print(1)"}', JSON)
        assert status == 409, data
        status, r = cont(pod, [ok(r["tool_calls"][0], "v")])
        assert r["status"] == "done" and r["stdout"] == "v\n", r
        assert pod.execute("print(3)")["stdout"] == "3\n"


def test_bad_requests():
    with LocalPod("py") as pod:
        cases = [
            ({"code": "1"}, 400, "tools"),
            ({"code": "1", "tools": []}, 422, "tools"),
            ({"code": "1", "tools": "t"}, 422, "tools"),
            ({"code": "1", "tools": ["a\nb"]}, 422, "tools"),
            ({"code": "1", "tools": ["x" * 257]}, 422, "tools"),
            ({"code": "1", "tools": ["t"] * 129}, 422, "tools"),
            ({"code": "1", "tools": ["a-b", "a_b"]}, 422, "tools"),
            ({"code": "1", "tools": ["t"], "lang": "js"}, 400, "lang"),
            ({"code": "1", "tools": ["t"], "timeout": 0}, 422, "timeout"),
            ({"tools": ["t"]}, 400, "code"),
        ]
        for body, want, field in cases:
            status, r = post(pod, "/programmatic", body)
            assert (status, r.get("field")) == (want, field), (body, r)


# --------------------------------------------------------------------------
# Hostile programs


@pytest.mark.parametrize("payload", [
    "b'hello world\\n'",
    "b'1' * (2 << 20)",
    "b'2000000\\n' + b'{' * 100",
    "b'5\\n{x:1}'",
    "b'11\\n{\"calls\":1}'",
])
def test_malformed_message_ends_the_run(payload):
    code = f"import os, time\nprint('x', flush=True)\nos.write(4, {payload})\ntime.sleep(30)\n"
    with LocalPod("py") as pod:
        t0 = time.monotonic()
        status, r = start(pod, code, ["t"], timeout=20)
        assert status == 200 and r["status"] == "done", r
        assert time.monotonic() - t0 < 10
        assert r["exit_code"] == 137 and r["signal"] == 9, r
        assert r["stdout"] == "x\n", r
        assert r["stderr"].endswith("kcr: invalid tool call message\n"), r
        assert pod.request("GET", "/health")[0] == 200
        assert_no_process_left(pod)


def test_closing_the_channel_is_no_error():
    with LocalPod("py") as pod:
        status, r = start(pod, "import os\nos.close(4)\nprint('fine')\n", ["t"])
        assert r["status"] == "done" and r["exit_code"] == 0 and r["stdout"] == "fine\n", r


# --------------------------------------------------------------------------
# bash


def test_bash_one_call():
    code = ": &\nwait \"$!\"\nr=$(get_weather '{\"city\": \"SF\"}')\necho \"got $r at $LINENO\"\n"
    r, batches = run("bash", code, ["get-weather"],
                     lambda c: ok(c, {"temp": 20, "city": c["input"]["city"]}))
    assert batches == [[{"id": "call_1", "name": "get-weather", "input": {"city": "SF"}}]]
    assert r["stdout"] == 'got {"temp":20,"city":"SF"} at 4\n', r
    assert r["exit_code"] == 0 and r["stderr"] == "", r


def test_bash_argument_with_newline_and_quote():
    code = ("arg=$(printf '{\"text\": \"line 1\\\\nline \\\\\"2\\\\\" it'\"'\"'s\"}')\n"
            "my_tool \"$arg\"\n"
            "my_tool 'not json'\n"
            "my_tool\n")
    r, batches = run("bash", code, ["my.tool"], lambda c: ok(c, c["input"]))
    inputs = [b[0]["input"] for b in batches]
    assert inputs == [{"text": "line 1\nline \"2\" it's"}, "not json", {}], inputs
    assert r["stdout"].splitlines() == [
        '{"text":"line 1\\nline \\"2\\" it\'s"}', '"not json"', "{}"], r


def test_bash_background_calls():
    code = ("{ a=$(double '{\"n\": 1}'); echo \"a=$a\" > /tmp/a; } &\n"
            "{ b=$(double '{\"n\": 2}'); echo \"b=$b\" > /tmp/b; } &\n"
            "wait\n"
            "cat /tmp/a /tmp/b\n")
    r, batches = run("bash", code, ["double"], lambda c: ok(c, c["input"]["n"] * 2))
    assert sorted(b[0]["input"]["n"] for b in batches) == [1, 2], batches
    assert r["stdout"] == "a=2\nb=4\n" and r["exit_code"] == 0, r


def test_bash_tool_error():
    code = "set -u\nout=$(lookup '{}')\necho \"status $? out [$out]\"\nlookup\n"
    r, _ = run("bash", code, ["lookup"], lambda c: fail(c, "not found:\nnothing"))
    assert r["stdout"] == "status 1 out []\n", r
    assert r["stderr"] == "not found: nothing\nnot found: nothing\n", r
    assert r["exit_code"] == 1, r


def test_bash_sees_fds_and_line_numbers():
    code = ("ls /proc/self/fd | sort -n | tr '\\n' ' '; echo\n"
            "echo \"$0 $LINENO\"\n"
            "nosuchcommand\n")
    with LocalPod("bash") as pod:
        status, r = start(pod, code, ["t"], lang="bash")
        assert r["status"] == "done", r
        assert r["stdout"] == "0 1 2 3 4 \n/mnt/data/code.sh 2\n", r  # 3: ls's own
        assert r["stderr"] == "/mnt/data/code.sh: line 3: nosuchcommand: command not found\n", r
