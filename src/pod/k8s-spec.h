/* k8s-spec — the manifest of one kcr execution pod (main container + kcr-sidecar).
 *
 * A pure function: a JSON object of parameters in, a v1 Pod object out, so the
 * security-relevant fields can be unit-tested without a cluster. The layout
 * follows the DHI migration guide section 15 (docs/kubernetes.md explains each
 * field); the backend (pod-k8s.c) only fills in names, labels and limits. */
#pragma once

#include <jansson.h>

#include "common/err.h"

/* Labels every kcr execution pod carries (the chart's NetworkPolicy and the
 * backend's selectors use them). */
#define K8S_LABEL_NAME      "app.kubernetes.io/name"
#define K8S_LABEL_COMPONENT "app.kubernetes.io/component"
#define K8S_LABEL_MANAGED   "app.kubernetes.io/managed-by"
#define K8S_LABEL_LANG      "kcr.dev/language"
#define K8S_LABEL_POOL      "kcr.dev/pool"          /* "warm" or "claimed" */
#define K8S_LABEL_OWNER     "kcr.dev/owner"         /* replica id of the claimer */
#define K8S_LABEL_SPEC      "kcr.dev/spec"          /* hash of the pod spec: config version */
#define K8S_ANNOT_LEASE     "kcr.dev/lease-expires" /* unix seconds, renewed by the owner */
#define K8S_ANNOT_CLAIMED   "kcr.dev/claimed-at"    /* unix seconds */
#define K8S_SELECTOR_ALL    "app.kubernetes.io/managed-by=kcr,app.kubernetes.io/component=execution"

/* Builds the Pod for params (borrowed). Parameters, all optional unless noted:
 *   name (required), namespace, language (required, a code of lang.h),
 *   registry ("kcr"), tag ("latest"), sidecar_image ("<registry>-sidecar:<tag>"),
 *   pull_policy ("IfNotPresent"), memory_mb (512, times the language's
 *   mem_mult), cpu_millis (1000), main_memory_mb (64), main_cpu_millis (100),
 *   max_execution_time (30), max_output_size (65536), max_pids (256),
 *   data_size_mb (1024), tmp_size_mb (512), sidecar_port (8080),
 *   writable_root (false), runtime_class, runner_preload (the sidecar's
 *   RUNNER_PRELOAD), labels {}, annotations {},
 *   image_pull_secrets [names], node_selector {}.
 * Returns a new object, or NULL with KCR_ERR_INVALID naming the bad parameter. */
json_t *k8s_spec_pod(const json_t *params, struct kcr_err *err);

/* "kcr-<image>:<tag>" style image for a language code: "<registry>-<lang image>:<tag>".
 * Returns a new string, or NULL for an unknown language. */
char *k8s_spec_image(const char *registry, const char *tag, const char *lang_code);
