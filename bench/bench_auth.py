#!/usr/bin/env python3
"""What a LibreChat JWT costs kcr serve (docs/auth.md): the latency of one
cheap authenticated request (GET /files/<unknown id>) with an API key (the
baseline, same run), with a token never seen before (a full EdDSA or RS256
verification), and with a token seen before (the cache by the token's hash);
then that cost next to one /exec of print(1) and next to bare
/usr/bin/python3 -c 'print(1)', both measured in the same run.

Tokens are minted before the clock runs. Runs a real `kcr serve` (build dir
from KCR_BUILD) on a free loopback port; nothing here asserts on time."""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from api_util import Server  # noqa: E402
from auth_util import KeyPair, bearer, mint  # noqa: E402

N = int(os.environ.get("BENCH_N", "200"))
PY = "/usr/bin/python3"
PATH = "/files/NoSuchSession12345678"


def timed_ms(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def p50(xs):
    return statistics.median(xs)


def series(server, headers_list):
    """One request per header set, sequentially; their latencies (ms)."""
    def one(h):
        r = server.http.get(server.url + PATH, headers=h, timeout=30)
        assert r.status_code == 200, r.text
    return [timed_ms(lambda h=h: one(h)) for h in headers_list]


def main():
    ed, rs = KeyPair("EdDSA"), KeyPair("RS256")
    jwks = '{"keys":[%s,%s]}' % tuple(
        __import__("json").dumps(k.jwk(kid)) for k, kid in ((ed, "ed"), (rs, "rs")))
    server = Server(env={"CODEAPI_JWT_JWKS_JSON": jwks, "RATE_LIMIT_ENABLED": "false",
                         "POD_POOL_PY": "2", "LOG_LEVEL": "warn"}).start(timeout=60)
    try:
        key = {"x-api-key": server.key}
        fresh_ed = [bearer(mint(ed, kid="ed", sub=f"u{i}")) for i in range(N)]
        fresh_rs = [bearer(mint(rs, kid="rs", sub=f"u{i}")) for i in range(N)]
        same = [bearer(mint(ed, kid="ed", sub="cached"))] * N
        series(server, [key] * 20 + same[:20])  # warm-up: connection, cache entry
        rows = [("API key (baseline)", series(server, [key] * N)),
                ("JWT EdDSA, new each time", series(server, fresh_ed)),
                ("JWT RS256, new each time", series(server, fresh_rs)),
                ("JWT, the same token (cached)", series(server, same))]

        def exec_once():
            r = server.exec("print(1)")
            assert r.status_code == 200 and r.json()["stdout"] == "1\n", r.text

        def bare():
            p = subprocess.run([PY, "-c", "print(1)"], capture_output=True,
                               env={"PATH": "/usr/bin"})
            assert p.stdout == b"1\n"

        n_exec = max(5, N // 20)
        exec_once()
        execs = [timed_ms(exec_once) for _ in range(n_exec)]
        bares = [timed_ms(bare) for _ in range(n_exec)]
        base = p50(rows[0][1])
        print(f"{'GET /files/<id> with':<32}{'p50 ms':>9}{'vs key':>9}{'extra ms':>10}"
              f"{'extra / exec':>14}")
        for name, xs in rows:
            extra = p50(xs) - base
            print(f"{name:<32}{p50(xs):>9.3f}{p50(xs) / base:>9.2f}{extra:>10.3f}"
                  f"{extra / p50(execs):>14.4f}")
        print(f"{'/exec py print(1)':<32}{p50(execs):>9.1f}"
              f"   (bare python3 -c print(1): {p50(bares):.1f} ms, "
              f"kcr/bare {p50(execs) / p50(bares):.2f})")
        print(f"(n={N} requests per row, {n_exec} executions; one connection, sequential)")
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
