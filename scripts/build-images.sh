#!/bin/sh
# Builds kcr's container images from docker/*.Dockerfile (DHI migration guide,
# lesson 14: local names carry the kcr- prefix).
#
# Usage: scripts/build-images.sh [-r REGISTRY] [-t TAG] [-n] [--base IMAGE]
#                                [--prebuilt DIR] [--local-base] [LANG...]
#   LANG       an image (python nodejs go java c-cpp php rust r fortran d bash
#              sidecar api) or a language code (py js ts go java c cpp php rs r
#              f90 d bash); default: every image
#   -r REG     name images REG-<image>:TAG instead of kcr-<image>:TAG
#   -t TAG     image tag (default latest)
#   -n         print the docker commands instead of running them
#   --base IMG use IMG instead of the DHI base (build stages use IMG's "-dev" tag)
#   --prebuilt DIR   take kcr, kcr-sidecar, kcr-nsexec from DIR instead of
#              compiling them in the image (they must match the base's libraries)
#   --local-base     build an offline base image from this machine's files
#              (busybox-static, bash, setcap and the libraries of the --prebuilt
#              binaries) and use it; only bash, sidecar and api build on it.
#              Needs --prebuilt (default build/).
set -eu

cd "$(dirname "$0")/.."

PREFIX=kcr
REGISTRY=
TAG=latest
DRY=0
BASE=
PREBUILT=
LOCAL_BASE=0
LOCAL_BASE_IMAGE=${KCR_LOCAL_BASE_IMAGE:-kcr-localbase:trixie}
ALL_IMAGES="python nodejs go java c-cpp php rust r fortran d bash sidecar api"
# Images that build on the offline base (they need no package manager).
LOCAL_OK="bash sidecar api"

usage() {
    sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

die() {
    echo "build-images: $*" >&2
    exit 2
}

need() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi; }

# Language code or image name -> image name (src/common/lang.c `image` field).
image_of() {
    case "$1" in
    py | python) echo python ;;
    js | ts | javascript | typescript | node | nodejs) echo nodejs ;;
    go) echo go ;;
    java) echo java ;;
    c | cpp | c-cpp) echo c-cpp ;;
    php) echo php ;;
    rs | rust) echo rust ;;
    r) echo r ;;
    f90 | fortran) echo fortran ;;
    d) echo d ;;
    bash) echo bash ;;
    sidecar) echo sidecar ;;
    api | kcr) echo api ;;
    *) return 1 ;;
    esac
}

# Full name of an image: kcr-python:latest, or REG-python:TAG with -r.
image_name() {
    if [ -n "$REGISTRY" ]; then
        echo "${REGISTRY}-$1:${TAG}"
    else
        echo "${PREFIX}-$1:${TAG}"
    fi
}

dockerfile_of() {
    case "$1" in
    api) echo docker/kcr.Dockerfile ;;
    *) echo "docker/$1.Dockerfile" ;;
    esac
}

run() {
    if [ "$DRY" = 1 ]; then
        echo "$*"
    else
        "$@"
    fi
}

# The build context: only what the Dockerfiles COPY, so build dirs and
# node_modules never travel to the daemon.
make_context() {
    ctx=$1
    mkdir -p "$ctx/prebuilt"
    cp Makefile "$ctx/"
    cp -R src docker runtime "$ctx/"
    if [ -n "$PREBUILT" ]; then
        for b in kcr kcr-sidecar kcr-nsexec; do
            if [ -f "$PREBUILT/$b" ]; then cp "$PREBUILT/$b" "$ctx/prebuilt/"; fi
        done
    fi
}

