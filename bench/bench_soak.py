#!/usr/bin/env python3
"""Soak: BENCH_SOAK_N (default 1000) POST /exec of small Python programs from
BENCH_SOAK_CLIENTS (default 4) concurrent clients against one real `kcr serve`,
then a look for what the run left behind.

The server is bench_ladder's: a real `kcr serve` from KCR_BUILD through
tests/e2e/api_util.py, its own KCR_RUN_DIR, KCR_CGROUP_PARENT and data dir,
kcr's default warm pools, RATE_LIMIT_ENABLED=false (a 429 would be an error
here), LOG_LEVEL=warn. Needs root (local pods). The programs, in turn:
print(1); one writing /mnt/data/soak-<i>.txt (the files path); one printing a
line and raising ValueError (stderr carries the traceback).

Measured: errors, p50/p95 latency, executions/s; VmRSS and open fds of kcr
serve (the HTTP process) and of its pod manager (its privileged child) after a
warm-up of 20 executions, every 100 executions and at the end; and, before the
run (warm-up done, pool settled) and after it (pool settled again, waiting up
to 15 s): processes below kcr serve, pod cgroups under KCR_CGROUP_PARENT (every
cgroup v1 hierarchy and cgroup2), pod dirs under <run dir>/pods, lines of
/proc/self/mountinfo naming the run or data dir, all mountinfo lines.

Exit status 1 (nothing is asserted about speed) when: any execution failed
(non-200, 429 included, a transport error, a wrong stdout/stderr or a missing
file); any count above grew (fds: more than 2 over); or a process's end RSS is
above 2 x its start RSS + 20 MiB (a gross leak; smaller growth is printed only).
The total mountinfo count is system-wide: other mounts made meanwhile count."""
import os
import sys
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, HERE)

from api_util import pool_settled  # noqa: E402
from bench_ladder import pct, start_server, stop_server  # noqa: E402
from pod_util import _procs, children  # noqa: E402
from test_pod_local import cgroup_dirs, mounts_mentioning  # noqa: E402

N = max(1, int(os.environ.get("BENCH_SOAK_N", "1000")))
CLIENTS = max(1, int(os.environ.get("BENCH_SOAK_CLIENTS", "4")))
WARMUP, SAMPLE_EVERY, SETTLE_S, FD_SLACK = 20, 100, 15.0, 2


def program(i):
    """(code, expected stdout, a stderr fragment, a file in the answer) for run i."""
    kind = i % 3
    if kind == 0:
        return "print(1)", "1\n", None, None
    if kind == 1:
        return (f"with open('/mnt/data/soak-{i}.txt', 'w') as f:\n    f.write('x' * {i})\n"
                f"print('wrote', {i})", f"wrote {i}\n", None, f"soak-{i}.txt")
    return (f"print('before')\nraise ValueError('soak {i}')", "before\n",
            f"ValueError: soak {i}", None)


def one(http, server, i):
    """One /exec; None when right, else what was wrong."""
    code, out, err, name = program(i)
    try:
        r = http.post(server.url + "/exec", json={"lang": "py", "code": code},
                      headers=server.headers(), timeout=120)
    except requests.RequestException as e:
        return f"#{i}: {type(e).__name__}: {e}"
    if r.status_code != 200:
        return f"#{i}: HTTP {r.status_code}: {r.text[:200]}"
    body = r.json()
    if body.get("stdout") != out:
        return f"#{i}: stdout {body.get('stdout')!r}, stderr {body.get('stderr', '')[-200:]!r}"
    if err and err not in body.get("stderr", ""):
        return f"#{i}: stderr {body.get('stderr', '')[-200:]!r} lacks {err!r}"
    if name and name not in [f.get("name") for f in body.get("files") or []]:
        return f"#{i}: {name} not among the files {body.get('files')!r}"
    return None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0])


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def descendants(pid):
    procs, todo, out = _procs(), [pid], []
    while todo:
        kids = children(todo.pop(), procs)
        out += kids
        todo += kids
    return out


def counts(s, procs):
    with open("/proc/self/mountinfo") as f:
        total = sum(1 for _ in f)
    pods = os.path.join(s.run_dir, "pods")
    return {
        "processes below kcr serve": len(descendants(s.proc.pid)),
        "pod cgroups (all hierarchies)": len(cgroup_dirs(s.parent)),
        "pod dirs in <run dir>/pods": len(os.listdir(pods)) if os.path.isdir(pods) else 0,
        "mounts naming run/data dir": len(set(mounts_mentioning(s.run_dir))
                                          | set(mounts_mentioning(s.data_dir))),
        "mountinfo lines (system)": total,
        **{f"fds of {name}": nfds(pid) for name, pid in procs.items()},
    }


