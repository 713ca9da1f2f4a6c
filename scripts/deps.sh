#!/bin/sh
# Installs the Debian packages listed in deps/<group>.txt that are missing.
# Usage: scripts/deps.sh GROUP...   (groups: build, test, langs, ...)
set -eu
cd "$(dirname "$0")/.."
missing=""
for group in "$@"; do
    list="deps/$group.txt"
    [ -f "$list" ] || { echo "deps.sh: no package list '$list'" >&2; exit 2; }
    for pkg in $(sed -e 's/#.*//' "$list"); do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        case "$status" in *" installed") ;; *) missing="$missing $pkg" ;; esac
    done
done
# js/ts need npm for runtime/node_modules: NodeSource's nodejs bundles it,
# Debian's nodejs does not, so a plain Debian machine gets Debian's npm.
case " $* " in
*" langs "*) command -v npm >/dev/null 2>&1 || missing="$missing npm" ;;
esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages:$missing (run as root or install them)" >&2
    exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
