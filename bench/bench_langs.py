#!/usr/bin/env python3
"""Hello-world latency per language through the API (`POST /exec` of a real
`kcr serve` with local pods, one warm pod per language) next to the bare
toolchain on the host (`gcc x.c -o a.out && ./a.out`, `python3 x.py`, ...),
both measured in this run. Prints medians and the ratio API / bare.

Environment: KCR_BUILD (build dir, default ./build), BENCH_N (runs per
language, default 5), BENCH_LANGS (comma-separated subset)."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from kcr_build import RUNTIME  # first: puts tests/e2e on sys.path

import lang_cases as C  # noqa: E402

N = int(os.environ.get("BENCH_N", "5"))

# The bare toolchain: the same compilers and flags as the language table, on
# the host, in a scratch directory, with a clean environment (as pods have).
BARE = {
    "py": ("x.py", "/usr/bin/python3 x.py"),
    "js": ("x.js", "node x.js"),
    "ts": ("x.ts", f"node {RUNTIME}/ts-runner.js x.ts"),
    "go": ("main.go", "rm -rf gocache && go build -o main main.go && ./main"),
    "java": ("Code.java", "javac -J-XX:+UseSerialGC -J-XX:TieredStopAtLevel=1 -d cls Code.java && "
             "java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp cls Code"),
    "c": ("x.c", "gcc -O2 -o a.out x.c -lm && ./a.out"),
    "cpp": ("x.cpp", "g++ -O2 -o a.out x.cpp -lm && ./a.out"),
    "php": ("x.php", "php x.php"),
    "rs": ("main.rs", "rustc --edition 2021 -O -o main main.rs && ./main"),
    "r": ("x.r", "Rscript x.r"),
    "f90": ("x.f90", "gfortran -O2 -o a.out x.f90 && ./a.out"),
    "d": ("x.d", "ldc2 -of=a.out x.d && ./a.out"),
    "bash": ("x.sh", "bash x.sh"),
}


def bare_env(work):
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": work,
        "TMPDIR": work,
        "LANG": "C.UTF-8",
        "NODE_PATH": os.path.join(RUNTIME, "node_modules"),
        "GOCACHE": os.path.join(work, "gocache"),
        "GOPATH": os.path.join(work, "gopath"),
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "CGO_ENABLED": "1",
        "MPLBACKEND": "Agg",
    }


def time_bare(lang):
    name, cmd = BARE[lang]
    work = tempfile.mkdtemp(prefix=f"kcr-bench-{lang}-")
    try:
        with open(os.path.join(work, name), "w") as f:
            f.write(C.CASES[lang]["hello"])
        env = bare_env(work)
        samples = []
        for _ in range(N + 1):  # the first run warms the page cache
            t = time.perf_counter()
            p = subprocess.run(["/bin/sh", "-c", cmd], cwd=work, env=env, capture_output=True)
            samples.append(time.perf_counter() - t)
            if p.returncode != 0 or p.stdout.decode() != C.HELLO_OUT:
                raise RuntimeError(f"bare {lang} failed: {p.stdout!r} {p.stderr[-500:]!r}")
        return statistics.median(samples[1:])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def time_api(server, lang):
    samples = []
    for i in range(N + 1):
        time.sleep(0.5)  # let the pool replenish: measure the warm path
        t = time.perf_counter()
        r = server.exec(C.CASES[lang]["hello"], lang=lang)
        dt = time.perf_counter() - t
        if r.status_code != 200 or r.json().get("stdout") != C.HELLO_OUT:
            raise RuntimeError(f"api {lang} failed: {r.status_code} {r.text[:500]}")
        if i:
            samples.append(dt)
    return statistics.median(samples)


def main():
    import api_util

    if not api_util.have_pods() or not os.path.exists(api_util.KCR):
        print(f"bench_langs: needs {api_util.KCR}, kcr-sidecar and kcr-nsexec (make)")
        return 1
    langs = [x for x in os.environ.get("BENCH_LANGS", ",".join(C.CASES)).split(",") if x]
    env = {f"POD_POOL_{lang.upper()}": "1" for lang in langs}
    server = api_util.Server(env=env).start()
    try:
        print(f"hello world, median of {N} runs (ms); bare = same toolchain on the host, no sandbox")
        print(f"{'lang':6}{'api':>10}{'bare':>10}{'ratio':>8}{'overhead':>10}")
        for lang in langs:
            bare = time_bare(lang)
            api = time_api(server, lang)
            print(f"{lang:6}{api * 1000:10.1f}{bare * 1000:10.1f}{api / bare:8.2f}"
                  f"{(api - bare) * 1000:10.1f}", flush=True)
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
