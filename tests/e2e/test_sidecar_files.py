"""The sidecar's /files endpoints: uploads (nested relative paths included),
listing, download, delete, and refusal of traversal, symlinks and FIFOs
(docs/security.md invariant 6, cases 10 and 11)."""
import hashlib
import json
import os
import time
import uuid

import pytest

from maincontainer_util import Pod, module_pod, require_root_and_binaries
from pod_util import LocalPod, PodHTTPError

pytestmark = pytest.mark.needs_root


pod = module_pod("files")


def data(pod, *parts):
    return os.path.join(pod.main.data, *parts)


def test_upload_with_a_read_only_tmp(build_dir):
    """A Kubernetes sidecar has a read-only root and no /tmp volume: uploads
    are spooled in the working dir (issue 13, item 10). Here /tmp is made
    read-only in the sidecar's own mount namespace; the pod's files live
    outside /tmp."""
    import shutil
    import tempfile
    require_root_and_binaries(build_dir)
    base = tempfile.mkdtemp(prefix="kcr-ro-tmp-", dir="/var/tmp")
    ro_tmp = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
              'mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp && exec "$0" "$@"']
    try:
        with Pod(base, build_dir, wrapper=ro_tmp) as p:
            r = p.sidecar.upload([("spooled.bin", b"x" * 300000)])
            assert r.status == 200, r.body
            with open(os.path.join(p.main.data, "spooled.bin"), "rb") as f:
                assert f.read() == b"x" * 300000
            assert "spooled.bin" in p.run("ls /mnt/data")["stdout"].split()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_upload_list_get_delete(pod):
    r = pod.sidecar.upload([("a.txt", b"hello"), ("b.csv", b"1,2\n3,4\n")])
    assert r.status == 200, r.body
    assert r.json() == {"uploaded": [{"name": "a.txt", "size": 5}, {"name": "b.csv", "size": 8}]}
    # user code sees the files in /mnt/data
    assert pod.run("cat /mnt/data/a.txt")["stdout"] == "hello"
    files = {f["name"]: f for f in pod.sidecar.request("GET", "/files").json()["files"]}
    assert files["a.txt"] == {"name": "a.txt", "size": 5, "type": "file"}
    g = pod.sidecar.request("GET", "/files/b.csv")
    assert g.status == 200 and g.body == b"1,2\n3,4\n"
    assert pod.sidecar.request("GET", "/files/b.csv?max=3").status == 413
    d = pod.sidecar.request("DELETE", "/files/a.txt")
    assert d.status == 200 and not os.path.exists(data(pod, "a.txt"))
    assert pod.sidecar.request("GET", "/files/a.txt").status == 404
    assert pod.sidecar.request("DELETE", "/files/a.txt").status == 404


def by_name(files):
    return sorted(files, key=lambda f: f["name"])


def test_execute_with_list_files_answers_the_listing_of_get_files(pod):
    """list_files: /execute's answer carries the body of GET
    /files?recursive=1 as the program left it (the walk is the same code):
    nested files listed, symlinks (to a file, to a directory outside) and
    FIFOs neither listed nor followed. Without it the answer is as before."""
    r = pod.run("mkdir -p lf/nested/deeper && echo one > lf/a.txt && "
                "echo two > lf/nested/deeper/b.txt && ln -s /etc lf/etc-link && "
                "ln -s ../a.txt lf/nested/a-link && mkfifo lf/fifo; echo done",
                list_files=True)
    assert r["exit_code"] == 0 and r["stdout"] == "done\n", r
    assert "listing_error" not in r
    assert isinstance(r["listing_ms"], (int, float)) and r["listing_ms"] >= 0
    listing = r["listing"]
    assert set(listing) == {"files", "truncated"} and listing["truncated"] is False
    got = pod.sidecar.request("GET", "/files?recursive=1").json()
    assert by_name(listing["files"]) == by_name(got["files"])
    assert listing["truncated"] == got["truncated"]
    names = {f["name"]: f for f in listing["files"]}
    assert names["lf/a.txt"]["size"] == 4 and names["lf/a.txt"]["mtime_ns"] > 0
    assert names["lf/nested/deeper/b.txt"]["size"] == 4
    assert not any(n.startswith("lf/etc-link") for n in names), names
    assert not any(n.endswith(("a-link", "fifo")) for n in names), names
    assert os.path.islink(data(pod, "lf", "etc-link"))  # it is there, just not followed

    # Not asked (absent or false): no listing at all.
    for fields in ({}, {"list_files": False}):
        plain = pod.run("echo hi", **fields)
        assert plain["stdout"] == "hi\n"
        assert not {"listing", "listing_ms", "listing_error"} & set(plain), plain
    bad = pod.execute("echo hi", list_files="yes")
    assert bad.status == 422 and bad.json()["field"] == "list_files", bad.body


