#!/usr/bin/env bash
# Runs each language image with kcr-sidecar in a Kubernetes pod that has the
# production security settings (DHI migration guide, lesson 15), executes a
# hello-world through the sidecar and reports pass/fail per language.
#
# Usage: scripts/test-k8s-sidecar.sh [-l LANG]... [--keep-pods] [-v]
#            [-r REGISTRY] [-t TAG] [--sidecar-image IMG] [--context CTX]
#            [--namespace NS] [--pull-policy P] [--timeout S] [--render-only DIR]
#   -l LANG          language code (py js ts go java c cpp php rs r f90 d bash);
#                    repeatable; default: all
#   --keep-pods      leave the pods for debugging (kubectl logs POD -c sidecar)
#   -v               show manifests and responses
#   -r, -t           image names as build-images.sh makes them (kcr-<image>:latest)
#   --context CTX    kubectl context (default: docker-desktop, or $KUBE_CONTEXT)
#   --pull-policy P  imagePullPolicy (default IfNotPresent: local kcr- images)
#   --render-only DIR  write the pod manifests (JSON) to DIR and stop: no cluster
#
# Each pod: shareProcessNamespace, seccomp RuntimeDefault, fsGroup 65532, no
# service-account token; container `main` (the language image: env -i ...
# sleep infinity) as 65532 with every capability dropped and no privilege
# escalation, read-only root with an emptyDir /tmp; container `sidecar` as
# 65532, drop ALL, add SYS_PTRACE, SYS_ADMIN, SYS_CHROOT,
# allowPrivilegeEscalation true (kcr-nsexec's file capabilities), read-only
# root; an emptyDir at /mnt/data shared by both (as src/pod/k8s-spec.c does). Code is sent as a
# real POST /execute through the API server's pod proxy.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/image-test-cli.sh
. "$here/image-test-cli.sh"

CONTEXT=${KUBE_CONTEXT:-docker-desktop}
NAMESPACE=default
PULL=IfNotPresent
TIMEOUT=120
KEEP=0
RENDER_DIR=
# Values land in JSON and kubectl arguments: keep them to image-name characters.
CHECK_NAMES=1

# The options only this script takes (see parse_options).
script_option() {
    OPT_SHIFT=2
    case "$1" in
    --context)
        need "$@"
        CONTEXT=$2
        ;;
    --namespace | -N)
        need "$@"
        check_name "$1" "$2"
        NAMESPACE=$2
        ;;
    --pull-policy)
        need "$@"
        case "$2" in Always | IfNotPresent | Never) ;; *) die "--pull-policy: Always, IfNotPresent or Never" ;; esac
        PULL=$2
        ;;
    --timeout)
        need "$@"
        [[ "$2" =~ ^[0-9]+$ ]] || die "--timeout: seconds"
        TIMEOUT=$2
        ;;
    --keep-pods)
        KEEP=1
        OPT_SHIFT=1
        ;;
    --render-only | --dry-run)
        need "$@"
        RENDER_DIR=$2
        ;;
    *) return 1 ;;
    esac
}
parse_options "$@"

