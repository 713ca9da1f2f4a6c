# syntax=docker/dockerfile:1
# kcr-bash: main container for `bash` (DHI migration guide: bash needs a shell, so the
# final stage on -dev with USER 65532 last).
ARG DEBIAN_RELEASE=trixie
ARG BASE=dhi.io/debian-base:${DEBIAN_RELEASE}

################################
# Stage 1: data dir owned by the runtime user
FROM ${BASE}-dev AS runtime-deps

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN mkdir -p /mnt/data && chown 65532:65532 /mnt/data

################################
# Stage 2: final (-dev, with the shell and common tools)
FROM ${BASE}-dev AS final

# PACKAGES can be emptied for a base image that already has them (offline tests).
# python3: LibreChat v0.8.7 writes files into the sandbox with `lang: bash` and a
# `python3 - <<'PY'` heredoc (its writeSandboxFile).
ARG PACKAGES="bash coreutils bc file gawk jq sed grep findutils python3"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Lesson 2: no service may start during package installation.
RUN if [ -n "${PACKAGES}" ]; then \
        echo 'exit 101' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && \
        apt-get update && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES} && \
        rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d; \
    fi

COPY --from=runtime-deps --chown=65532:65532 /mnt/data /mnt/data

WORKDIR /mnt/data
USER 65532

ENTRYPOINT ["/usr/bin/env", "-i", \
    "PATH=/opt/kcr/bin:/usr/local/bin:/usr/bin:/bin", \
    "HOME=/tmp", \
    "TMPDIR=/tmp", \
    "LANG=C.UTF-8"]
CMD ["sleep", "infinity"]
