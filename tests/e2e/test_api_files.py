"""kcr serve: /upload, /files, /download, DELETE (api-contract rules 7-9)."""
import os
import re
import urllib.parse

import requests

from api_util import start_server, server  # noqa: F401

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{19}[A-Za-z0-9]")


def test_upload_single_file_field(server):
    r = server.upload("data.csv", b"a,b\n1,2\n", content_type="text/csv")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == "success"
    assert ID.fullmatch(body["session_id"])
    assert len(body["files"]) == 1
    f = body["files"][0]
    assert ID.fullmatch(f["fileId"]) and f["filename"] == "data.csv"
    d = server.get(f"/download/{body['session_id']}/{f['fileId']}")
    assert d.status_code == 200 and d.content == b"a,b\n1,2\n"
    assert d.headers["Content-Type"].startswith("text/csv")


def test_upload_many_files_field(server):
    files = [("files", ("a.txt", b"A")), ("files", ("b.txt", b"BB"))]
    r = server.post("/upload", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [f["filename"] for f in body["files"]] == ["a.txt", "b.txt"]
    listing = server.get(f"/files/{body['session_id']}?detail=simple").json()
    assert sorted(x["name"] for x in listing) == ["a.txt", "b.txt"]


def test_file_field_wins_over_files(server):
    files = [("files", ("ignored.txt", b"x")), ("file", ("kept.txt", b"y"))]
    body = server.post("/upload", files=files).json()
    assert [f["filename"] for f in body["files"]] == ["kept.txt"]


def test_upload_without_file_is_422(server):
    r = server.post("/upload", files={"other": ("x.txt", b"x")})
    assert r.status_code == 422
    body = r.json()
    assert body["error_type"] == "validation"
    assert body["details"][0]["field"] == "body -> files"


def test_filename_sanitising(server):
    cases = {
        # Relative paths are kept, each component sanitised (docs/api.md).
        "../../etc/passwd": "etc/passwd",
        "/abs/x.txt": "abs/x.txt",
        "my data (1).csv": "my_data__1_.csv",
        ".bashrc": "_.bashrc",
        "dir/sub/ok.txt": "dir/sub/ok.txt",
        "notes/.git/config": "notes/_.git/config",
        "a..b.txt": "a_.b.txt",
        "héllo.txt": "h__llo.txt",
    }
    for raw, want in cases.items():
        r = server.upload(raw, b"x")
        assert r.status_code == 200, (raw, r.text)
        assert r.json()["files"][0]["filename"] == want, raw
    long = "a" * 300 + ".csv"
    got = server.upload(long, b"x").json()["files"][0]["filename"]
    assert len(got.encode()) <= 255 and got.endswith(".csv")


def test_chunked_upload_without_content_length(server):
    boundary = "----kcrtestboundary"
    payload = os.urandom(300_000)

    def body():
        yield f"--{boundary}\r\n".encode()
        yield b'Content-Disposition: form-data; name="entity_id"\r\n\r\nagent_chunked\r\n'
        yield f"--{boundary}\r\n".encode()
        yield b'Content-Disposition: form-data; name="file"; filename="blob.bin"\r\n'
        yield b"Content-Type: application/octet-stream\r\n\r\n"
        for i in range(0, len(payload), 7000):
            yield payload[i:i + 7000]
        yield f"\r\n--{boundary}--\r\n".encode()

    r = server.post("/upload", data=body(), headers=server.headers(**{
        "Content-Type": f"multipart/form-data; boundary={boundary}"}))
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in r.request.headers
    assert r.status_code == 200, r.text
    body_ = r.json()
    d = server.get(f"/download/{body_['session_id']}/{body_['files'][0]['fileId']}")
    assert d.content == payload
    # entity_id from the chunked form was honoured: the next upload reuses the session.
    again = server.upload("x.txt", b"x", entity_id="agent_chunked").json()
    assert again["session_id"] == body_["session_id"]


def test_upload_limits_give_413_before_storing():
    s = start_server({"MAX_FILE_SIZE_MB": "1", "MAX_FILES_PER_SESSION": "2"})
    try:
        r = s.upload("big.bin", b"x" * (1024 * 1024 + 1))
        assert r.status_code == 413, r.text
        assert r.json()["error_type"] == "resource_exhausted"
        assert "big.bin" in r.json()["error"]
        files = [("files", (f"f{i}.txt", b"x")) for i in range(3)]
        r = s.post("/upload", files=files)
        assert r.status_code == 413
        assert "Too many files" in r.json()["error"]
        # Chunked too (no Content-Length to refuse early).
        r = s.post("/upload", data=iter([b"--bnd\r\nContent-Disposition: form-data; name=\"file\";"
                                         b" filename=\"c.bin\"\r\n\r\n", b"y" * (1024 * 1024 + 10),
                                         b"\r\n--bnd--\r\n"]),
                   headers=s.headers(**{"Content-Type": "multipart/form-data; boundary=bnd"}))
        assert r.status_code == 413
        # Nothing was stored: no blob and no session directory exists.
        blobs = os.path.join(s.data_dir, "blobs")
        stored = [d for d in os.listdir(blobs) if not d.startswith(".")]
        assert stored == []
        assert os.listdir(os.path.join(blobs, ".tmp")) == []
        ok = s.upload("ok.bin", b"x" * 1000)
        assert ok.status_code == 200
    finally:
        s.cleanup()


def test_listing_forms(server):
    up = server.upload("report.csv", b"1,2,3\n").json()
    sid, fid = up["session_id"], up["files"][0]["fileId"]

    r = server.get(f"/files/{sid}?detail=summary")
    assert r.status_code == 200
    assert r.headers.get("Connection", "").lower() == "close"
    [e] = r.json()
    assert e["name"] == f"{sid}/{fid}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["lastModified"])

    [e] = server.get(f"/files/{sid}?detail=simple").json()
    assert e == {"id": fid, "name": "report.csv", "path": "/report.csv"}

    for q in ("", "?detail=full"):
        r = server.get(f"/files/{sid}{q}")
        assert r.headers.get("Connection", "").lower() == "close"
        [e] = r.json()
        assert e["id"] == fid and e["session_id"] == sid and e["size"] == 6
        assert e["name"] == f"{sid}/{fid}"
        assert e["etag"] == f'"{fid}"'
        assert e["metadata"]["original-filename"] == "report.csv"
        assert e["contentType"] == e["metadata"]["content-type"]
        assert e["content"] is None

    r = server.get("/files/Unknown0123456789abcd?detail=summary")
    assert r.status_code == 200 and r.json() == []
    assert r.headers.get("Connection", "").lower() == "close"


def test_download_headers_and_unicode_names(server):
    for name, want_ascii in (("plot.png", "plot.png"), ("résumé café.txt", None),
                             ("数据.csv", None)):
        up = server.upload(name, b"\x89PNG\r\n" if name.endswith(".png") else b"hello")
        sid, fid = up.json()["session_id"], up.json()["files"][0]["fileId"]
        stored = up.json()["files"][0]["filename"]
        r = server.get(f"/download/{sid}/{fid}?kind=user&id=someone")
        assert r.status_code == 200
        cd = r.headers["Content-Disposition"]
        m = re.fullmatch(r"attachment; filename=\"([^\"]*)\"; filename\*=UTF-8''(\S+)", cd)
        assert m, cd
        assert all(c.isascii() for c in m.group(1))
        assert urllib.parse.unquote(m.group(2)) == stored
        if want_ascii:
            assert m.group(1) == want_ascii
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert r.headers["Access-Control-Expose-Headers"] == "Content-Disposition"
        assert r.headers["Cache-Control"] == "private, max-age=3600"
        if name.endswith(".png"):
            assert r.headers["Content-Type"] == "image/png"


def test_download_disposition_of_unicode_output_name(server):
    """Names with non-ASCII characters reach the disposition header intact
    through the RFC 5987 form (outputs keep their names unsanitised)."""
    from api_util import have_pods
    if not have_pods():
        import pytest
        pytest.skip("needs local pods to create an output file")
    r = server.exec("open('données é.txt','w').write('ok')")
    assert r.status_code == 200, r.text
    [f] = r.json()["files"]
    assert f["name"] == "données é.txt"
    d = server.get(f"/download/{r.json()['session_id']}/{f['id']}")
    cd = d.headers["Content-Disposition"]
    assert "filename*=UTF-8''donn%C3%A9es%20%C3%A9.txt" in cd, cd
    assert 'filename="donnees_e.txt"' in cd, cd


def test_download_preflight_and_404(server):
    r = requests.options(server.url + "/download/abc/def", timeout=10)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"
    assert r.headers["Access-Control-Allow-Headers"] == "x-api-key, Content-Type"
    assert r.headers["Access-Control-Max-Age"] == "3600"
    r = server.get("/download/Unknown0123456789abcd/Unknown0123456789abcd")
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "File not found" and body["error_type"] == "resource_not_found"


def test_delete_file(server):
    up = server.upload("gone.txt", b"bye").json()
    sid, fid = up["session_id"], up["files"][0]["fileId"]
    r = server.delete(f"/files/{sid}/{fid}")
    assert r.status_code == 200 and r.content == b""
    assert server.get(f"/download/{sid}/{fid}").status_code == 404
    assert server.get(f"/files/{sid}").json() == []
    r = server.delete(f"/files/{sid}/{fid}")
    assert r.status_code == 404 and r.json()["error"] == "File not found"


def test_entity_id_reuses_upload_session(server):
    a = server.upload("one.txt", b"1", entity_id="agent_abc").json()
    b = server.upload("two.txt", b"2", entity_id="agent_abc").json()
    c = server.upload("three.txt", b"3").json()
    assert a["session_id"] == b["session_id"] != c["session_id"]


def test_upload_batch(server):
    files = [("file", ("a b.txt", b"A")), ("file", ("c.csv", b"1,2\n"))]
    r = server.post("/upload/batch", files=files, data={"kind": "user", "id": "user-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == "success" and body["succeeded"] == 2 and body["failed"] == 0
    sid = body["storage_session_id"]
    assert [(f["status"], f["filename"]) for f in body["files"]] == [
        ("success", "a_b.txt"), ("success", "c.csv")]
    d = server.get(f"/download/{sid}/{body['files'][1]['fileId']}")
    assert d.content == b"1,2\n"


def test_nested_upload_names_are_kept(server):
    """A relative path is kept, each component sanitised (LibreChat v0.8.7
    sends filename="dir/name.py"); a path deeper than 16 levels is a 400 and
    nothing of that upload is stored."""
    up = server.upload("src/pkg/main v2.py", b"print(1)\n").json()
    assert up["files"][0]["filename"] == "src/pkg/main_v2.py"
    [e] = server.get(f"/files/{up['session_id']}?detail=simple").json()
    assert e["name"] == "src/pkg/main_v2.py"
    deep = "/".join(["d"] * 17) + "/x.txt"
    r = server.post("/upload", files=[("files", ("ok.txt", b"x")), ("files", (deep, b"x"))])
    assert r.status_code == 400, r.text
    assert r.json()["details"][0]["code"] == "path_too_deep"


def test_session_object_check(server):
    """GET /sessions/{sid}/objects/{fid}: LibreChat's freshness test reads
    lastModified (re-uploading past 23 hours); unknown ids are 404."""
    import datetime
    up = server.upload("fresh.csv", b"a,b\n").json()
    sid, fid = up["session_id"], up["files"][0]["fileId"]
    for base in ("", "/v1"):
        r = server.get(f"{base}/sessions/{sid}/objects/{fid}?kind=user&id=someone")
        assert r.status_code == 200, r.text
        b = r.json()
        assert b["id"] == fid and b["storage_session_id"] == sid
        assert b["name"] == "fresh.csv" and b["size"] == 4
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", b["lastModified"])
        when = datetime.datetime.strptime(b["lastModified"], "%Y-%m-%dT%H:%M:%S.%fZ")
        age = datetime.datetime.utcnow() - when
        assert datetime.timedelta(0) <= age < datetime.timedelta(minutes=5), age
    assert server.get(f"/sessions/{sid}/objects/NoSuchFile0123456789a").status_code == 404
    assert server.get(f"/sessions/NoSuchSession12345678/objects/{fid}").status_code == 404
    assert server.get(f"/sessions/{sid}/objects/{fid}?kind=nope&id=x").status_code == 400
    assert server.delete(f"/files/{sid}/{fid}").status_code == 200
    assert server.get(f"/sessions/{sid}/objects/{fid}").status_code == 404


def test_upload_identity_fields_are_kept(server):
    """kind/id/version of an upload are stored with its files and listed."""
    r = server.post("/upload", files={"file": ("skill.md", b"# s\n")},
                    data={"kind": "skill", "id": "skill_1", "version": "7"})
    assert r.status_code == 200, r.text
    sid = r.json()["storage_session_id"]
    [e] = server.get(f"/files/{sid}").json()
    assert (e["kind"], e["resource_id"], e["version"], e["storage_session_id"]) == \
        ("skill", "skill_1", "7", sid)
    [e] = server.get(f"/files/{sid}?detail=simple").json()
    assert e["kind"] == "skill"
    bad = server.post("/upload", files={"file": ("x", b"x")}, data={"kind": "robot", "id": "x"})
    assert bad.status_code == 400
    bad = server.post("/upload", files={"file": ("x", b"x")}, data={"kind": "agent"})
    assert bad.status_code == 400
