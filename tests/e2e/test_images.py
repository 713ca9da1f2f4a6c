"""The image scripts and Dockerfiles: argument parsing and image names (lesson
14), the pod manifests test-k8s-sidecar.sh applies (lesson 15), consistency
with the language table, and -- with a Docker engine started here -- a real
build of the sidecar and a main container on a local base, and the sidecar
test of test-images.sh (POST /execute through kcr-sidecar + kcr-nsexec)."""
import json
import os
import re
import subprocess

import pytest

from conftest import BUILD, ROOT
import images_util as iu

SCRIPTS = os.path.join(ROOT, "scripts")
ALL_IMAGES = ["python", "nodejs", "go", "java", "c-cpp", "php", "rust", "r", "fortran", "d",
              "bash", "sidecar", "api"]
LANGS = ["py", "js", "ts", "go", "java", "c", "cpp", "php", "rs", "r", "f90", "d", "bash"]


def script(name, *args, env=None, timeout=120):
    return subprocess.run([os.path.join(SCRIPTS, name), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


def built_tags(out):
    return [m.group(1) for m in re.finditer(r"docker build .*?-t (\S+)", out)]


# ---------------------------------------------------------------- build-images.sh

def test_build_images_default_names():
    r = script("build-images.sh", "-n")
    assert r.returncode == 0, r.stderr
    assert built_tags(r.stdout) == [f"kcr-{i}:latest" for i in ALL_IMAGES]
    for line in r.stdout.splitlines():
        img = re.search(r"-t kcr-(\S+):latest", line).group(1)
        df = "kcr" if img == "api" else img
        assert f"-f CONTEXT/docker/{df}.Dockerfile" in line


def test_build_images_registry_names_and_language_codes():
    r = script("build-images.sh", "-n", "-r", "ghcr.io/me/kubecoderun/", "-t", "v1.2",
               "py", "ts", "js", "c", "cpp", "rs", "f90", "sidecar")
    assert r.returncode == 0, r.stderr
    assert built_tags(r.stdout) == [
        "ghcr.io/me/kubecoderun-python:v1.2", "ghcr.io/me/kubecoderun-nodejs:v1.2",
        "ghcr.io/me/kubecoderun-c-cpp:v1.2", "ghcr.io/me/kubecoderun-rust:v1.2",
        "ghcr.io/me/kubecoderun-fortran:v1.2", "ghcr.io/me/kubecoderun-sidecar:v1.2"]


def test_build_images_bad_arguments():
    for args in (["nosuchlang"], ["-r"], ["-t", ""], ["--frobnicate"]):
        r = script("build-images.sh", "-n", *args)
        assert r.returncode == 2, (args, r.stdout)
        assert "build-images:" in r.stderr
    r = script("build-images.sh", "--help")
    assert r.returncode == 2 and "Usage: scripts/build-images.sh" in r.stderr
    # Languages that need apt-get cannot build on the offline base.
    r = script("build-images.sh", "-n", "--local-base", "python")
    assert r.returncode == 2 and "cannot build on the local base" in r.stderr


def test_build_images_local_base_arguments():
    r = script("build-images.sh", "-n", "--local-base", "bash", "sidecar")
    assert r.returncode == 0, r.stderr
    assert "docker import - kcr-localbase:trixie" in r.stdout
    for line in [l for l in r.stdout.splitlines() if l.startswith("docker build")]:
        assert "--build-arg BASE=kcr-localbase:trixie" in line
        assert "--build-arg PREBUILT=1" in line
        assert "--build-arg RUNTIME_PACKAGES= " in line


# ---------------------------------------------------------------- language table

def test_images_match_language_table():
    """Every language of src/common/lang.c has its image Dockerfile, and the
    scripts map the code to the same image."""
    table = iu.lang_table()
    assert sorted(c for c, _, _ in table) == sorted(LANGS)
    for code, image, _ in table:
        assert os.path.exists(os.path.join(ROOT, "docker", f"{image}.Dockerfile")), image
        out = subprocess.run(["bash", "-c", f'. scripts/lang-table.sh && lang_image {code}'],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        assert out == image, code


# Documented deviations of an image's env from lang.c (docs/images.md).
ENV_DEVIATIONS = {("go", "CGO_ENABLED")}


def test_image_env_matches_language_table():
    """The env -i ENTRYPOINT sets what the local backend gives user code:
    the same variables and values (PATH may add the toolchain's bin dir)."""
    for code, image, env in iu.lang_table():
        ep = iu.dockerfile_entrypoint(os.path.join(ROOT, "docker", f"{image}.Dockerfile"))
        assert ep[:2] == ["/usr/bin/env", "-i"], image
        got = dict(kv.split("=", 1) for kv in ep[2:])
        for k, v in env.items():
            if (code, k) in ENV_DEVIATIONS:
                assert k in got, (image, k)
                continue
            if k == "PATH":
                assert got["PATH"].startswith("/opt/kcr/bin:"), image
                assert got["PATH"].endswith(":/usr/local/bin:/usr/bin:/bin"), image
                continue
            assert got.get(k) == v, f"{image}.Dockerfile: {k}={got.get(k)!r}, lang.c {code}: {v!r}"


def test_language_images_follow_template():
    """Interpreted languages end on the minimal variant, compiled ones on -dev
    with USER 65532 last; all start `sleep infinity` through env -i."""
    minimal = {"python", "nodejs", "go", "php", "r"}
    for image in ["python", "nodejs", "go", "java", "c-cpp", "php", "rust", "r", "fortran", "d",
                  "bash"]:
        text = open(os.path.join(ROOT, "docker", f"{image}.Dockerfile")).read()
        froms = re.findall(r"^FROM (\S+)(?: AS (\S+))?", text, re.M)
        assert len(froms) >= 2, image  # multi-stage
        final_base, final_name = froms[-1]
        assert final_name == "final", image
        assert final_base.endswith("-dev") != (image in minimal), (image, final_base)
        assert all(b.endswith("-dev") for b, _ in froms[:-1]), image
        assert re.search(r'^CMD \["sleep", "infinity"\]$', text, re.M), image
        last_user = re.findall(r"^USER (\S+)", text, re.M)
        if image not in minimal:
            assert last_user and last_user[-1] == "65532", image
        assert re.search(r"ARG BASE=dhi\.io/", text), image


# ---------------------------------------------------------------- test-images.sh

def test_test_images_dry_run_commands():
    r = script("test-images.sh", "-n", "-l", "py", "-l", "c", "-r", "reg.example/kcr", "-t", "t1")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    # Docker-only test: the guide's command line.
    assert re.search(r"docker run --rm --network none -v \S+:/mnt/data -w /mnt/data "
                     r"--entrypoint /usr/bin/env reg\.example/kcr-python:t1 -i .* python code\.py",
                     out)
    assert "reg.example/kcr-c-cpp:t1" in out
    # Sidecar test: shared pid namespace, capabilities, user, volume, socket.
    side = [l for l in out.splitlines() if "kcr-test-sidecar-" in l and "docker run" in l]
    assert len(side) == 2
    for line in side:
        assert re.search(r"--pid container:kcr-test-main-\S+", line)
        assert "--cap-drop ALL --cap-add SYS_ADMIN --cap-add SYS_CHROOT --cap-add SYS_PTRACE" in line
        assert "--user 65532:65532" in line
        assert line.rstrip().endswith("reg.example/kcr-sidecar:t1")
    main = [l for l in out.splitlines() if "--name kcr-test-main-" in l]
    assert len(main) == 2
    for line in main:
        assert "--init" in line and "--user 65532:65532" in line
        assert "--cap-drop ALL --security-opt no-new-privileges --read-only" in line
    body = re.search(r"-d '(\{.*\})'", out).group(1)
    assert json.loads(body) == {"lang": "py", "timeout": 60,
                                "code": 'import sys\nprint("Hello from kcr", file=sys.stdout)\n'}


def test_test_images_bad_arguments():
    for args in (["-l", "cobol"], ["-l"], ["--no-sidecar", "--sidecar-only"], ["--what"]):
        r = script("test-images.sh", "-n", *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)


# ---------------------------------------------------------------- test-k8s-sidecar.sh

def render(tmp_path, *args):
    d = tmp_path / "manifests"
    r = script("test-k8s-sidecar.sh", "--render-only", str(d), *args)
    assert r.returncode == 0, r.stderr
    return {p.stem: json.loads(p.read_text()) for p in d.iterdir()}


def test_k8s_manifests_security_fields(tmp_path):
    pods = render(tmp_path)
    assert sorted(pods) == sorted(LANGS)
    for lang, pod in pods.items():
        spec = pod["spec"]
        assert pod["kind"] == "Pod" and spec["restartPolicy"] == "Never"
        assert spec["shareProcessNamespace"] is True
        assert spec["automountServiceAccountToken"] is False
        psc = spec["securityContext"]
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert psc["runAsUser"] == 65532 and psc["runAsGroup"] == 65532
        assert psc["runAsNonRoot"] is True and psc["fsGroup"] == 65532
        c = {x["name"]: x for x in spec["containers"]}
        assert sorted(c) == ["main", "sidecar"]
        main, side = c["main"]["securityContext"], c["sidecar"]["securityContext"]
        for sc in (main, side):
            assert sc["runAsUser"] == 65532 and sc["runAsNonRoot"] is True
            assert sc["capabilities"]["drop"] == ["ALL"]
        assert main["allowPrivilegeEscalation"] is False
        assert "add" not in main["capabilities"]
        assert side["allowPrivilegeEscalation"] is True
        assert sorted(side["capabilities"]["add"]) == ["SYS_ADMIN", "SYS_CHROOT", "SYS_PTRACE"]
        # The main container keeps the image's env -i ENTRYPOINT and sleep CMD.
        assert "command" not in c["main"] and "args" not in c["main"]
        env = {e["name"]: e["value"] for e in c["sidecar"]["env"]}
        assert env["LANGUAGE"] == lang and env["WORKING_DIR"] == "/mnt/data"
        vols = {v["name"]: v for v in spec["volumes"]}
        for x in c.values():
            m = [v for v in x["volumeMounts"] if v["mountPath"] == "/mnt/data"]
            assert len(m) == 1 and "emptyDir" in vols[m[0]["name"]]
            assert x["securityContext"]["readOnlyRootFilesystem"] is True
            assert x["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert c["main"]["volumeMounts"][0]["name"] == c["sidecar"]["volumeMounts"][0]["name"]
        assert any(v["mountPath"] == "/tmp" for v in c["main"]["volumeMounts"])
        assert c["sidecar"]["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_k8s_manifest_image_names(tmp_path):
    pods = render(tmp_path, "-l", "ts", "-l", "cpp", "-r", "ghcr.io/me/kcr", "-t", "9")
    assert sorted(pods) == ["cpp", "ts"]
    imgs = {k: [c["image"] for c in v["spec"]["containers"]] for k, v in pods.items()}
    assert imgs["ts"] == ["ghcr.io/me/kcr-nodejs:9", "ghcr.io/me/kcr-sidecar:9"]
    assert imgs["cpp"] == ["ghcr.io/me/kcr-c-cpp:9", "ghcr.io/me/kcr-sidecar:9"]
    pods = render(tmp_path, "-l", "py")
    assert [c["image"] for c in pods["py"]["spec"]["containers"]] == \
        ["kcr-python:latest", "kcr-sidecar:latest"]


def test_k8s_script_bad_arguments(tmp_path):
    for args in (["-l", "cobol"], ["-r", "bad name"], ["--pull-policy", "Sometimes"],
                 ["--timeout", "soon"], ["--bogus"]):
        r = script("test-k8s-sidecar.sh", "--render-only", str(tmp_path), *args)
        assert r.returncode == 2, (args, r.stdout)
    # Without a cluster it says so instead of hanging or passing.
    env = dict(os.environ, KUBECONFIG=str(tmp_path / "none"))
    r = script("test-k8s-sidecar.sh", "-l", "py", "--context", "nowhere", env=env, timeout=60)
    assert r.returncode == 2 and "no Kubernetes API reachable" in r.stderr


# ---------------------------------------------------------------- with a Docker engine

@pytest.fixture(scope="module")
def dockerd():
    if os.geteuid() != 0:
        pytest.skip("starting dockerd needs root")
    for b in ("kcr-sidecar", "kcr-nsexec"):
        if not os.path.exists(os.path.join(BUILD, b)):
            pytest.skip(f"{BUILD}/{b} not built")
    try:
        iu.ensure_dockerd_installed()
        d = iu.Dockerd(parent=BUILD)
        d.start()
    except iu.DockerdUnavailable as e:
        pytest.skip(f"no Docker engine: {e}")
    try:
        yield d
    finally:
        d.stop()
        assert not os.path.exists(d.dir)


@pytest.fixture(scope="module")
def local_images(dockerd):
    r = script("build-images.sh", "--local-base", "--prebuilt", BUILD, "bash", "sidecar", "api",
               env=dockerd.env(), timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    return dockerd


def test_docker_sidecar_image(local_images):
    d = local_images
    cfg = json.loads(d.docker("image", "inspect", "kcr-sidecar:latest").stdout)[0]["Config"]
    assert cfg["User"] == "65532"
    assert cfg["Entrypoint"] == ["/usr/local/bin/kcr-sidecar"]
    # kcr-nsexec carries exactly the guide's file capabilities (the local base has getcap).
    r = d.docker("run", "--rm", "--network", "none", "--entrypoint", "getcap",
                 "kcr-sidecar:latest", "/usr/local/bin/kcr-nsexec")
    caps = r.stdout.split(None, 1)[1].strip()
    assert sorted(caps.split("=")[0].split(",")) == \
        ["cap_sys_admin", "cap_sys_chroot", "cap_sys_ptrace"] and caps.endswith("=ep")
    # kcr-sidecar itself has none.
    r = d.docker("run", "--rm", "--network", "none", "--entrypoint", "getcap",
                 "kcr-sidecar:latest", "/usr/local/bin/kcr-sidecar")
    assert "cap_" not in r.stdout


def test_docker_main_image(local_images):
    d = local_images
    cfg = json.loads(d.docker("image", "inspect", "kcr-bash:latest").stdout)[0]["Config"]
    assert cfg["User"] == "65532"
    assert cfg["Cmd"] == ["sleep", "infinity"]
    assert cfg["Entrypoint"][:2] == ["/usr/bin/env", "-i"]
    assert cfg["WorkingDir"] == "/mnt/data"
    # The env -i entrypoint gives exactly its variables; /mnt/data belongs to 65532.
    r = d.docker("run", "--rm", "--network", "none", "-e", "LEAK=1", "kcr-bash:latest",
                 "sh", "-c", "env | sort; stat -c %u:%g /mnt/data; id -u")
    lines = r.stdout.split()
    assert "LEAK=1" not in lines and "HOME=/tmp" in lines and "TMPDIR=/tmp" in lines
    assert lines[-2:] == ["65532:65532", "65532"]


def test_docker_api_image(local_images):
    d = local_images
    cfg = json.loads(d.docker("image", "inspect", "kcr-api:latest").stdout)[0]["Config"]
    assert cfg["User"] == "65532"
    assert cfg["Entrypoint"] == ["/usr/local/bin/kcr"] and cfg["Cmd"] == ["serve"]
    r = d.docker("run", "--rm", "--network", "none", "kcr-api:latest", "--help")
    assert "lint-dockerfile" in r.stdout
    r = d.docker("run", "--rm", "--network", "none", "--entrypoint", "stat", "kcr-api:latest",
                 "-c", "%u", "/var/lib/kcr")
    assert r.stdout.strip() == "65532"


def test_docker_test_images_script(local_images):
    """test-images.sh against the local images: the docker-only test and the
    sidecar test (a real POST /execute through kcr-sidecar and kcr-nsexec)."""
    r = script("test-images.sh", "-l", "bash", "-v", env=local_images.env(), timeout=180)
    out = r.stdout + r.stderr
    assert re.search(r"^PASS bash\s+docker-only", r.stdout, re.M), out
    left = local_images.docker("ps", "-aq").stdout.split()
    vols = local_images.docker("volume", "ls", "-q").stdout.split()
    assert not left and not vols, "test-images.sh left containers or volumes behind"
    if re.search(r"^PASS bash\s+sidecar\s*$", r.stdout, re.M):
        # ... and user code saw exactly the image's env -i variables (lesson 6).
        assert re.search(r"^PASS bash\s+sidecar-env", r.stdout, re.M), out
        assert r.returncode == 0, out
        return
    pytest.fail(out[-3000:])


def test_scripts_pass_shellcheck():
    import shutil
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck not installed")
    r = subprocess.run(["shellcheck", "-x", "scripts/build-images.sh", "scripts/test-images.sh",
                        "scripts/test-k8s-sidecar.sh", "scripts/lang-table.sh",
                        "scripts/image-test-cli.sh"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout
