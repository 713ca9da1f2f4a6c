/* pod-k8s — the kubernetes pod backend: execution pods are Pods in one
 * namespace, shared by every kcr replica through a cluster-side warm pool
 * (docs/kubernetes.md).
 *
 * The pool lives in the cluster, not in this process: POD_POOL_<CODE> warm
 * pods per language carry the label kcr.dev/pool=warm. create() claims a warm
 * Ready pod with a merge patch guarded by its resourceVersion (409 = another
 * replica won: try the next), or creates one on demand and waits for Ready.
 * destroy() deletes the pod (single use). Background threads keep a watch-fed
 * cache of the pods, refill the pool, renew this replica's leases on the pods
 * it holds and delete orphans (claimed pods whose lease expired, failed pods,
 * warm pods past their maximum age). So `kcr serve` runs pool.c with size 0
 * on top of this backend. */
#pragma once

#include "common/err.h"
#include "pod/k8s-client.h"
#include "pod/pod.h"

#define POD_K8S_MAX_LANGS 32

struct pod_k8s_config {
    struct k8s_client_config client; /* K8S_API_URL, K8S_TOKEN..., K8S_NAMESPACE */
    char *registry;       /* K8S_IMAGE_REGISTRY, "kcr": images "<registry>-<image>:<tag>" */
    char *tag;            /* K8S_IMAGE_TAG, "latest" */
    char *sidecar_image;  /* K8S_SIDECAR_IMAGE, default "<registry>-sidecar:<tag>" */
    char *pull_policy;    /* K8S_IMAGE_PULL_POLICY, "IfNotPresent" */
    char *runtime_class;  /* K8S_RUNTIME_CLASS (e.g. "gvisor"), or NULL */
    char *preload_py;     /* PRELOAD_PY: what a py pod's runner imports while warm, or NULL */
    char *replica_id;     /* K8S_REPLICA_ID, default "<hostname>-<random>" */
    long memory_mb;       /* MAX_MEMORY_MB, 512 (times the language's mem_mult) */
    long cpu_millis;      /* K8S_CPU_MILLIS, 1000 */
    long main_memory_mb;  /* K8S_MAIN_MEMORY_MB, 64: the main container (it runs sleep) */
    long main_cpu_millis; /* K8S_MAIN_CPU_MILLIS, 100 */
    long max_exec_s;      /* MAX_EXECUTION_TIME, 30 */
    long max_output;      /* MAX_OUTPUT_SIZE, 65536 */
    long max_pids;        /* MAX_PIDS, 256 */
    long data_mb;         /* K8S_DATA_SIZE_MB, 1024: /mnt/data emptyDir size limit */
    long tmp_mb;          /* K8S_TMP_SIZE_MB, 512: /tmp emptyDir size limit */
    long sidecar_port;    /* K8S_SIDECAR_PORT, 8080 */
    int pool_size[POD_K8S_MAX_LANGS]; /* POD_POOL_<CODE>, indexed like lang_all() */
    long batch;                       /* K8S_POOL_BATCH, 5: creates per refill round */
    long ready_timeout_s;             /* K8S_POD_READY_TIMEOUT_SECONDS, 60 */
    long acquire_wait_ms;             /* K8S_ACQUIRE_WAIT_MS, 3000: wait for a warm pod */
    long lease_s;                     /* K8S_LEASE_SECONDS, 120: claimed-pod lease */
    long gc_interval_s;               /* K8S_GC_INTERVAL_SECONDS, 15 */
    long max_age_s;                   /* K8S_POD_MAX_AGE_SECONDS, 3600: warm pod lifetime */
    long watch_timeout_s;             /* K8S_WATCH_TIMEOUT_SECONDS, 240 */
    long foreign_grace_s; /* K8S_FOREIGN_POD_GRACE_SECONDS, 600: warm pods of another config */
};

/* Reads the settings above; fails naming a bad variable. */
int pod_k8s_config_from_env(struct pod_k8s_config *cfg, struct kcr_err *err);
void pod_k8s_config_done(struct pod_k8s_config *cfg);
/* Deep copy (dst is overwritten); fills the defaults of unset strings and a
 * fresh replica id when src has none. Free dst with pod_k8s_config_done. */
void pod_k8s_config_copy(struct pod_k8s_config *dst, const struct pod_k8s_config *src);

/* Starts the backend (copies cfg): lists the namespace's kcr pods, starts the
 * watch and pool threads. Fails when the API server cannot be reached or
 * refuses to list pods (RBAC). Free with be->ops->free. */
struct kcr_pod_backend *pod_k8s_new(const struct pod_k8s_config *cfg, struct kcr_err *err);
