# syntax=docker/dockerfile:1
# kcr-java: main container for `java` (DHI migration guide, 2-stage pattern for
# compiled languages: the final stage stays on -dev, USER 65532 last).
ARG JDK_VERSION=25
ARG DEBIAN_VERSION=debian13
ARG BASE=dhi.io/eclipse-temurin:${JDK_VERSION}-jdk-${DEBIAN_VERSION}

################################
# Stage 1: library dir and data dir
FROM ${BASE}-dev AS builder

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# /opt/java/lib holds extra jars (none shipped yet); /mnt/data belongs to 65532.
RUN mkdir -p /build/lib /mnt/data /opt/kcr/bin && chown 65532:65532 /mnt/data && \
    for tool in java javac jar jshell; do ln -sf "/opt/java/openjdk/bin/$tool" "/opt/kcr/bin/$tool"; done

################################
# Stage 2: final (-dev: javac then java run as two steps)
FROM ${BASE}-dev AS final

COPY --from=builder /build/lib /opt/java/lib
COPY --from=builder /opt/kcr /opt/kcr
COPY --from=builder --chown=65532:65532 /mnt/data /mnt/data

WORKDIR /mnt/data
USER 65532

# JVM options are arguments of the sidecar's steps (src/common/lang.c), not
# JAVA_TOOL_OPTIONS, which the JVM announces on stderr in every run.
ENTRYPOINT ["/usr/bin/env", "-i", \
    "PATH=/opt/kcr/bin:/opt/java/openjdk/bin:/usr/local/bin:/usr/bin:/bin", \
    "HOME=/tmp", \
    "TMPDIR=/tmp", \
    "LANG=C.UTF-8", \
    "JAVA_HOME=/opt/java/openjdk"]
CMD ["sleep", "infinity"]
