"""kcr-sidecar under valgrind (memcheck), serving real work against a real main
container: executions with output floods, binary output, stdin, a timeout,
uploads, listings, downloads, deletes, bad requests. kcr-nsexec and user code
run natively (no --trace-children). Passing means valgrind found no invalid
access, no use of uninitialised memory and no definite leak at exit.

valgrind 3.19 does not emulate openat2, so this also runs the sidecar's file
handling on fs_open_beneath_walk, the fallback for kernels and seccomp profiles
without openat2."""
import os
import re
import shutil

import pytest

from maincontainer_util import Pod, require_root_and_binaries

pytestmark = pytest.mark.needs_root


def test_sidecar_is_clean_under_valgrind(tmp_path, build_dir):
    require_root_and_binaries(build_dir)
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed (deps/test.txt lists it)")
    log = os.path.join(str(tmp_path), "valgrind.log")
    wrapper = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite", "--track-fds=no", f"--log-file={log}"]
    with Pod(tmp_path, build_dir, wrapper=wrapper, extra_env={"MAX_OUTPUT_SIZE": "65536"}) as p:
        # The process serving is valgrind's memcheck tool running kcr-sidecar.
        assert "memcheck" in os.readlink(f"/proc/{p.sidecar.proc.pid}/exe")
        assert p.run("echo hello")["stdout"] == "hello\n"
        flood = p.run("yes 0123456789abcdef | head -c 3000000")
        assert flood["exit_code"] == 0 and "truncated" in flood["stdout"], flood["stdout"][-80:]
        binary = p.run("head -c 20000 /opt/kcrtest/kcr-probe")
        assert binary["exit_code"] == 0
        both = p.run("cat; echo err >&2; exit 3", stdin="from stdin ü\n")
        assert both["stdout"] == "from stdin ü\n" and both["stderr"] == "err\n"
        assert both["exit_code"] == 3
        slow = p.run("sleep 30", timeout=1)
        assert slow["timed_out"] is True and slow["exit_code"] == 124
        up = p.sidecar.upload([("a.txt", b"alpha"), ("b.bin", bytes(range(256)) * 64)])
        assert up.status == 200, up.body
        listing = p.sidecar.request("GET", "/files?recursive=1").json()["files"]
        assert {f["name"] for f in listing} >= {"a.txt", "b.bin"}
        assert p.sidecar.request("GET", "/files/b.bin").body == bytes(range(256)) * 64
        assert p.sidecar.request("GET", "/files/../etc/passwd").status in (400, 404)
        assert p.sidecar.request("DELETE", "/files/a.txt").status in (200, 204)
        for body in (b"{", b'{"code": 1}', b'{"code": "x", "lang": "cobol"}', b"\xff\xfe"):
            r = p.sidecar.request("POST", "/execute", body=body,
                                  headers={"Content-Type": "application/json"})
            assert 400 <= r.status < 500, (body, r.status)
    status = p.sidecar.proc.returncode
    report = open(log, errors="replace").read()
    assert status == 0, f"kcr-sidecar exited {status} under valgrind:\n{report[-4000:]}"
    assert not re.search(r"Invalid (read|write)|uninitialised|definitely lost", report), report
