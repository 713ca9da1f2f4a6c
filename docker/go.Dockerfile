# syntax=docker/dockerfile:1
# kcr-go: main container for `go` (DHI migration guide lessons 6, 8, 10, 11, 13).
# Interpreted-style use (`go run`): builds on -dev, ends on the minimal image.
ARG GO_VERSION=1.25
ARG DEBIAN_VERSION=debian13
ARG BASE=dhi.io/golang:${GO_VERSION}-${DEBIAN_VERSION}

################################
# Stage 1: pre-download common modules
FROM ${BASE}-dev AS builder

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV GOPATH=/go GOMODCACHE=/go/pkg/mod
# Lesson 11: no --mount=type=cache here, the final image needs /go/pkg/mod.
COPY docker/requirements/go.mod /build/go.mod
# module@version arguments: no go.sum needed for the download.
RUN cd /build && \
    mods="$(awk '/^require \(/{r=1; next} r && /^\)/{r=0} r && NF >= 2 {print $1 "@" $2}' go.mod)" && \
    test -n "${mods}" && \
    go mod download ${mods} && \
    test -d /go/pkg/mod

################################
# Stage 2: data dir owned by the runtime user
FROM ${BASE}-dev AS runtime-deps

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN mkdir -p /mnt/data /opt/kcr/bin && chown 65532:65532 /mnt/data && \
    ln -sf /usr/local/go/bin/go /opt/kcr/bin/go && \
    ln -sf /usr/local/go/bin/gofmt /opt/kcr/bin/gofmt

################################
# Stage 3: minimal runtime image
FROM ${BASE} AS final

# Lesson 10: modules downloaded as root must belong to the runtime user.
COPY --from=builder --chown=65532:65532 /go/pkg/mod /go/pkg/mod
COPY --from=runtime-deps /opt/kcr /opt/kcr

COPY --from=runtime-deps /usr/bin/env /usr/bin/sleep /usr/bin/
COPY --from=runtime-deps --chown=65532:65532 /mnt/data /mnt/data

WORKDIR /mnt/data

# GOCACHE is under /tmp (not /mnt/data as in the guide) so build-cache files
# are never returned to the user as outputs; /tmp is writable by 65532.
# GOMODCACHE points at the pre-downloaded modules. CGO_ENABLED=0 (lang.c has 1
# for Debian's toolchain): the minimal image has no C compiler.
ENTRYPOINT ["/usr/bin/env", "-i", \
    "PATH=/opt/kcr/bin:/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin", \
    "HOME=/tmp", \
    "TMPDIR=/tmp", \
    "LANG=C.UTF-8", \
    "GOPATH=/tmp/go", \
    "GOMODCACHE=/go/pkg/mod", \
    "GOCACHE=/tmp/go-build", \
    "GOPROXY=off", \
    "GOSUMDB=off", \
    "GOFLAGS=-mod=mod", \
    "GOTOOLCHAIN=local", \
    "CGO_ENABLED=0"]
CMD ["sleep", "infinity"]