# Copies a host file (following symlinks) to the same path under $root, /lib*
# going to /usr/lib* as in a merged-/usr Debian.
put() {
    case "$1" in
    /lib/* | /lib64/* | /bin/* | /sbin/*) dest="$root/usr$1" ;;
    *) dest="$root$1" ;;
    esac
    mkdir -p "$(dirname "$dest")"
    cp -L "$1" "$dest"
}

put_with_libs() {
    put "$1"
    for lib in $(ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^[[:space:]]*\/lib/{print $1}'); do
        put "$lib"
    done
}

# An offline stand-in for dhi.io/debian-base:trixie(-dev): merged /usr,
# busybox for the shell tools, bash for SHELL [...], setcap/getcap, and the
# libraries of the prebuilt kcr binaries. Tagged BASE and BASE-dev.
build_local_base() {
    if [ "$DRY" = 1 ]; then
        echo "tar -C ROOTFS -c . | docker import - $LOCAL_BASE_IMAGE"
        echo "docker tag $LOCAL_BASE_IMAGE ${LOCAL_BASE_IMAGE}-dev"
        return
    fi
    command -v busybox >/dev/null || die "--local-base needs busybox (apt-get install busybox-static)"
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/x86_64-linux-gnu" \
        "$root/usr/lib/aarch64-linux-gnu" "$root/usr/lib64" "$root/usr/local/bin" "$root/etc" \
        "$root/tmp" "$root/var/tmp" "$root/root" "$root/mnt" "$root/opt" "$root/proc" \
        "$root/sys" "$root/dev" "$root/run"
    chmod 1777 "$root/tmp" "$root/var/tmp"
    ln -s usr/bin "$root/bin"
    ln -s usr/sbin "$root/sbin"
    ln -s usr/lib "$root/lib"
    ln -s usr/lib64 "$root/lib64"
    cp "$(command -v busybox)" "$root/usr/bin/busybox"
    put_with_libs "$(command -v bash)"
    for tool in setcap getcap; do
        p=$(command -v "$tool" || true)
        [ -n "$p" ] || die "--local-base needs $tool (apt-get install libcap2-bin)"
        put_with_libs "$p"
    done
    for b in kcr kcr-sidecar kcr-nsexec; do
        if [ -f "$PREBUILT/$b" ]; then put_with_libs "$PREBUILT/$b"; fi
    done
    for applet in $(busybox --list); do
        [ -e "$root/usr/bin/$applet" ] || ln -s busybox "$root/usr/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
        >"$root/etc/passwd"
    printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
    tar -C "$root" -c . | docker import - "$LOCAL_BASE_IMAGE" >/dev/null
    docker tag "$LOCAL_BASE_IMAGE" "${LOCAL_BASE_IMAGE}-dev"
    rm -rf "$root"
    trap - EXIT
}

images=""
while [ $# -gt 0 ]; do
    case "$1" in
    -r | --registry)
        need "$@"
        REGISTRY=${2%/}
        shift 2
        ;;
    -t | --tag)
        need "$@"
        TAG=$2
        shift 2
        ;;
    -n | --dry-run)
        DRY=1
        shift
        ;;
    --base)
        need "$@"
        BASE=$2
        shift 2
        ;;
    --prebuilt)
        need "$@"
        PREBUILT=$2
        shift 2
        ;;
    --local-base)
        LOCAL_BASE=1
        shift
        ;;
    -h | --help) usage ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *)
        img=$(image_of "$1") || die "unknown language or image '$1'"
        case " $images " in *" $img "*) ;; *) images="$images $img" ;; esac
        shift
        ;;
    esac
done
[ -n "$images" ] || images=$ALL_IMAGES

if [ "$LOCAL_BASE" = 1 ]; then
    [ -n "$PREBUILT" ] || PREBUILT=build
    [ -n "$BASE" ] || BASE=$LOCAL_BASE_IMAGE
    for img in $images; do
        case " $LOCAL_OK " in *" $img "*) ;; *) die "'$img' cannot build on the local base (needs apt-get); only: $LOCAL_OK" ;; esac
    done
fi
if [ -n "$PREBUILT" ] && [ "$DRY" = 0 ]; then
    [ -d "$PREBUILT" ] || die "--prebuilt: '$PREBUILT' is not a directory"
fi

if [ "$LOCAL_BASE" = 1 ]; then
    build_local_base
fi


ctx=
if [ "$DRY" = 0 ]; then
    # Without the buildx plugin, new docker CLIs refuse to build unless the
    # classic builder is asked for; the Dockerfiles need nothing BuildKit-only.
    if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
        export DOCKER_BUILDKIT=0
    fi
    ctx=$(mktemp -d)
    trap 'rm -rf "$ctx"' EXIT
    make_context "$ctx"
else
    ctx=CONTEXT
fi

for img in $images; do
    set -- -f "$ctx/$(dockerfile_of "$img")" -t "$(image_name "$img")"
    [ -n "$BASE" ] && set -- "$@" --build-arg "BASE=$BASE"
    [ -n "$PREBUILT" ] && set -- "$@" --build-arg PREBUILT=1
    if [ "$LOCAL_BASE" = 1 ]; then
        # The local base has no apt-get and already holds the libraries.
        set -- "$@" --build-arg PACKAGES= --build-arg RUNTIME_PACKAGES= --build-arg BUILD_PACKAGES=
    fi
    echo "build-images: $(image_name "$img")" >&2
    run docker build "$@" "$ctx"
done