def settle(s, procs, like=None, bound=SETTLE_S):
    """Counts once the pool is full and idle and then either (without `like`)
    unchanged for 1 s (the teardown of pods used before is over) or (with
    `like`) no count above like's; else the last counts within `bound` seconds.
    Returns them and the seconds waited."""
    t0, last, since = time.monotonic(), None, 0.0
    while True:
        now = time.monotonic()
        c = counts(s, procs) if pool_settled(s) else None
        if c and like is not None and all(c[k] <= like[k] for k in c):
            break
        if c and like is None and c == last and now - since >= 1.0:
            break
        if c != last:
            last, since = c, now
        if now - t0 > bound:
            c = c or counts(s, procs)
            break
        time.sleep(0.25)
    return c, time.monotonic() - t0


def main():
    if os.geteuid() != 0:
        print("bench_soak: skipped: local pods need root (namespaces, cgroups)")
        return 0
    s = start_server({"POD_POOL_PY": None, "POD_POOL_JS": None,
                      "PRELOAD_PY": os.environ.get("PRELOAD_PY")}, "soak")
    sessions = [requests.Session() for _ in range(CLIENTS)]
    try:
        mgr = [c for c in children(s.proc.pid) if _procs()[c][1][:1] == [b"kcr-podmgr"]]
        procs = {"kcr serve": s.proc.pid, **({"pod manager": mgr[0]} if mgr else {})}
        print(f"kcr serve pid {s.proc.pid}, pod manager pid {mgr[0] if mgr else '-'}; default "
              f"warm pools, RATE_LIMIT_ENABLED=false; N={N}, {CLIENTS} clients, "
              f"run dir {s.run_dir}, cgroup parent {s.parent}")
        lock, errors, lat, series = threading.Lock(), [], [], []
        done = [0]

        def client(http, take, sample):
            while (i := take()) is not None:
                t0 = time.perf_counter()
                bad = one(http, s, i)
                ms = (time.perf_counter() - t0) * 1000.0
                with lock:
                    done[0] += 1
                    if bad:
                        errors.append(bad)
                    else:
                        lat.append(ms)
                    if sample and done[0] % SAMPLE_EVERY == 0:
                        series.append((done[0], [(rss_kib(p), nfds(p)) for p in procs.values()]))

        def run(ids, sample):
            """ids spread over the clients, each taking the next one free."""
            it, it_lock = iter(ids), threading.Lock()

            def take():
                with it_lock:
                    return next(it, None)
            threads = [threading.Thread(target=client, args=(h, take, sample)) for h in sessions]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        run(range(10 ** 6, 10 ** 6 + WARMUP), False)  # warm-up: each client's connection open
        warm_errors = errors[:]
        del errors[:], lat[:]
        before, waited0 = settle(s, procs)
        rss0 = {name: rss_kib(p) for name, p in procs.items()}
        t0 = time.perf_counter()
        done[0] = 0
        run(range(N), True)
        wall = time.perf_counter() - t0
        rss1 = {name: rss_kib(p) for name, p in procs.items()}
        after, waited1 = settle(s, procs, before)
    finally:
        for h in sessions:
            h.close()
        stop_server(s)
    return report(before, after, waited0, waited1, rss0, rss1, series, list(procs),
                  warm_errors + errors, lat, wall)


def report(before, after, waited0, waited1, rss0, rss1, series, names, errors, lat, wall):
    ok = len(lat)
    print(f"\nexecutions {N}: ok {ok}, errors {len(errors)} (warm-up included); "
          f"{N / wall:.1f} exec/s over {wall:.1f} s; latency p50 {pct(lat, 50):.1f} ms, "
          f"p95 {pct(lat, 95):.1f} ms")
    for e in errors[:10]:
        print(f"  error {e}")
    print(f"\nevery {SAMPLE_EVERY} executions: VmRSS MiB / open fds")
    for n, row in series:
        print(f"  {n:>6}: " + ", ".join(f"{name} {kib / 1024:.1f} / {fds}"
                                        for name, (kib, fds) in zip(names, row)))
    why = [f"{len(errors)} executions failed"] if errors else []
    for name in names:
        a, b = rss0[name] / 1024, rss1[name] / 1024
        gross = b > 2 * a + 20
        print(f"RSS {name}: start {a:.1f} MiB, end {b:.1f} MiB, growth {b - a:+.1f} MiB "
              f"({'GROSS LEAK: above' if gross else 'fails only above'} 2 x start + 20 MiB)")
        if gross:
            why.append(f"RSS of {name} {a:.1f} -> {b:.1f} MiB")
    print(f"\n{'leak check':<32}{'before':>8}{'after':>8}   (pool settled: "
          f"{waited0:.1f} s before, {waited1:.1f} s after)")
    for k in before:
        slack = FD_SLACK if k.startswith("fds") else 0
        grew = after[k] > before[k] + slack
        print(f"{k:<32}{before[k]:>8}{after[k]:>8}{'   LEAK' if grew else ''}")
        if grew:
            why.append(f"{k}: {before[k]} -> {after[k]}" + (f" (slack {slack})" if slack else ""))
    if why:
        print("\nbench_soak FAILED: " + "; ".join(why))
        return 1
    print("\nbench_soak: no errors, nothing left behind")
    return 0


if __name__ == "__main__":
    sys.exit(main())
