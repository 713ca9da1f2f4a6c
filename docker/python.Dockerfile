# syntax=docker/dockerfile:1
# kcr-python: main container for `py` (DHI migration guide, template and lessons 3, 4, 6, 8, 13).
# Interpreted language: builds on -dev stages, ends on the minimal image (no shell).
# BASE can point at a local image for offline builds (-dev is appended for build stages).
ARG PYTHON_VERSION=3.14
ARG DEBIAN_VERSION=debian13
ARG BASE=dhi.io/python:${PYTHON_VERSION}-${DEBIAN_VERSION}

################################
# Stage 1: compile and install the Python packages
FROM ${BASE}-dev AS builder
ARG PYTHON_VERSION

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Lesson 2: no service may start during package installation.
RUN echo 'exit 101' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && \
    apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        gcc g++ make pkg-config \
        libxml2-dev libxslt1-dev zlib1g-dev libjpeg-dev libfreetype-dev libpng-dev \
    && rm -rf /var/lib/apt/lists/*

# numpy, pandas, matplotlib, scipy, scikit-learn, sympy, pillow, openpyxl,
# python-docx, reportlab, pypdf, opencv-headless, lxml, bs4, requests, tabulate.
# No cache mount (lesson 11): site-packages must land in this stage's layers.
COPY docker/requirements/python.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt && \
    test -d "/opt/python/lib/python${PYTHON_VERSION}/site-packages/numpy"

# matplotlib's font cache, built once here; sitecustomize.py seeds it into each
# pod's empty MPLCONFIGDIR (as local pods get it from scripts/build-runtime.sh).
RUN mkdir -p /opt/kcr/python/matplotlib && \
    MPLBACKEND=Agg MPLCONFIGDIR=/opt/kcr/python/matplotlib python -c 'import matplotlib.font_manager' && \
    ls /opt/kcr/python/matplotlib/fontlist-*.json

################################
# Stage 2: runtime libraries (no -dev packages), data dir, version-agnostic names
FROM ${BASE}-dev AS runtime-deps

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Lesson 4: both multi-arch dirs exist so the final COPYs work on amd64 and arm64.
# Lesson 8: /mnt/data belongs to 65532. Lesson 9: Debian 13 package names.
RUN mkdir -p /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /mnt/data /opt/kcr/bin && \
    chown 65532:65532 /mnt/data && \
    ln -sf /opt/python/bin/python3 /opt/kcr/bin/python && \
    ln -sf /opt/python/bin/python3 /opt/kcr/bin/python3 && \
    echo 'exit 101' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && \
    apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libxml2 libxslt1.1 zlib1g libjpeg62-turbo libfreetype6 libpng16-16t64 \
        libgomp1 libssl3t64 \
    && rm -rf /var/lib/apt/lists/*

################################
# Stage 3: minimal runtime image
FROM ${BASE} AS final
ARG PYTHON_VERSION

COPY --from=runtime-deps /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu
COPY --from=runtime-deps /usr/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu

# Lesson 3: DHI Python lives in /opt/python, not /usr/local.
COPY --from=builder /opt/python/lib/python${PYTHON_VERSION}/site-packages /opt/python/lib/python${PYTHON_VERSION}/site-packages
COPY --from=builder /opt/python/bin /opt/python/bin
COPY --from=runtime-deps /opt/kcr /opt/kcr
# PYTHONSAFEPATH=1 keeps /mnt/data/code.py from shadowing the stdlib's `code`
# module (sympy imports pdb, which imports code); this hook appends /mnt/data
# to sys.path instead (the same file local pods use).
COPY runtime/python/sitecustomize.py /opt/kcr/python/sitecustomize.py
COPY --from=builder /opt/kcr/python/matplotlib /opt/kcr/python/matplotlib

# Lessons 6 and 13: env for the ENTRYPOINT, sleep for the default CMD.
COPY --from=runtime-deps /usr/bin/env /usr/bin/sleep /usr/bin/
COPY --from=runtime-deps --chown=65532:65532 /mnt/data /mnt/data

WORKDIR /mnt/data

# Lesson 6: the sidecar reads this environment from /proc/<pid>/environ
# (the same variables as src/common/lang.c gives `py`, PATH plus /opt/python/bin).
ENTRYPOINT ["/usr/bin/env", "-i", \
    "PATH=/opt/kcr/bin:/opt/python/bin:/usr/local/bin:/usr/bin:/bin", \
    "HOME=/tmp", \
    "TMPDIR=/tmp", \
    "LANG=C.UTF-8", \
    "PYTHONUNBUFFERED=1", \
    "PYTHONDONTWRITEBYTECODE=1", \
    "MPLBACKEND=Agg", \
    "MPLCONFIGDIR=/tmp/matplotlib", \
    "PYTHONSAFEPATH=1", \
    "PYTHONPATH=/opt/kcr/python", \
    "OPENBLAS_NUM_THREADS=1"]
CMD ["sleep", "infinity"]
