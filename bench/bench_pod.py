#!/usr/bin/env python3
"""Local pods: Python print(1) bare versus through a pod, measured in the same run.

Prints (never asserts):
  bare      /usr/bin/python3 -c 'print(1)' as a subprocess
  cold      pod create (kcr pod run: fork the pod manager, namespaces, cgroup,
            rootfs, sidecar /ready) + POST /execute + destroy
  create    the backend's create() alone, as measured inside kcr (create_ms)
  warm      a pod created beforehand (what the warm pool hands out) + execute + destroy
and the ratios against bare. Needs root (skips with a message otherwise).
Environment: BENCH_N (default 20), KCR_BUILD."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from pod_util import LocalPod  # noqa: E402

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
        t = time.perf_counter()
        r = p.execute("print(1)")
        p.close()
        out.append(time.perf_counter() - t)
        assert r["stdout"] == "1\n", r
    return out


def main():
    if os.geteuid() != 0:
        print("bench_pod: skipped: local pods need root (namespaces, cgroups)")
        return 0
    run_dir = tempfile.mkdtemp(prefix="kcr-bench-run-")
    os.chmod(run_dir, 0o755)
    parent = f"kcr-bench-{os.getpid()}"
    env = {"KCR_RUN_DIR": run_dir, "KCR_CGROUP_PARENT": parent}
    try:
        bare = bench_bare()
        cold, create, execute, destroy, inner = bench_cold(env)
        warm = bench_warm(env)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        for hier in os.listdir("/sys/fs/cgroup") + [""]:
            try:
                os.rmdir(os.path.join("/sys/fs/cgroup", hier, parent))
            except OSError:
                pass
    b = ms(bare)
    print(f"python print(1), median of {N} runs each")
    print(f"  bare /usr/bin/python3 -c       {b:8.1f} ms")
    print(f"  warm pod: execute + destroy    {ms(warm):8.1f} ms   ratio {ms(warm) / b:5.2f}x")
    print(f"  cold pod: create+exec+destroy  {ms(cold):8.1f} ms   ratio {ms(cold) / b:5.2f}x")
    print(f"    create (kcr pod run -> ready)  {ms(create):8.1f} ms")
    print(f"    create() inside kcr            {ms(inner):8.1f} ms   "
          f"(cold creation on top of warm: {ms(cold) - ms(warm):.1f} ms)")
    print(f"    execute                        {ms(execute):8.1f} ms")
    print(f"    destroy (EOF -> kcr exited)    {ms(destroy):8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
