# syntax=docker/dockerfile:1
# kcr-rust: main container for `rs` (DHI migration guide: compiled languages keep
# the -dev final stage for rustc and its linker, with USER 65532 last).
ARG RUST_VERSION=1
ARG DEBIAN_VERSION=debian13
ARG BASE=dhi.io/rust:${RUST_VERSION}-${DEBIAN_VERSION}

################################
# Stage 1: data dir and version-agnostic names
FROM ${BASE}-dev AS builder

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN mkdir -p /mnt/data /opt/kcr/bin && chown 65532:65532 /mnt/data && \
    rustc_path="$(command -v rustc)" && \
    ln -sf "${rustc_path}" /opt/kcr/bin/rustc

################################
# Stage 2: final (-dev: rustc, then the program)
FROM ${BASE}-dev AS final

COPY --from=builder /opt/kcr /opt/kcr
COPY --from=builder --chown=65532:65532 /mnt/data /mnt/data

WORKDIR /mnt/data
USER 65532

ENTRYPOINT ["/usr/bin/env", "-i", \
    "PATH=/opt/kcr/bin:/usr/local/cargo/bin:/usr/local/bin:/usr/bin:/bin", \
    "HOME=/tmp", \
    "TMPDIR=/tmp", \
    "LANG=C.UTF-8", \
    "RUSTUP_HOME=/usr/local/rustup", \
    "CARGO_HOME=/usr/local/cargo", \
    "CARGO_NET_OFFLINE=true"]
CMD ["sleep", "infinity"]
