# syntax=docker/dockerfile:1
# kcr-php: main container for `php` (DHI migration guide lessons 5, 6, 8, 13, 16).
# Interpreted language: builds on -dev, ends on the minimal image (no shell).
# Lesson 16: the PHP version appears in the tag and in install paths, so it is an ARG.
ARG PHP_MAJOR=8.4
ARG DEBIAN_VERSION=debian13
ARG BASE=dhi.io/php:${PHP_MAJOR}-${DEBIAN_VERSION}

################################
# Stage 1: version-agnostic name and data dir
FROM ${BASE}-dev AS builder
ARG PHP_MAJOR

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV PHP_HOME=/opt/php-${PHP_MAJOR}

# Lesson 5: PHP lives in /opt/php-<major.minor>; ENTRYPOINT uses /opt/php.
RUN test -x "${PHP_HOME}/bin/php" && \
    ln -sf "${PHP_HOME}" /opt/php && \
    mkdir -p /opt/kcr/bin /mnt/data && chown 65532:65532 /mnt/data && \
    ln -sf /opt/php/bin/php /opt/kcr/bin/php

################################
# Stage 2: minimal runtime image
FROM ${BASE} AS final
ARG PHP_MAJOR

# The versioned directory (with its extensions) and the symlink to it.
COPY --from=builder /opt/php-${PHP_MAJOR}/lib/php/extensions/ /opt/php-${PHP_MAJOR}/lib/php/extensions/
COPY --from=builder /opt/php /opt/php
COPY --from=builder /opt/kcr /opt/kcr

COPY --from=builder /usr/bin/env /usr/bin/sleep /usr/bin/
COPY --from=builder --chown=65532:65532 /mnt/data /mnt/data

WORKDIR /mnt/data

ENTRYPOINT ["/usr/bin/env", "-i", \
    "PATH=/opt/kcr/bin:/opt/php/bin:/usr/local/bin:/usr/bin:/bin", \
    "HOME=/tmp", \
    "TMPDIR=/tmp", \
    "LANG=C.UTF-8"]
CMD ["sleep", "infinity"]
