#!/bin/sh
# Builds the runtime directory that local pods bind read-only at /opt/kcr:
#   bin/           version-agnostic names, as the language images provide them
#                  (python -> /usr/bin/python3, tsc -> ../node_modules/...)
#   node_modules/  the npm libraries for js/ts, `npm ci` of runtime/package-lock.json
#   ts-runner.js   the TypeScript runner (type-check, compile to /tmp, run)
#   ts-runner.blob its V8 startup snapshot (+ .node-version of the node that made it)
#   forkserver.py  the fork-server template local pods start once (docs/local-pods.md)
#   python/        sitecustomize.py: /mnt/data goes last on sys.path; matplotlib/
#                  the font cache it seeds into each pod's MPLCONFIGDIR
# Usage: scripts/build-runtime.sh OUTDIR
# Idempotent: npm ci runs only when the lockfile changed since the last build.
set -eu
cd "$(dirname "$0")/.."
out=${1:?usage: build-runtime.sh OUTDIR}
src=runtime
mkdir -p "$out/bin"

# Program names the language table and users expect, pointing at Debian's
# binaries (never at ~/.cargo, pyenv or anything outside /usr, which pods
# cannot see).
link() { ln -sfn "$2" "$out/bin/$1"; }
link python /usr/bin/python3
link python3 /usr/bin/python3
link node /usr/bin/node
link nodejs /usr/bin/node
link tsc ../node_modules/typescript/bin/tsc

# npm libraries: reinstall only when the lockfile changes.
want=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)
have=$(cat "$out/node_modules/.kcr-lock-sha256" 2>/dev/null || true)
if [ "$want" != "$have" ] && ! command -v npm >/dev/null; then
    # make run / make test install nodejs first (deps/langs.txt); a plain make
    # on a machine without node still builds kcr. Retried on the next make.
    echo "build-runtime: warning: npm not found (install nodejs): no js/ts libraries" >&2
elif [ "$want" != "$have" ]; then
    echo "  NPM     $out/node_modules" >&2
    rm -rf "$out/node_modules" "$out/package.json" "$out/package-lock.json" "$out/.npm-tmp"
    mkdir -p "$out/.npm-tmp"
    cp "$src/package.json" "$src/package-lock.json" "$out/.npm-tmp/"
    (cd "$out/.npm-tmp" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error >&2) || {
        echo "build-runtime: npm ci failed; the js/ts libraries are missing" >&2
        rm -rf "$out/.npm-tmp"
        exit 1
    }
    mv "$out/.npm-tmp/node_modules" "$out/node_modules"
    mv "$out/.npm-tmp/package.json" "$out/.npm-tmp/package-lock.json" "$out/"
    rm -rf "$out/.npm-tmp"
    echo "$want" >"$out/node_modules/.kcr-lock-sha256"
fi

install -m 0644 "$src/ts-runner.js" "$out/ts-runner.js"
# V8 startup snapshot of the ts-runner (compiler loaded, declarations parsed):
# rebuilt when the runner, the libraries or node change. Optional: without it
# the runner compiles in-process, ~1.5 s slower per run.
stamp=$(cat "$src/ts-runner.js" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)
stamp="$stamp $(node --version 2>/dev/null || true)"
if [ -f "$out/node_modules/.kcr-lock-sha256" ] &&
    [ "$stamp" != "$(cat "$out/ts-runner.blob.stamp" 2>/dev/null || true)" ]; then
    echo "  SNAPSHOT $out/ts-runner.blob" >&2
    rm -f "$out/ts-runner.blob" "$out/ts-runner.blob.node-version" "$out/ts-runner.blob.stamp"
    if (cd "$out" && node --no-warnings --snapshot-blob ts-runner.blob.tmp \
            --build-snapshot ts-runner.js >&2); then
        mv "$out/ts-runner.blob.tmp" "$out/ts-runner.blob"
        node --version >"$out/ts-runner.blob.node-version"
        echo "$stamp" >"$out/ts-runner.blob.stamp"
    else
        rm -f "$out/ts-runner.blob.tmp"
        echo "build-runtime: warning: no ts-runner snapshot (TypeScript runs slower)" >&2
    fi
fi

mkdir -p "$out/python"
install -m 0644 "$src/python/sitecustomize.py" "$out/python/sitecustomize.py"
# The fork-server template (docs/local-pods.md), outside every sys.path.
install -m 0644 "$src/forkserver.py" "$out/forkserver.py"
# matplotlib's font cache, seeded into each pod's empty MPLCONFIGDIR by
# sitecustomize.py (fonts are the host's /usr/share/fonts, as in pods).
if [ ! -s "$out/python/matplotlib/.built" ] && /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    rm -rf "$out/python/matplotlib"
    mkdir -p "$out/python/matplotlib"
    if env -i PATH=/usr/bin:/bin HOME=/tmp MPLBACKEND=Agg MPLCONFIGDIR="$out/python/matplotlib" \
        /usr/bin/python3 -c 'import matplotlib.font_manager' >&2; then
        /usr/bin/python3 -c 'import matplotlib; print(matplotlib.__version__)' >"$out/python/matplotlib/.built"
    else
        echo "build-runtime: warning: no matplotlib font cache" >&2
    fi
fi
# uid 65532 reads everything; nobody but root writes.
chmod -R a+rX,go-w "$out"
