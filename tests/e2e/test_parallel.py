"""docs/security.md case 13 and issue 3's concurrency proof: 50 executions in 50
different local pods at the same time, each writing the same file name with
its own contents. Every result must be that pod's own, through stdout and
through the sidecar's file listing and download; no execution may fail."""
import concurrent.futures
import os
import uuid

import pytest

from pod_util import LocalPod

pytestmark = pytest.mark.needs_root

N = 50

CODE = """
import os, time
token = %r
with open('/mnt/data/result.txt', 'w') as f:
    f.write(token)
with open('/tmp/scratch.txt', 'w') as f:
    f.write(token)
time.sleep(0.2)  # overlap with the other pods' writes
a = open('/mnt/data/result.txt').read()
b = open('/tmp/scratch.txt').read()
print(a if a == b else 'MISMATCH %%s %%s' %% (a, b))
"""


def one(i):
    token = "pod-%02d-%s" % (i, uuid.uuid4().hex)
    with LocalPod() as pod:
        r = pod.execute(CODE % token, timeout=30)
        files = pod.list_files()
        names = [f["name"] if isinstance(f, dict) else f for f in
                 (files["files"] if isinstance(files, dict) else files)]
        content = pod.get_file("result.txt")
    if isinstance(content, str):
        content = content.encode()
    return token, r, names, content


def test_50_parallel_pods_no_cross_talk():
    if os.cpu_count() and os.cpu_count() < 2:
        pytest.skip("needs at least 2 CPUs for meaningful parallelism")
    with concurrent.futures.ThreadPoolExecutor(max_workers=N) as ex:
        results = list(ex.map(one, range(N)))
    tokens = set()
    for token, r, names, content in results:
        assert r["exit_code"] == 0, r
        assert r["timed_out"] is False, r
        assert r["stdout"].strip() == token, (token, r)
        assert "result.txt" in names, names
        assert content == token.encode(), (token, content)
        tokens.add(token)
    assert len(tokens) == N
