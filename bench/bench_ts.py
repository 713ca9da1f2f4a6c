#!/usr/bin/env python3
"""TypeScript (issue 12's target: ts p50 <= 0.3x bare `tsc` + `node` of the
same file, same diagnostics): `POST /exec` with lang ts on a real `kcr serve`
(local pods, a warm ts pool) next to the bare toolchain on the host, in the
same run, alternating: `tsc` (the runtime's typescript, the options of
runtime/ts-runner.js: CommonJS, ES2022, esModuleInterop, not strict) then
`node` of its output, stopping after tsc when it reports an error. Two
programs: hello world, and one with a type error (TS2322), whose diagnostic
must be the same line both ways (the file name aside).

Environment: KCR_BUILD (build dir), BENCH_N (rounds, default 10). Exit status
1 when an answer is wrong (never for speed)."""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from kcr_build import RUNTIME  # first: puts tests/e2e on sys.path

TSC = os.path.join(RUNTIME, "node_modules", "typescript", "bin", "tsc")
N = max(1, int(os.environ.get("BENCH_N", "10")))

import api_util  # noqa: E402

PROGRAMS = [
    ("hello", "const who: string = 'world';\nconsole.log(`hello ${who}`);\n", "hello world\n"),
    ("type error", "const n: number = 'not a number';\nconsole.log(n);\n", None),
]
DIAG = re.compile(r"\(1,7\): error TS2322: (.*)")


def bare(work, code):
    """(ms, stdout, diagnostic) of tsc + node on the host."""
    with open(os.path.join(work, "x.ts"), "w") as f:
        f.write(code)
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8",
           "NODE_PATH": os.path.join(RUNTIME, "node_modules")}
    t0 = time.perf_counter()
    tsc = subprocess.run(["node", TSC, "--target", "es2022", "--module", "commonjs",
                          "--esModuleInterop", "--noEmitOnError", "--outDir", "out", "x.ts"],
                         cwd=work, env=env, capture_output=True, text=True)
    out = ""
    if tsc.returncode == 0:
        out = subprocess.run(["node", "out/x.js"], cwd=work, env=env, capture_output=True,
                             text=True).stdout
    ms = (time.perf_counter() - t0) * 1000
    m = DIAG.search(tsc.stdout)
    return ms, out, m.group(1) if m else None


def kcr(server, code):
    t0 = time.perf_counter()
    r = server.post("/exec", json={"code": code, "lang": "ts"}, timeout=120)
    ms = (time.perf_counter() - t0) * 1000
    doc = r.json() if r.ok else {}
    m = DIAG.search(doc.get("stderr", ""))
    return ms, doc.get("stdout"), m.group(1) if m else None, r.status_code


def main():
    if not api_util.have_pods() or not os.path.exists(TSC):
        print("bench_ts: skipped: needs local pods (root) and the runtime's typescript")
        return 0
    server = api_util.Server(env={"POD_POOL_PY": "0", "POD_POOL_TS": "2",
                                  "RATE_LIMIT_ENABLED": "false"}).start(timeout=60)
    work = tempfile.mkdtemp(prefix="kcr-bench-ts-")
    wrong = []
    try:
        print(f"ts: kcr /exec (warm ts pool of 2) vs bare tsc + node on the host, {N} rounds "
              f"alternating (ms)")
        print(f"  {'program':<12}{'kcr p50':>9}{'bare p50':>10}{'x':>7}  target <= 0.3")
        for name, code, want in PROGRAMS:
            ks, bs = [], []
            for i in range(N + 1):  # the first round warms both up, uncounted
                order = (0, 1) if i % 2 else (1, 0)
                for which in order:
                    if which == 0:
                        ms, out, diag, status = kcr(server, code)
                        ok = status == 200 and (out == want if want else diag is not None)
                        (ks if i else []).append(ms)
                        if not ok:
                            wrong.append(f"kcr {name}: {status} {out!r} {diag!r}")
                        kdiag = diag
                    else:
                        ms, out, diag = bare(work, code)
                        (bs if i else []).append(ms)
                        if (out != want) if want else diag is None:
                            wrong.append(f"bare {name}: {out!r} {diag!r}")
                        bdiag = diag
                    time.sleep(0.2)
            if kdiag != bdiag:
                wrong.append(f"{name}: diagnostics differ: kcr {kdiag!r}, bare {bdiag!r}")
            k, b = statistics.median(ks), statistics.median(bs)
            print(f"  {name:<12}{k:>9.1f}{b:>10.1f}{k / b:>7.2f}  "
                  f"{'met' if k / b <= 0.3 else 'missed'}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    for w in wrong:
        print("WRONG: " + w)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
