# syntax=docker/dockerfile:1
# kcr-nodejs: main container for `js` and `ts` (DHI migration guide lessons 5, 6, 7, 8, 13).
# Interpreted language: builds on -dev stages, ends on the minimal image (no shell).
# TypeScript runs through /opt/kcr/ts-runner.js (lesson 7: no `tsc && node` shell chain).
ARG NODE_VERSION=24
ARG DEBIAN_VERSION=debian13
ARG BASE=dhi.io/node:${NODE_VERSION}-${DEBIAN_VERSION}

################################
# Stage 1: npm libraries, the TypeScript compiler and the ts-runner
FROM ${BASE}-dev AS builder

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Lesson 5: node lives in /opt/nodejs/node-v<version>; give it a stable name.
RUN ln -sf /opt/nodejs/node-* /opt/node && \
    test -x /opt/node/bin/node && \
    mkdir -p /opt/kcr/bin && \
    ln -sf /opt/node/bin/node /opt/kcr/bin/node && \
    ln -sf /opt/node/bin/node /opt/kcr/bin/nodejs && \
    ln -sf ../node_modules/typescript/bin/tsc /opt/kcr/bin/tsc

# The same libraries and lockfile as the local backend (runtime/, issue 5).
COPY runtime/package.json runtime/package-lock.json /opt/kcr/
RUN cd /opt/kcr && npm ci --omit=dev --no-audit --no-fund --ignore-scripts && \
    rm -rf /root/.npm && \
    chmod -R a+rX,go-w /opt/kcr
COPY runtime/ts-runner.js /opt/kcr/ts-runner.js
# V8 startup snapshot of the runner (compiler loaded, declarations parsed), as
# scripts/build-runtime.sh makes for local pods: saves 1.5-2 s per TypeScript
# run. Optional: without it the runner compiles in-process.
RUN cd /opt/kcr && \
    if node --no-warnings --snapshot-blob ts-runner.blob.tmp --build-snapshot ts-runner.js; then \
        mv ts-runner.blob.tmp ts-runner.blob && node --version > ts-runner.blob.node-version; \
    else \
        rm -f ts-runner.blob.tmp; echo "no ts-runner snapshot: TypeScript compiles in-process" >&2; \
    fi && \
    chmod -R a+rX,go-w /opt/kcr

################################
# Stage 2: data dir owned by the runtime user
FROM ${BASE}-dev AS runtime-deps

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN mkdir -p /mnt/data && chown 65532:65532 /mnt/data

################################
# Stage 3: minimal runtime image
FROM ${BASE} AS final

# The versioned directory is part of the base image; copy the symlink to it.
COPY --from=builder /opt/node /opt/node
COPY --from=builder /opt/kcr /opt/kcr

COPY --from=runtime-deps /usr/bin/env /usr/bin/sleep /usr/bin/
COPY --from=runtime-deps --chown=65532:65532 /mnt/data /mnt/data

WORKDIR /mnt/data

ENTRYPOINT ["/usr/bin/env", "-i", \
    "PATH=/opt/kcr/bin:/opt/node/bin:/usr/local/bin:/usr/bin:/bin", \
    "HOME=/tmp", \
    "TMPDIR=/tmp", \
    "LANG=C.UTF-8", \
    "NODE_PATH=/opt/kcr/node_modules", \
    "UV_USE_IO_URING=0"]
CMD ["sleep", "infinity"]
