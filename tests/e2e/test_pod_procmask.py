"""User code's /proc is masked as container runtimes mask a container's
(issue 13, item 7): kcr-nsexec mounts a fresh procfs for every step, which
showed kernel state the runtime had hidden (timer_list, keys, kcore, ...)."""
import pytest

from pod_util import LocalPod

pytestmark = pytest.mark.needs_root

MASKED = ("acpi", "asound", "kcore", "keys", "latency_stats", "timer_list", "timer_stats",
          "sched_debug", "scsi")
READ_ONLY = ("bus", "fs", "irq", "sys", "sysrq-trigger")

PROBE = r"""
import json, os, stat
out = {}
for name in %r:
    p = '/proc/' + name
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        continue
    if stat.S_ISDIR(st.st_mode):
        out[name] = ['dir', os.listdir(p), os.statvfs(p).f_flag & os.ST_RDONLY != 0]
    else:
        out[name] = ['file', os.major(st.st_rdev), os.minor(st.st_rdev), open(p).read(64)]
mounts = {}
for line in open('/proc/self/mountinfo'):
    f = line.split()
    if f[4].startswith('/proc/'):
        mounts[f[4][6:]] = 'ro' in f[5].split(',')
print(json.dumps({'masked': out, 'mounts': mounts}))
""" % (MASKED,)


def test_proc_is_masked_like_a_containers():
    import json
    with LocalPod(lang="py") as pod:
        r = pod.execute(PROBE)
    assert r["exit_code"] == 0, r
    got = json.loads(r["stdout"])
    for name, v in got["masked"].items():
        if v[0] == "dir":
            assert v[1] == [] and v[2] is True, (name, v)  # an empty read-only tmpfs
        else:
            assert v[1:] == [1, 3, ""], (name, v)  # /dev/null
    assert "keys" in got["masked"] or "timer_list" in got["masked"], got
    for name in READ_ONLY:
        if name in got["mounts"]:
            assert got["mounts"][name] is True, (name, got["mounts"])
    assert got["mounts"].get("sys") is True, got["mounts"]
    # What a program needs of /proc is still there.
    with LocalPod(lang="bash") as pod:
        r = pod.execute("cat /proc/self/status | head -1; ls /proc/cpuinfo /proc/meminfo")
    assert r["exit_code"] == 0 and "/proc/cpuinfo" in r["stdout"], r
