"""`kcr lint-dockerfile`: the project's own Dockerfiles lint clean, findings
come out as FILE:LINE: [rule] lesson N: ...; fix: ..., exit statuses."""
import os
import re
import subprocess

import pytest

from conftest import BUILD, ROOT

KCR = os.path.join(BUILD, "kcr")
LINE_RE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): \[(?P<rule>[a-z0-9-]+)\] "
                     r"(?:lesson (?P<lesson>\d+): )?(?P<msg>.+); fix: (?P<fix>.+)$")

# The guide's "Dockerfile Template", verbatim (comment lines inside the
# continuations included): the linter must accept it.
GUIDE_TEMPLATE = r'''# syntax=docker/dockerfile:1
FROM dhi.io/python:3.14-debian13-dev AS builder

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    gcc g++ make pkg-config python3-dev \
    # Add your -dev libraries here
    && rm -rf /var/lib/apt/lists/*

# Install Python packages
COPY requirements.txt /tmp/
RUN pip install -r /tmp/requirements.txt

################################
FROM dhi.io/python:3.14-debian13-dev AS runtime-deps

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN mkdir -p /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /mnt/data && \
    chown 65532:65532 /mnt/data && \
    apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    # Add runtime libraries here (no -dev packages)
    && rm -rf /var/lib/apt/lists/*

################################
FROM dhi.io/python:3.14-debian13 AS final

# Copy runtime libraries
COPY --from=runtime-deps /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu
COPY --from=runtime-deps /usr/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu

# Copy Python packages (note: /opt/python, not /usr/local)
COPY --from=builder /opt/python/lib/python3.14/site-packages /opt/python/lib/python3.14/site-packages
COPY --from=builder /opt/python/bin /opt/python/bin

# Copy /usr/bin/env for sidecar execution, sleep for default CMD
COPY --from=runtime-deps /usr/bin/env /usr/bin/sleep /usr/bin/

# Copy data directory with correct ownership
COPY --from=runtime-deps /mnt/data /mnt/data

WORKDIR /mnt/data

# Sanitized environment via env -i (required for sidecar runtime env detection)
ENTRYPOINT ["/usr/bin/env", "-i", \
    "PATH=/opt/python/bin:/usr/bin:/bin", \
    "HOME=/tmp", \
    "TMPDIR=/tmp", \
    "PYTHONUNBUFFERED=1"]
CMD ["sleep", "infinity"]
'''

# Breaks several lessons at known lines.
BAD = '''FROM dhi.io/golang:1.25-debian13-dev AS builder
RUN --mount=type=cache,target=/go/pkg/mod go mod download
RUN apt-get install -y libssl3 \\
    libcairo2-dev
FROM dhi.io/golang:1.25-debian13 AS final
COPY --from=builder /go/pkg/mod /go/pkg/mod
ENTRYPOINT ["/usr/bin/env", "PATH=/usr/local/go/bin"]
CMD ["sleep", "infinity"]
'''


def lint(*args, cwd=ROOT):
    return subprocess.run([KCR, "lint-dockerfile", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def repo_dockerfiles():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                          "*Dockerfile", "*.Dockerfile", "*Dockerfile.*"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return out


def test_project_dockerfiles_lint_clean():
    files = repo_dockerfiles()
    assert len([f for f in files if f.startswith("docker/")]) >= 13, files
    r = lint(*files)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""


def test_make_lint_dockerfiles_target():
    r = subprocess.run(["make", "--no-print-directory", f"BUILD={BUILD}", "lint-dockerfiles"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"lint-dockerfiles: \d+ files clean", r.stdout), r.stdout


def test_guide_template_is_clean(tmp_path):
    p = tmp_path / "template.Dockerfile"
    p.write_text(GUIDE_TEMPLATE)
    r = lint(str(p))
    assert r.returncode == 0, r.stdout


def test_findings_format_lines_and_exit_status(tmp_path):
    p = tmp_path / "bad.Dockerfile"
    p.write_text(BAD)
    r = lint(str(p))
    assert r.returncode == 1, r.stdout + r.stderr
    found = {}
    for line in r.stdout.splitlines():
        m = LINE_RE.match(line)
        assert m, f"badly formatted finding: {line!r}"
        assert m.group("path") == str(p)
        assert len(m.group("fix")) > 5
        found.setdefault(m.group("rule"), []).append((int(m.group("line")), m.group("lesson")))
    assert (2, "11") in found["cache-mount-copy"] or (6, "11") in found["cache-mount-copy"]
    assert (3, "9") in found["debian13-names"]
    assert (4, "1") in found["x11-packages"]
    assert (6, "10") in found["go-mod-chown"]
    assert (7, "6") in found["entrypoint-env"]  # env without -i, no HOME/TMPDIR
    assert (8, "13") in found["sleep-copied"]
    assert (5, "8") in found["mnt-data-owner"]
    assert "finding" in r.stderr


def test_ignore_comment_silences_one_rule(tmp_path):
    p = tmp_path / "x.Dockerfile"
    p.write_text("# kcr-lint ignore=final-user\nFROM dhi.io/rust:1-debian13-dev\n")
    assert lint(str(p)).returncode == 0
    p.write_text("FROM dhi.io/rust:1-debian13-dev\n")
    r = lint(str(p))
    assert r.returncode == 1 and "[final-user] lesson 8:" in r.stdout


def test_usage_and_io_errors(tmp_path):
    r = lint()
    assert r.returncode == 2 and "usage" in r.stderr
    r = lint("--bogus")
    assert r.returncode == 2
    r = lint(str(tmp_path / "missing.Dockerfile"))
    assert r.returncode == 2 and "missing.Dockerfile" in r.stderr
    # A readable file is still linted when another one fails.
    good = tmp_path / "good.Dockerfile"
    good.write_text(GUIDE_TEMPLATE)
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text(BAD)
    r = lint(str(tmp_path / "missing"), str(bad))
    assert r.returncode == 2 and "bad.Dockerfile:" in r.stdout
    r = lint("--help")
    assert r.returncode == 0 and "lint-dockerfile" in r.stdout
    binary = tmp_path / "bin.Dockerfile"
    binary.write_bytes(b"FROM x\0\n")
    assert lint(str(binary)).returncode == 2


def test_every_rule_is_documented():
    rules = lint("--rules").stdout.split()
    assert len(rules) >= 15
    doc = open(os.path.join(ROOT, "docs", "images.md")).read()
    missing = [r for r in rules if f"`{r}`" not in doc]
    assert not missing, f"rules not in docs/images.md: {missing}"


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(os.path.join(ROOT, "docker"))
                                        if f.endswith(".Dockerfile")))
def test_each_image_dockerfile_clean(name):
    r = lint(os.path.join("docker", name))
    assert r.returncode == 0, r.stdout