def test_execute_lists_what_a_failing_program_left(pod):
    """The listing comes with any result the program had: a non-zero exit
    and a timeout too (its processes are all dead before the walk)."""
    r = pod.run("echo partial > failed.txt; exit 3", list_files=True)
    assert r["exit_code"] == 3
    assert "failed.txt" in {f["name"] for f in r["listing"]["files"]}
    r = pod.run("echo early > slow.txt; sleep 30", list_files=True, timeout=1)
    assert r["timed_out"] is True
    assert "slow.txt" in {f["name"] for f in r["listing"]["files"]}


def test_files_written_by_user_code_are_listed_recursively(pod):
    pod.run("mkdir -p out/sub && echo x > out/sub/r.txt && echo yy > top.txt && "
            "ln -s /etc/passwd out/link && mkfifo out/fifo 2>/dev/null; true")
    os.mkfifo(data(pod, "out", "fifo2"))
    r = pod.sidecar.request("GET", "/files?recursive=1")
    assert r.status == 200
    j = r.json()
    names = {f["name"]: f for f in j["files"]}
    assert names["out/sub/r.txt"]["size"] == 2 and names["out/sub/r.txt"]["mtime_ns"] > 0
    assert "top.txt" in names
    assert not any(n.endswith(("link", "fifo", "fifo2")) for n in names)
    assert j["truncated"] is False
    g = pod.sidecar.request("GET", "/files/out/sub/r.txt")
    assert g.status == 200 and g.body == b"x\n"
    # a FIFO is not a file: answered at once, never blocks
    t0 = time.monotonic()
    assert pod.sidecar.request("GET", "/files/out/fifo2").status == 404
    assert time.monotonic() - t0 < 2
    assert pod.sidecar.request("DELETE", "/files/out").status == 200
    assert not os.path.exists(data(pod, "out"))
    assert os.path.exists("/etc/passwd")


def test_recursive_listing_is_bounded(pod):
    deep = data(pod, "deep")
    p = deep
    for i in range(20):
        p = os.path.join(p, f"d{i}")
    os.makedirs(p)
    open(os.path.join(p, "bottom.txt"), "w").close()
    j = pod.sidecar.request("GET", "/files?recursive=1").json()
    assert j["truncated"] is True
    assert not any(f["name"].endswith("bottom.txt") for f in j["files"])
    pod.sidecar.request("DELETE", "/files/deep")
    assert not os.path.exists(deep)


DEPTH_17 = "/".join(["d"] * 16 + ["f.txt"])


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", ".hidden", "a//b", "a/", "a/../b",
                                  "a/./b", "a/.git/x", "..", "", "x" * 256, DEPTH_17])
def test_upload_refuses_unsafe_names(pod, name):
    before = set(os.listdir(pod.main.data))
    r = pod.sidecar.upload([("fine.txt", b"ok"), (name, b"evil")])
    assert r.status == 400, (name, r.status, r.body)
    assert "error" in r.json()
    # nothing written, not even the safe part
    assert set(os.listdir(pod.main.data)) == before
    assert not os.path.exists(os.path.join(os.path.dirname(pod.main.data), "x"))


@pytest.mark.parametrize("path", ["/files/..%2Fx", "/files/%2Fetc%2Fpasswd", "/files/.hidden",
                                  "/files/a%00b", "/files/..", "/files/a/../b"])
def test_get_and_delete_refuse_traversal(pod, path):
    for method in ("GET", "DELETE"):
        r = pod.sidecar.request(method, path)
        assert r.status in (400, 404), (method, path, r.status)
        assert "error" in r.json()
    assert os.path.exists("/etc/passwd")


def test_symlinks_planted_in_the_data_dir_are_never_followed(pod):
    secret = os.path.join(os.path.dirname(pod.main.data), "outside.txt")
    with open(secret, "w") as f:
        f.write("outside-secret")
    os.symlink(secret, data(pod, "link.txt"))
    os.makedirs(data(pod, "real"), exist_ok=True)
    os.symlink(os.path.dirname(pod.main.data), data(pod, "dirlink"))
    try:
        g = pod.sidecar.request("GET", "/files/link.txt")
        assert g.status == 400 and b"outside-secret" not in g.body
        g = pod.sidecar.request("GET", "/files/dirlink/outside.txt")
        assert g.status == 400 and b"outside-secret" not in g.body
        u = pod.sidecar.upload([("link.txt", b"overwrite")])
        assert u.status == 400
        assert open(secret).read() == "outside-secret"
        # the listing shows the link as a link, never its target's size
        files = {f["name"]: f for f in pod.sidecar.request("GET", "/files").json()["files"]}
        assert files["link.txt"]["type"] == "symlink"
        # deleting a link removes the link, not the target
        assert pod.sidecar.request("DELETE", "/files/link.txt").status == 200
        assert os.path.exists(secret)
    finally:
        for n in ("link.txt", "dirlink"):
            if os.path.islink(data(pod, n)):
                os.unlink(data(pod, n))


