#!/usr/bin/env python3
"""Local pods: Python print(1) bare versus through a pod, measured in the same run.

Prints (never asserts), medians:
  bare        /usr/bin/python3 -c 'print(1)' as a subprocess (measured before and
              after the pod runs; the mean of both medians is the baseline)
  in kcr (`kcr pod bench`, in-process, the path kcr serve takes):
    warm      pool_acquire (a warm pod) + sidecar /execute + pool_release (what
              a request waits for; the pool tears the pod down after the reply)
    warm + teardown   the same plus the teardown of a used pod (timed in the
              cold loop, where it is on the caller's path)
    cold      backend create (namespaces, cgroup, rootfs, sidecar /ready) +
              /execute + destroy
  from a client (`kcr pod run` + HTTP from Python, tests/e2e/pod_util.py):
    warm      a pod created beforehand (and left 0.1 s, as a pooled pod waits,
              so its runner has started) + execute + destroy
    cold      process start + create + execute + destroy
and the ratios against bare. Needs root (skips with a message otherwise).
Environment: BENCH_N (default 20), KCR_BUILD."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from pod_util import LocalPod, kcr_binary  # noqa: E402

N = int(os.environ.get("BENCH_N", "20"))


def ms(samples):
    return statistics.median(samples) * 1000


def bench_bare():
    out = []
    for _ in range(N):
        t = time.perf_counter()
        subprocess.run(["/usr/bin/python3", "-c", "print(1)"], check=True,
                       stdout=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
        out.append(time.perf_counter() - t)
    return out


def bench_cold(env):
    total, create, execute, destroy, inner = [], [], [], [], []
    for _ in range(N):
        t0 = time.perf_counter()
        p = LocalPod("py", env=env).__enter__()
        t1 = time.perf_counter()
        r = p.execute("print(1)")
        t2 = time.perf_counter()
        p.close()
        t3 = time.perf_counter()
        assert r["stdout"] == "1\n", r
        total.append(t3 - t0)
        create.append(t1 - t0)
        execute.append(t2 - t1)
        destroy.append(t3 - t2)
        inner.append(p.create_ms / 1000)
    return total, create, execute, destroy, inner


def bench_warm(env):
    out = []
    for _ in range(N):
        p = LocalPod("py", env=env).__enter__()  # the pool's job, not timed
        time.sleep(0.1)  # a pooled pod waits before its request
        t = time.perf_counter()
        r = p.execute("print(1)")
        p.close()
        out.append(time.perf_counter() - t)
        assert r["stdout"] == "1\n", r
    return out


def bench_in_kcr(env):
    out = subprocess.run([kcr_binary(), "pod", "bench", "--lang", "py", "-n", str(N)],
                         env=dict(os.environ, **env), capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"kcr pod bench failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


def main():
    if os.geteuid() != 0:
        print("bench_pod: skipped: local pods need root (namespaces, cgroups)")
        return 0
    run_dir = tempfile.mkdtemp(prefix="kcr-bench-run-")
    os.chmod(run_dir, 0o755)
    parent = f"kcr-bench-{os.getpid()}"
    env = {"KCR_RUN_DIR": run_dir, "KCR_CGROUP_PARENT": parent}
    try:
        bare1 = bench_bare()
        inner = bench_in_kcr(env)
        cold, create, execute, destroy, inner_create = bench_cold(env)
        warm = bench_warm(env)
        bare2 = bench_bare()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        for hier in os.listdir("/sys/fs/cgroup") + [""]:
            try:
                os.rmdir(os.path.join("/sys/fs/cgroup", hier, parent))
            except OSError:
                pass
    b = (ms(bare1) + ms(bare2)) / 2
    w, c = inner["warm_total_ms"], inner["cold_total_ms"]
    print(f"python print(1), median of {N} runs each")
    print(f"  bare /usr/bin/python3 -c            {b:8.1f} ms   "
          f"(before {ms(bare1):.1f}, after {ms(bare2):.1f})")
    print("  in kcr (kcr pod bench):")
    print(f"    warm: acquire+execute+release     {w:8.1f} ms   ratio {w / b:5.2f}x   "
          f"(acquire {inner['warm_acquire_ms']:.3f} ms)")
    wt = w + inner["teardown_ms"]
    print(f"    warm + teardown                   {wt:8.1f} ms   ratio {wt / b:5.2f}x   "
          f"(teardown {inner['teardown_ms']:.1f} ms, after the reply)")
    print(f"    cold: create+execute+destroy      {c:8.1f} ms   ratio {c / b:5.2f}x   "
          f"(create {inner['cold_create_ms']:.1f} ms; cold - warm {c - w:.1f} ms)")
    print("  from a client (kcr pod run + HTTP from Python):")
    print(f"    warm: execute+destroy             {ms(warm):8.1f} ms   ratio {ms(warm) / b:5.2f}x")
    print(f"    cold: start+create+exec+destroy   {ms(cold):8.1f} ms   ratio {ms(cold) / b:5.2f}x")
    print(f"      kcr pod run until ready           {ms(create):8.1f} ms "
          f"(create() inside: {ms(inner_create):.1f} ms)")
    print(f"      execute                           {ms(execute):8.1f} ms")
    print(f"      destroy (EOF until kcr exited)    {ms(destroy):8.1f} ms")
    cc = inner["cold_create_ms"]
    print(f"  targets (issue 3): warm {w / b:.2f}x bare (<= 1.3x: "
          f"{'met' if w / b <= 1.3 else 'missed'}), pod creation {cc:.1f} ms "
          f"(<= 5 ms: {'met' if cc <= 5 else 'missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
