#!/usr/bin/env python3
"""End-to-end POST /exec latency of kcr serve for Python print(1), at
concurrency 1 and 8, next to the bare interpreter (/usr/bin/python3 -c
'print(1)') measured in the same run; prints p50/p99 and their ratios.

Runs a real `kcr serve` (build dir from KCR_BUILD) on a free loopback port with
a temporary data dir; every request is bounded in count and time."""
import concurrent.futures as cf
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from api_util import Server  # noqa: E402

N = {1: int(os.environ.get("BENCH_N1", "40")), 8: int(os.environ.get("BENCH_N8", "80"))}
PY = "/usr/bin/python3"


def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def run_concurrent(fn, n, conc):
    with cf.ThreadPoolExecutor(max_workers=conc) as ex:
        return list(ex.map(lambda _: timed(fn), range(n)))


def bare():
    p = subprocess.run([PY, "-c", "print(1)"], capture_output=True, env={"PATH": "/usr/bin"})
    assert p.stdout == b"1\n"


def main():
    server = Server(env={"POD_POOL_PY": os.environ.get("BENCH_POOL", "4"),
                         "LOG_LEVEL": "warn"}).start(timeout=60)
    try:
        def exec_once():
            r = server.exec("print(1)")
            assert r.status_code == 200 and r.json()["stdout"] == "1\n", r.text

        for _ in range(3):  # warm-up: pool filled, connections open
            exec_once()
            bare()
        time.sleep(2)
        print(f"{'case':<28}{'p50 ms':>10}{'p99 ms':>10}{'kcr/bare p50':>14}{'kcr/bare p99':>14}")
        means = {}
        for conc in (1, 8):
            n = N[conc]
            base = run_concurrent(bare, n, conc)
            kcr = run_concurrent(exec_once, n, conc)
            means[conc] = statistics.mean(kcr)
            b50, b99, k50, k99 = pct(base, 50), pct(base, 99), pct(kcr, 50), pct(kcr, 99)
            print(f"{'python3 -c print(1)  c=' + str(conc):<28}{b50:>10.1f}{b99:>10.1f}")
            print(f"{'kcr /exec py print(1) c=' + str(conc):<28}{k50:>10.1f}{k99:>10.1f}"
                  f"{k50 / b50:>14.1f}{k99 / b99:>14.1f}")
            sys.stdout.flush()
        print(f"(n={N[1]} at c=1, n={N[8]} at c=8; mean kcr c=1 {means[1]:.1f} ms, "
              f"c=8 {means[8]:.1f} ms; warm pool POD_POOL_PY="
              f"{os.environ.get('BENCH_POOL', '4')}; 2-core machine)")
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
