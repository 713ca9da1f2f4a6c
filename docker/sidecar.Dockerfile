# syntax=docker/dockerfile:1
# kcr-sidecar: the in-pod executor. kcr-sidecar and kcr-nsexec only; kcr-nsexec
# carries the file capabilities it needs to enter the main container
# (cap_sys_admin: setns/unshare, cap_sys_chroot: setns into a mount namespace,
# cap_sys_ptrace: open another user's /proc/<pid>/ns and root); the sidecar
# itself runs as 65532 with none. The pod must allow privilege escalation for
# the file capabilities to apply (guide section 15).
#
# Build context: the repository (Makefile, src/). With --build-arg PREBUILT=1 the
# context's prebuilt/ directory supplies binaries already built against the
# base image's libraries (used by offline tests on a local base).
ARG DEBIAN_RELEASE=trixie
ARG BASE=dhi.io/debian-base:${DEBIAN_RELEASE}

################################
# Stage 1: compile kcr-sidecar and kcr-nsexec
FROM ${BASE}-dev AS builder
ARG PREBUILT=0
ARG BUILD_PACKAGES="gcc make pkg-config libc6-dev libmicrohttpd-dev libunistring-dev libjansson-dev libcurl4-openssl-dev libxml2-dev libhiredis-dev libssl-dev libsqlite3-dev libseccomp-dev libcap-dev"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

COPY Makefile /src/Makefile
COPY src /src/src
COPY prebuilt /src/prebuilt
RUN mkdir -p /out && \
    if [ "${PREBUILT}" = 1 ]; then \
        cp /src/prebuilt/kcr-sidecar /src/prebuilt/kcr-nsexec /out/; \
    else \
        apt-get update && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${BUILD_PACKAGES} && \
        rm -rf /var/lib/apt/lists/* && \
        make -C /src BUILD=/tmp/b /tmp/b/kcr-sidecar /tmp/b/kcr-nsexec && \
        cp /tmp/b/kcr-sidecar /tmp/b/kcr-nsexec /out/; \
    fi && \
    chmod 0755 /out/kcr-sidecar /out/kcr-nsexec

################################
# Stage 2: runtime libraries (libcap2-bin for setcap), data dir
FROM ${BASE}-dev AS runtime-deps
ARG RUNTIME_PACKAGES="libmicrohttpd12t64 libjansson4 libcurl4t64 libsqlite3-0 libseccomp2 libcap2 libcap2-bin"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN mkdir -p /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /mnt/data /opt/kcr/bin && \
    chown 65532:65532 /mnt/data && \
    if [ -n "${RUNTIME_PACKAGES}" ]; then \
        apt-get update && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} && \
        rm -rf /var/lib/apt/lists/*; \
    fi

COPY --from=builder /out/kcr-sidecar /out/kcr-nsexec /opt/kcr/bin/

################################
# Stage 3: minimal runtime image
FROM ${BASE} AS final

COPY --from=runtime-deps /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu
COPY --from=runtime-deps /usr/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu
COPY --from=runtime-deps /opt/kcr/bin/kcr-sidecar /opt/kcr/bin/kcr-nsexec /usr/local/bin/
COPY --from=runtime-deps --chown=65532:65532 /mnt/data /mnt/data

# File capabilities are set in this stage: COPY does not reliably keep the
# security.capability attribute (the classic builder drops it, moby#20435).
# setcap is an exec-form RUN (no shell here) and needs root (CAP_SETFCAP);
# at run time the sidecar is 65532 without CAP_SETFCAP, so setcap is inert.
COPY --from=runtime-deps /usr/sbin/setcap /usr/sbin/setcap
USER 0
RUN ["/usr/sbin/setcap", "cap_sys_admin,cap_sys_chroot,cap_sys_ptrace+ep", "/usr/local/bin/kcr-nsexec"]

WORKDIR /mnt/data
USER 65532
EXPOSE 8080

# No env -i here: the sidecar is configured by the pod's environment
# (LANGUAGE, WORKING_DIR, SIDECAR_PORT, MAX_EXECUTION_TIME, NETWORK_ISOLATED);
# user code never sees it, it gets the main container's /proc/<pid>/environ.
ENV WORKING_DIR=/mnt/data SIDECAR_PORT=8080
ENTRYPOINT ["/usr/local/bin/kcr-sidecar"]
