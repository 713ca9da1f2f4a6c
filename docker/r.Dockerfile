# syntax=docker/dockerfile:1
# kcr-r: main container for `r` (DHI migration guide lessons 1, 2, 4, 6, 8, 13).
# Interpreted language: R is installed in a -dev stage and copied onto the
# minimal base. Rscript's front end ($R_HOME/bin/R) is a POSIX shell script, so
# dash is copied as /bin/sh with the four tools that script calls.
ARG DEBIAN_RELEASE=trixie
ARG BASE=dhi.io/debian-base:${DEBIAN_RELEASE}

################################
# Stage 1: R and its libraries (ggplot2 from Debian)
FROM ${BASE}-dev AS runtime-deps

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Lesson 1: init-system-helpers before anything that pulls x11-common.
# Lesson 2: no service may start. Lesson 4: both multi-arch dirs exist.
RUN mkdir -p /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /mnt/data /opt/kcr/bin \
        /usr/share/fonts && \
    chown 65532:65532 /mnt/data && \
    echo 'exit 101' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && \
    apt-get update && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends init-system-helpers && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        r-base-core r-cran-ggplot2 r-cran-jsonlite r-cran-dplyr \
    && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d && \
    ln -sf /usr/bin/Rscript /opt/kcr/bin/Rscript && \
    ln -sf /usr/bin/R /opt/kcr/bin/R

################################
# Stage 2: minimal runtime image
FROM ${BASE} AS final

COPY --from=runtime-deps /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu
COPY --from=runtime-deps /usr/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu
COPY --from=runtime-deps /usr/lib/R /usr/lib/R
COPY --from=runtime-deps /usr/lib/libR.so /usr/lib/libR.so
COPY --from=runtime-deps /usr/share/R /usr/share/R
COPY --from=runtime-deps /usr/share/fonts /usr/share/fonts
COPY --from=runtime-deps /etc/R /etc/R
COPY --from=runtime-deps /etc/alternatives /etc/alternatives
COPY --from=runtime-deps /opt/kcr /opt/kcr
# The R front end ($R_HOME/bin/R) is a POSIX sh script calling uname, sed
# (as /bin/sed), grep and expr.
COPY --from=runtime-deps /usr/bin/Rscript /usr/bin/R /usr/bin/dash /usr/bin/uname /usr/bin/sed /usr/bin/grep /usr/bin/expr /usr/bin/
COPY --from=runtime-deps /usr/bin/dash /bin/sh

COPY --from=runtime-deps /usr/bin/env /usr/bin/sleep /usr/bin/
COPY --from=runtime-deps --chown=65532:65532 /mnt/data /mnt/data

WORKDIR /mnt/data

ENTRYPOINT ["/usr/bin/env", "-i", \
    "PATH=/opt/kcr/bin:/usr/local/bin:/usr/bin:/bin", \
    "HOME=/tmp", \
    "TMPDIR=/tmp", \
    "LANG=C.UTF-8", \
    "R_HOME=/usr/lib/R"]
CMD ["sleep", "infinity"]