# The pod for one language (JSON; kubectl accepts it as a manifest).
render_pod() { # name lang image
    local name=$1 lang=$2 image=$3
    local user='"runAsUser": 65532, "runAsGroup": 65532, "runAsNonRoot": true'
    local mount='{"name": "shared-data", "mountPath": "/mnt/data"}'
    cat <<EOF
{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "$name",
    "labels": {
      "app.kubernetes.io/name": "kcr",
      "app.kubernetes.io/component": "image-test",
      "kcr.io/language": "$lang"
    }
  },
  "spec": {
    "restartPolicy": "Never",
    "terminationGracePeriodSeconds": 5,
    "shareProcessNamespace": true,
    "automountServiceAccountToken": false,
    "enableServiceLinks": false,
    "securityContext": {
      $user,
      "fsGroup": 65532,
      "seccompProfile": {"type": "RuntimeDefault"}
    },
    "volumes": [
      {"name": "shared-data", "emptyDir": {"sizeLimit": "1Gi"}},
      {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}
    ],
    "containers": [
      {
        "name": "main",
        "image": "$image",
        "imagePullPolicy": "$PULL",
        "volumeMounts": [$mount, {"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": {
          $user,
          "allowPrivilegeEscalation": false,
          "readOnlyRootFilesystem": true,
          "capabilities": {"drop": ["ALL"]},
          "seccompProfile": {"type": "RuntimeDefault"}
        },
        "resources": {
          "requests": {"cpu": "100m", "memory": "128Mi"},
          "limits": {"cpu": "1", "memory": "512Mi"}
        }
      },
      {
        "name": "sidecar",
        "image": "$SIDECAR_IMAGE",
        "imagePullPolicy": "$PULL",
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": [
          {"name": "LANGUAGE", "value": "$lang"},
          {"name": "WORKING_DIR", "value": "/mnt/data"},
          {"name": "SIDECAR_PORT", "value": "8080"},
          {"name": "MAX_EXECUTION_TIME", "value": "$TIMEOUT"},
          {"name": "NETWORK_ISOLATED", "value": "true"}
        ],
        "volumeMounts": [$mount],
        "securityContext": {
          $user,
          "allowPrivilegeEscalation": true,
          "readOnlyRootFilesystem": true,
          "capabilities": {"drop": ["ALL"], "add": ["SYS_PTRACE", "SYS_ADMIN", "SYS_CHROOT"]},
          "seccompProfile": {"type": "RuntimeDefault"}
        },
        "readinessProbe": {
          "httpGet": {"path": "/ready", "port": 8080},
          "initialDelaySeconds": 1, "periodSeconds": 2, "timeoutSeconds": 5, "failureThreshold": 30
        },
        "resources": {
          "requests": {"cpu": "100m", "memory": "128Mi"},
          "limits": {"cpu": "1", "memory": "512Mi"}
        }
      }
    ]
  }
}
EOF
}

pod_name() { # lang
    echo "kcr-test-$(tr 'A-Z_' 'a-z-' <<<"$1")-$$-$RANDOM"
}

if [ -n "$RENDER_DIR" ]; then
    mkdir -p "$RENDER_DIR"
    for lang in "${langs[@]}"; do
        render_pod "kcr-test-$lang" "$lang" "$(image_ref "$(lang_image "$lang")" "$REGISTRY" "$TAG")" \
            >"$RENDER_DIR/$lang.json"
        echo "$RENDER_DIR/$lang.json"
    done
    exit 0
fi

command -v kubectl >/dev/null || die "kubectl not found"
kc=(kubectl --context "$CONTEXT" --namespace "$NAMESPACE")
"${kc[@]}" version --request-timeout=10s >/dev/null 2>&1 ||
    die "no Kubernetes API reachable with context '$CONTEXT' (use --context, or --render-only DIR)"

pods=()
cleanup() {
    if [ "$KEEP" = 0 ] && [ ${#pods[@]} -gt 0 ]; then
        "${kc[@]}" delete pod --wait=false --ignore-not-found "${pods[@]}" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT INT TERM

fails=0
passes=0
record() { # lang status detail
    printf '%-4s %-5s %s\n' "$2" "$1" "${3:-}"
    if [ "$2" = PASS ]; then passes=$((passes + 1)); else fails=$((fails + 1)); fi
}

for lang in "${langs[@]}"; do
    image=$(image_ref "$(lang_image "$lang")" "$REGISTRY" "$TAG")
    name=$(pod_name "$lang")
    manifest=$(render_pod "$name" "$lang" "$image")
    say "$manifest"
    if ! "${kc[@]}" apply -f - <<<"$manifest" >/dev/null; then
        record "$lang" FAIL "kubectl apply failed"
        continue
    fi
    pods+=("$name")
    if ! "${kc[@]}" wait --for=condition=Ready "pod/$name" --timeout="${TIMEOUT}s" >/dev/null 2>&1; then
        record "$lang" FAIL "pod not ready: $("${kc[@]}" get pod "$name" -o jsonpath='{.status.containerStatuses[*].state}' 2>&1 | head -c 300)"
        continue
    fi
    body=$(execute_body "$lang" 60)
    resp=$("${kc[@]}" create --raw "/api/v1/namespaces/$NAMESPACE/pods/$name:8080/proxy/execute" \
        -f - <<<"$body" 2>&1) || true
    say "execute: $resp"
    if execute_ok "$resp"; then
        record "$lang" PASS
    else
        record "$lang" FAIL "$(head -c 400 <<<"$resp")"
    fi
    if [ "$KEEP" = 0 ]; then
        "${kc[@]}" delete pod --wait=false "$name" >/dev/null 2>&1 || true
    fi
done

[ "$KEEP" = 1 ] && echo "test-k8s-sidecar: pods kept: ${pods[*]}"
echo "test-k8s-sidecar: $passes passed, $fails failed"
[ "$fails" = 0 ]
