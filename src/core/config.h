/* config — the settings of `kcr serve`, read once from the environment.
 *
 * Names follow KubeCodeRun where it has one (api-contract.md, Configuration).
 * A bad value stops the start with one line naming the variable. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

#define KCR_MAX_KEYS 32

enum kcr_pod_backend_kind { KCR_POD_BACKEND_LOCAL, KCR_POD_BACKEND_KUBERNETES };

struct kcr_serve_config {
    char *host;               /* API_HOST, default 127.0.0.1 */
    int port;                 /* API_PORT, default 8000 (0 = any free port) */
    char *keys[KCR_MAX_KEYS]; /* API_KEY then API_KEYS entries (each >= 16 chars) */
    size_t nkeys;
    char *master_key; /* MASTER_API_KEY or NULL */
    char *data_dir;   /* KCR_DATA_DIR, default ./data (absolute after load) */

    int max_exec_time_s;          /* MAX_EXECUTION_TIME, 30 (1..600) */
    size_t max_output_chars;      /* MAX_OUTPUT_SIZE, 65536 characters per stream */
    size_t max_file_size;         /* MAX_FILE_SIZE_MB (10) in bytes: uploads and outputs */
    size_t max_files_per_session; /* MAX_FILES_PER_SESSION, 50: parts per upload */
    size_t max_output_files;      /* MAX_OUTPUT_FILES, 10 */
    long max_memory_mb;           /* MAX_MEMORY_MB, 512 (pod limit) */
    long max_pids;                /* MAX_PIDS, 256 (pod limit) */
    long session_ttl_hours;       /* SESSION_TTL_HOURS, 0 = never expire */
    long cleanup_interval_s;      /* SESSION_CLEANUP_INTERVAL_MINUTES (10) in seconds */
    long state_ttl_s;             /* STATE_TTL_SECONDS, 0 = as long as the session */
    bool state_persistence;       /* STATE_PERSISTENCE_ENABLED, true: py globals persist */

    enum kcr_pod_backend_kind pod_backend; /* KCR_POD_BACKEND=local|kubernetes */
    bool enable_cors;                      /* ENABLE_CORS */
    char *cors_origins;                    /* CORS_ORIGINS, default "*" */
    uid_t serve_uid;                       /* KCR_SERVE_UID, 65530: HTTP side when root */
    gid_t serve_gid;                       /* KCR_SERVE_GID, defaults to the uid */
    int shutdown_grace_s;                  /* KCR_SHUTDOWN_GRACE_SECONDS, 30 */
};

/* Reads every variable into cfg (zeroed first). Fails naming the variable. */
int config_load(struct kcr_serve_config *cfg, struct kcr_err *err);

/* Frees the strings of cfg. */
void config_done(struct kcr_serve_config *cfg);
