"""kcr serve: kill -9 at any moment loses no acknowledged upload or output and
leaves no half-written file visible; a restart serves everything again."""
import os
import threading
import time

from api_util import have_pods, start_server


def visible_temporaries(data_dir):
    """Names a crash could leave half-written: anything temporary outside the
    unnamed-file directory (whose O_TMPFILE files have no names at all)."""
    found = []
    for root, dirs, files in os.walk(os.path.join(data_dir, "blobs")):
        for f in files:
            if f.startswith(".tmp"):
                found.append(os.path.join(root, f))
    return found


def test_kill9_during_uploads_and_executions_then_restart_serves_everything():
    s = start_server()
    acked = []
    stop = threading.Event()

    def uploader(n):
        i = 0
        while not stop.is_set():
            data = os.urandom(50_000 + i) + f"{n}-{i}".encode()
            try:
                r = s.upload(f"f{n}-{i}.bin", data)
            except Exception:
                return  # the server died mid-request: not acknowledged
            if r.status_code == 200:
                b = r.json()
                acked.append((b["session_id"], b["files"][0]["fileId"], data))
            i += 1

    outputs = []

    def executor(n):
        """Executions writing two files each, running when the kill comes."""
        i = 0
        while not stop.is_set():
            token = f"output {n}-{i} " + os.urandom(8).hex()
            code = (f"open('/mnt/data/a{n}.txt', 'w').write({token!r})\n"
                    f"open('/mnt/data/b{n}.bin', 'wb').write(bytes(range(256)) * {100 + i})\n")
            try:
                r = s.exec(code)
            except Exception:
                return  # died mid-request: not acknowledged
            if r.status_code == 200:
                b = r.json()
                by_name = {f["name"]: f["id"] for f in b["files"]}
                outputs.append((b["session_id"], by_name[f"a{n}.txt"], token.encode()))
                outputs.append((b["session_id"], by_name[f"b{n}.bin"],
                                bytes(range(256)) * (100 + i)))
            i += 1

    try:
        threads = [threading.Thread(target=uploader, args=(n,)) for n in range(4)]
        if have_pods():
            threads += [threading.Thread(target=executor, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        s.kill9()  # mid-flight: uploads and outputs half-received, half-stored
        stop.set()
        for t in threads:
            t.join(30)
        assert len(acked) > 5, "too few uploads acknowledged before the kill"
        if have_pods():
            assert len(outputs) >= 4, "too few executions acknowledged before the kill"
        assert visible_temporaries(s.data_dir) == []  # before the restart's sweep too

        s.start()
        for sid, fid, data in acked + outputs:
            r = s.get(f"/download/{sid}/{fid}")
            assert r.status_code == 200, (sid, fid)
            assert r.content == data
            names = [f["id"] for f in s.get(f"/files/{sid}?detail=simple").json()]
            assert fid in names
        assert visible_temporaries(s.data_dir) == []
    finally:
        stop.set()
        s.cleanup()
