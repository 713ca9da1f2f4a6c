#!/usr/bin/env python3
"""Where one POST /exec spends its time, stage by stage (issue 12): runs a real
`kcr serve` at the default (info) log level, sends BENCH_N sequential Python
executions per level, reads each one's `stages_ms` from the server's request
log line (core/orchestrator.h, struct kcr_exec_stages) and prints per-stage
p50/p90, each stage's share of the server-side total and its p50 as a ratio of
bare `/usr/bin/python3 -c` running the same code, measured in the same run,
interleaved with the executions. "client minus total" is what lies outside
orchestrator_exec: HTTP on both sides, authentication, JSON, the response.
Nothing is asserted about speed."""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

import json  # noqa: E402

from api_util import Server  # noqa: E402

N = int(os.environ.get("BENCH_N", "40"))
GAP_S = float(os.environ.get("BENCH_GAP", "0.2"))
POOL = os.environ.get("BENCH_POOL", "4")
PY = "/usr/bin/python3"
STAGES = ("session", "resolve", "queue", "acquire", "files_in", "list_before", "execute", "list_after",
          "state", "outputs", "release")
LEVELS = (
    ("minimal print(1)", "print(1)", "1\n"),
    ("stdlib json x20000",
     "import json\nn = 0\nfor i in range(20000):\n    n += len(json.dumps({'i': i}))\nprint(n)\n",
     None),
    ("numpy", "import numpy as np\nrng = np.random.default_rng(0)\na = rng.standard_normal((300, 300))\nb = a @ a.T\nprint(b.shape)", None),
)


def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def bare(code):
    t0 = time.perf_counter()
    p = subprocess.run([PY, "-c", code], capture_output=True, env={"PATH": "/usr/bin"},
                       timeout=60)
    ms = (time.perf_counter() - t0) * 1000.0
    assert p.returncode == 0, p.stderr
    return ms, p.stdout.decode()


def kcr(server, code):
    t0 = time.perf_counter()
    r = server.exec(code)
    ms = (time.perf_counter() - t0) * 1000.0
    assert r.status_code == 200, r.text
    return ms, r.json()["stdout"], r.headers["X-Request-ID"]


def log_stages(server, ids, timeout=10.0):
    """The stages_ms of each request id, from the server's access log."""
    found = {}
    deadline = time.monotonic() + timeout
    while True:
        for line in list(server.stderr_lines):
            if not line.startswith("{"):
                continue
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if (o.get("msg") == "request" and o.get("path") == "/exec"
                    and o.get("request_id") in ids and "stages_ms" in o):
                found[o["request_id"]] = o["stages_ms"]
        if len(found) == len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    missing = set(ids) - set(found)
    assert not missing, f"{len(missing)} /exec log lines without stages_ms"
    return [found[i] for i in ids]


def run_level(server, code, want):
    client, base, ids = [], [], []
    for _ in range(N):
        ms, out = bare(code)
        base.append(ms)
        time.sleep(GAP_S)
        ms, got, rid = kcr(server, code)
        assert got == (want if want is not None else out), (got, out)
        client.append(ms)
        ids.append(rid)
        time.sleep(GAP_S)
    return client, base, log_stages(server, ids)


def row(name, xs, total_sum, b50):
    p50, p90 = pct(xs, 50), pct(xs, 90)
    share = f"{100.0 * sum(xs) / total_sum:>8.1f}%" if total_sum else f"{'':>9}"
    return f"  {name:<22}{p50:>9.2f}{p90:>9.2f}{share}{p50 / b50:>11.3f}"


def report(title, client, base, stages):
    totals = [s["total"] for s in stages]
    other = [s["total"] - sum(s[k] for k in STAGES) for s in stages]
    tsum, b50 = sum(totals), pct(base, 50)
    print(f"{title} (n={N}, {GAP_S:g} s apart, interleaved with bare)")
    print(f"  {'stage':<22}{'p50 ms':>9}{'p90 ms':>9}{'of total':>9}{'p50/bare':>11}")
    for k in STAGES:
        print(row(k, [s[k] for s in stages], tsum, b50))
    print(row("other (untimed)", other, tsum, b50))
    print(row("total (server side)", totals, tsum, b50))
    print(row("client /exec latency", client, None, b50))
    print(row("client minus total", [c - t for c, t in zip(client, totals)], None, b50))
    print(row("bare python3 -c", base, None, b50))
    hot = max(STAGES, key=lambda k: statistics.mean(s[k] for s in stages))
    print(f"  server total / client p50 {pct(totals, 50) / pct(client, 50):.2f}; "
          f"client / bare p50 {pct(client, 50) / b50:.2f}; largest stage by mean: {hot}")
    sys.stdout.flush()


class DefaultServer(Server):
    """api_util.Server without its pinned PRELOAD_PY=none: the stages are
    those of kcr's default (preloading) configuration unless PRELOAD_PY is
    set by the caller."""

    def environ(self):
        return {k: v for k, v in super().environ().items() if v is not None}


def main():
    env = {"POD_POOL_PY": POOL, "PRELOAD_PY": os.environ.get("PRELOAD_PY")}
    server = DefaultServer(env=env).start(timeout=60)
    try:
        for _ in range(3):  # warm-up: pool filled, connections open, caches hot
            kcr(server, "print(1)")
            bare("print(1)")
        time.sleep(2)
        for title, code, want in LEVELS:
            report(title, *run_level(server, code, want))
        print(f"(sequential; warm pool POD_POOL_PY={POOL}; stages from the request log's "
              "stages_ms; 'other' = total minus the timed stages)")
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
