# shellcheck shell=bash disable=SC2034
# Sourced by the image test scripts (test-images.sh, test-k8s-sidecar.sh):
# the language table (lang-table.sh), their messages, and the options they
# share. Sets the shared options' defaults; the script then sets its own, and
# CHECK_NAMES=1 when the values land in JSON and kubectl arguments, defines
# script_option for the options only it takes, and calls parse_options "$@".

# shellcheck source=scripts/lang-table.sh
. "$(dirname "${BASH_SOURCE[0]}")/lang-table.sh"

REGISTRY=
TAG=latest
SIDECAR_IMAGE=
VERBOSE=0
langs=()

# The script's header comment, from line 2 to `set -euo`, as its --help.
usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}
die() {
    echo "$(basename "$0" .sh): $*" >&2
    exit 2
}
need() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi; }
# With CHECK_NAMES=1: a value keeps to image-name characters.
check_name() {
    [ "${CHECK_NAMES:-0}" = 0 ] || [[ "$2" =~ ^[A-Za-z0-9._:/@-]+$ ]] || die "$1: invalid value '$2'"
}
say() { [ "$VERBOSE" = 0 ] || echo "  $*" >&2; }

# One of the shared options at the front of "$@": applies it and sets
# OPT_SHIFT to the number of words it took; fails (OPT_SHIFT=0) for any other.
# -l LANG (repeatable), -r REGISTRY, -t TAG, --sidecar-image IMG, -v, -h.
common_option() {
    OPT_SHIFT=2
    case "$1" in
    -l | --lang)
        need "$@"
        lang_image "$2" >/dev/null || die "unknown language '$2' (one of: $KCR_LANGS)"
        langs+=("$2")
        ;;
    -r | --registry)
        need "$@"
        check_name "$1" "$2"
        REGISTRY=$2
        ;;
    -t | --tag)
        need "$@"
        check_name "$1" "$2"
        TAG=$2
        ;;
    --sidecar-image)
        need "$@"
        check_name "$1" "$2"
        SIDECAR_IMAGE=$2
        ;;
    -v | --verbose)
        VERBOSE=1
        OPT_SHIFT=1
        ;;
    -h | --help) usage ;;
    *)
        OPT_SHIFT=0
        return 1
        ;;
    esac
}

# The command line: each word a shared option or one of the script's own
# (script_option, which applies it and sets OPT_SHIFT as common_option does).
# Then every language unless -l named some, and the sidecar image named like
# the others unless --sidecar-image gave one.
parse_options() {
    while [ $# -gt 0 ]; do
        common_option "$@" || script_option "$@" || die "unknown argument '$1' (see --help)"
        shift "$OPT_SHIFT"
    done
    [ ${#langs[@]} -gt 0 ] || read -r -a langs <<<"$KCR_LANGS"
    [ -n "$SIDECAR_IMAGE" ] || SIDECAR_IMAGE=$(image_ref sidecar "$REGISTRY" "$TAG")
}
