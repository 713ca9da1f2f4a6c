/* pod-local — the embedded pod backend: pods made of Linux namespaces,
 * cgroups and pivot_root on this machine (docs/local-pods.md).
 *
 * pod_local_new() must be called while kcr is still privileged: it forks the
 * pod manager (podmgr.h), the only process that keeps root, and talks to it
 * over a socketpair. The caller may drop privileges afterwards. Without root
 * it runs rootless: user namespaces, no cgroup limits, rlimits only, and
 * health() reports degraded isolation. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"
#include "pod/pod.h"

struct kcr_pod_local_config {
    char *run_dir;           /* KCR_RUN_DIR, default /run/kcr */
    char *runtime_dir;       /* KCR_RUNTIME_DIR, default <dir of kcr>/runtime */
    char *sidecar_bin;       /* KCR_SIDECAR_BIN, default <dir of kcr>/kcr-sidecar */
    char *nsexec_bin;        /* KCR_NSEXEC_BIN, default <dir of kcr>/kcr-nsexec */
    char *podmgr_bin;        /* KCR_PODMGR_BIN, default <dir of kcr>/kcr-podmgr */
    char *cgroup_parent;     /* KCR_CGROUP_PARENT, default "kcr" */
    long memory_mb;          /* MAX_MEMORY_MB, default 512 (times the language's mem_mult) */
    long pids_max;           /* MAX_PIDS, default 256 */
    long cpu_millis;         /* MAX_CPUS (e.g. "1.5") in thousandths, default 1000 */
    long tmp_mb;             /* POD_TMP_MB: /tmp and /dev/shm size, default 256 */
    long data_mb;            /* POD_DATA_MB: /mnt/data size, default 512 */
    long ready_ms;           /* POD_READY_TIMEOUT_MS: sidecar readiness bound, default 10000 */
    bool rootless;           /* true when not root (set by pod_local_config_from_env) */
    gid_t client_gid;        /* the group that may reach sidecar sockets besides root: the serving
                              * process's (kcr serve sets it); 0 = root only */
    long output_bytes;       /* the sidecar's MAX_OUTPUT_SIZE in bytes (kcr serve converts its
                              * character cap); 0 = pass MAX_OUTPUT_SIZE through (kcr pod run) */
    bool forkserver;         /* FORKSERVER, default true (never when rootless) */
    char *preload_py;        /* PRELOAD_PY: modules the py template imports (comma-separated) */
    char *preload_py_lite;   /* PRELOAD_PY_LITE: those of the lite pods' template */
    char *forkserver_lib;    /* KCR_FORKSERVER_LIB, default <dir of kcr>/kcr-forkserver.so */
    long forkserver_wait_ms; /* FORKSERVER_WAIT_MS: how long a pod waits for the template's
                              * preload, default 30000 */
};

/* Reads the settings above from the environment; fails naming a bad variable. */
int pod_local_config_from_env(struct kcr_pod_local_config *cfg, struct kcr_err *err);
void pod_local_config_done(struct kcr_pod_local_config *cfg);
/* dst becomes a deep copy of src (free with pod_local_config_done). */
void pod_local_config_copy(struct kcr_pod_local_config *dst,
                           const struct kcr_pod_local_config *src);

/* Starts the pod manager and returns the backend. Fails with the manager's
 * own start-up error (cgroups unavailable, kcr-sidecar or kcr-nsexec missing,
 * run dir not writable). Free with be->ops->free (destroys every pod). */
struct kcr_pod_backend *pod_local_new(const struct kcr_pod_local_config *cfg, struct kcr_err *err);

/* Host path of the pod's /mnt/data (borrowed), or NULL when be is not the
 * local backend. */
const char *pod_local_working_dir(const struct kcr_pod_backend *be, const struct kcr_pod *pod);
