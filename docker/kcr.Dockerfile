# syntax=docker/dockerfile:1
# kcr: the API server (`kcr serve`) on a minimal base, as the non-root user 65532.
# In Kubernetes it uses the kubernetes pod backend (pods are created through
# the API; no privileges needed here).
#
# Build context: the repository (Makefile, src/). With --build-arg PREBUILT=1 the
# context's prebuilt/ directory supplies a kcr binary already built against the
# base image's libraries (offline tests on a local base).
ARG DEBIAN_RELEASE=trixie
ARG BASE=dhi.io/debian-base:${DEBIAN_RELEASE}

################################
# Stage 1: compile kcr
FROM ${BASE}-dev AS builder
ARG PREBUILT=0
ARG BUILD_PACKAGES="gcc make pkg-config libc6-dev libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libxml2-dev libhiredis-dev libssl-dev libsqlite3-dev libseccomp-dev libcap-dev"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

COPY Makefile /src/Makefile
COPY src /src/src
COPY prebuilt /src/prebuilt
RUN mkdir -p /out && \
    if [ "${PREBUILT}" = 1 ]; then \
        cp /src/prebuilt/kcr /out/; \
    else \
        apt-get update && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${BUILD_PACKAGES} && \
        rm -rf /var/lib/apt/lists/* && \
        make -C /src BUILD=/tmp/b /tmp/b/kcr && \
        cp /tmp/b/kcr /out/; \
    fi && \
    chmod 0755 /out/kcr

################################
# Stage 2: runtime libraries and the data dir
FROM ${BASE}-dev AS runtime-deps
ARG RUNTIME_PACKAGES="libmicrohttpd12t64 libjansson4 libcurl4t64 libxml2 libhiredis1.1.0 libssl3t64 libsqlite3-0 libseccomp2 libcap2 ca-certificates"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN mkdir -p /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /var/lib/kcr /etc/ssl/certs && \
    chown 65532:65532 /var/lib/kcr && \
    if [ -n "${RUNTIME_PACKAGES}" ]; then \
        apt-get update && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} && \
        rm -rf /var/lib/apt/lists/*; \
    fi

################################
# Stage 3: minimal runtime image
FROM ${BASE} AS final

COPY --from=runtime-deps /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu
COPY --from=runtime-deps /usr/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu
COPY --from=runtime-deps /etc/ssl/certs /etc/ssl/certs
COPY --from=builder /out/kcr /usr/local/bin/kcr
COPY --from=runtime-deps --chown=65532:65532 /var/lib/kcr /var/lib/kcr

USER 65532
EXPOSE 8000
ENV KCR_POD_BACKEND=kubernetes KCR_DATA_DIR=/var/lib/kcr API_PORT=8000
ENTRYPOINT ["/usr/local/bin/kcr"]
CMD ["serve"]