def test_code_file_symlink_is_replaced_not_followed(pod):
    victim = os.path.join(os.path.dirname(pod.main.data), "victim.txt")
    with open(victim, "w") as f:
        f.write("untouched")
    p = data(pod, "code.sh")
    if os.path.lexists(p):
        os.unlink(p)
    os.symlink(victim, p)
    res = pod.run("echo ran")
    assert res["stdout"] == "ran\n"
    assert open(victim).read() == "untouched"
    assert not os.path.islink(p)


def test_upload_nested_names_refuse_a_planted_directory_symlink(pod):
    """The harness's sidecar is a host process: a followed link would write on the host."""
    outside = os.path.join(os.path.dirname(pod.main.data), "outside-dir")
    os.makedirs(outside, exist_ok=True)
    os.symlink(outside, data(pod, "evil"))
    try:
        r = pod.sidecar.upload([("ok/fine.txt", b"ok"), ("evil/x.txt", b"evil")])
        assert r.status == 400, r.body
        assert "symlink" in r.json()["error"]
        assert os.listdir(outside) == []
        # nothing written, not even the safe part nor its directory
        assert not os.path.exists(data(pod, "ok"))
        r = pod.sidecar.upload([("evil/sub/x.txt", b"evil")])
        assert r.status == 400 and os.listdir(outside) == []
    finally:
        os.unlink(data(pod, "evil"))


# --------------------------------------------------------------------------
# Nested names in a real local pod, read back by Python user code


@pytest.fixture(scope="module")
def py_pod(build_dir):
    require_root_and_binaries(build_dir)
    with LocalPod("py", build_dir=build_dir) as p:
        yield p


def upload_status(pod, name, body=b"x"):
    try:
        pod.put_file(name, body)
        return 200
    except PodHTTPError as e:
        return e.status


def py(pod, code):
    r = pod.execute(code)
    assert r["exit_code"] == 0, r
    return r["stdout"]


def test_nested_upload_reaches_user_code(py_pod):
    blob = bytes(range(256)) * 4
    assert py_pod.put_file("notes/out.txt", b"nested hello") == {
        "uploaded": [{"name": "notes/out.txt", "size": 12}]}
    assert py_pod.put_file("a/b/c/d.bin", blob)["uploaded"][0]["name"] == "a/b/c/d.bin"
    out = py(py_pod, "import hashlib, json\n"
                     "t = open('/mnt/data/notes/out.txt').read()\n"
                     "h = hashlib.sha256(open('/mnt/data/a/b/c/d.bin', 'rb').read()).hexdigest()\n"
                     "open('/mnt/data/notes/more.txt', 'w').write('mine')\n"
                     "print(json.dumps([t, h]))")
    assert json.loads(out) == ["nested hello", hashlib.sha256(blob).hexdigest()]
    names = {f["name"]: f for f in py_pod.list_files(recursive=True)}
    assert names["notes/out.txt"]["size"] == 12
    assert names["a/b/c/d.bin"]["size"] == len(blob)
    assert "notes/more.txt" in names  # the sidecar's directory is user code's to write in
    assert py_pod.get_file("notes/out.txt") == b"nested hello"
    assert py_pod.get_file("a/b/c/d.bin") == blob
    # uploading again into existing directories replaces the file
    py_pod.put_file("notes/out.txt", b"v2")
    assert py_pod.get_file("notes/out.txt") == b"v2"


def test_nested_upload_depth(py_pod):
    assert upload_status(py_pod, "/".join(["e"] * 15 + ["ok.txt"])) == 200
    status = upload_status(py_pod, "/".join(["f"] * 16 + ["no.txt"]))
    assert 400 <= status < 500, status
    assert not any(f["name"].startswith("f/") for f in py_pod.list_files(recursive=True))


def test_nested_upload_through_planted_symlink_refused(py_pod):
    name = "x-%s.txt" % uuid.uuid4().hex
    assert py(py_pod, "import os\nos.symlink('/tmp', '/mnt/data/evil')\n"
                      "os.symlink('/etc', '/mnt/data/evil2')\nprint('planted')").strip() \
        == "planted"
    for target in ("evil/" + name, "evil/sub/" + name, "evil2/" + name):
        status = upload_status(py_pod, target, b"owned")
        assert 400 <= status < 500, (target, status)
    out = py(py_pod, "import os\nprint(os.path.exists('/tmp/%s'), os.path.exists('/tmp/sub'), "
                     "os.path.exists('/etc/%s'))" % (name, name))
    assert out.split() == ["False", "False", "False"], out
    assert not os.path.exists("/tmp/" + name) and not os.path.exists("/etc/" + name)
    assert not os.path.exists("/tmp/sub/" + name)


def test_nested_upload_with_a_file_in_the_way_refused(py_pod):
    py(py_pod, "open('/mnt/data/plain', 'w').write('plain')")
    status = upload_status(py_pod, "plain/x.txt")
    assert 400 <= status < 500, status
    assert py_pod.get_file("plain") == b"plain"
