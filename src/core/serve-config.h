/* serve-config — the settings of `kcr serve`, read once from the environment.
 *
 * Names follow KubeCodeRun where it has one (docs/api-contract.md, Configuration).
 * A bad value stops the start with one line naming the variable. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"
#include "core/store-config.h"
#include "store/meta.h"

#define KCR_MAX_KEYS  32
#define KCR_MAX_CIDRS 64

enum kcr_pod_backend_kind { KCR_POD_BACKEND_LOCAL, KCR_POD_BACKEND_KUBERNETES };

/* Which credentials /exec and the other keyed routes take (docs/auth.md). */
enum kcr_auth_provider {
    KCR_AUTH_API_KEY, /* API keys only */
    KCR_AUTH_JWT,     /* LibreChat JWTs only: a key is refused */
    KCR_AUTH_BOTH,
};

/* The LibreChat JWT settings as given (CODEAPI_JWT_*); the verifier
 * (api/jwt.h) checks the key material at start. NULL = unset. */
struct kcr_jwt_settings {
    char *public_key, *jwks_json, *keys_dir, *hs256_secret;
    char *issuer, *audience, *allowed_algs, *single_tenant_id;
    long clock_skew_s, max_ttl_s;
};

/* One AUTH_TRUSTED_NETWORKS entry: addr (4 or 16 bytes, host bits cleared)
 * and the prefix length. */
struct kcr_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
};

struct kcr_serve_config {
    char *host;               /* API_HOST, default 127.0.0.1 */
    int port;                 /* API_PORT, default 8000 (0 = any free port) */
    char *keys[KCR_MAX_KEYS]; /* API_KEY then API_KEYS entries (each >= 16 chars) */
    size_t nkeys;
    char *master_key;                       /* MASTER_API_KEY or NULL */
    enum kcr_auth_provider auth_provider;   /* CODEAPI_AUTH_PROVIDER */
    struct kcr_jwt_settings jwt;            /* CODEAPI_JWT_* */
    struct kcr_cidr trusted[KCR_MAX_CIDRS]; /* AUTH_TRUSTED_NETWORKS */
    size_t ntrusted;
    struct kcr_rate_limits rate_limits; /* RATE_LIMIT_{EXEC,UPLOAD,DOWNLOAD}_PER_MINUTE; 0 = off */
    char *data_dir;                     /* KCR_DATA_DIR, default ./data (absolute after load) */

    int max_exec_time_s;          /* MAX_EXECUTION_TIME, 30 (1..KCR_MAX_EXEC_SECONDS) */
    size_t max_output_chars;      /* MAX_OUTPUT_SIZE, 65536 characters per stream */
    size_t max_file_size;         /* MAX_FILE_SIZE_MB (10) in bytes: uploads and outputs */
    size_t max_files_per_session; /* MAX_FILES_PER_SESSION, 50: parts per upload */
    long max_conns_per_ip;        /* MAX_CONNECTIONS_PER_IP, 64 of 256; 0 = no cap */
    long http_header_timeout_s;   /* HTTP_HEADER_TIMEOUT_SECONDS, 30 */
    long http_body_timeout_s;     /* HTTP_BODY_TIMEOUT_SECONDS, 300 */
    size_t max_output_files;      /* MAX_OUTPUT_FILES, 10 */
    long max_memory_mb;           /* MAX_MEMORY_MB, 512 (pod limit) */
    long max_pids;                /* MAX_PIDS, 256 (pod limit) */
    long session_ttl_hours;       /* SESSION_TTL_HOURS, 24; 0 = never expire */
    size_t max_session_files;     /* MAX_SESSION_FILES, 500: files one session holds */
    long max_concurrent_execs;    /* MAX_CONCURRENT_EXECUTIONS, from CPUs and memory */
    long exec_queue_wait_ms;      /* EXEC_QUEUE_TIMEOUT_SECONDS (30): wait for a slot */
    long cleanup_interval_s;      /* SESSION_CLEANUP_INTERVAL_MINUTES (10) in seconds */
    long state_ttl_s;             /* STATE_TTL_SECONDS, 7200; 0 = as long as the session */
    bool state_persistence;       /* STATE_PERSISTENCE_ENABLED, true: py globals persist */
    long ptc_continuation_s;      /* PTC_CONTINUATION_TIMEOUT_SECONDS, 60: a paused run's wait */
    long ptc_max_round_trips;     /* PTC_MAX_ROUND_TRIPS, 20: tool-call batches of one run */
    long ptc_max_paused;          /* PTC_MAX_PAUSED; 0 (default) = the warm pool's size */

    enum kcr_pod_backend_kind pod_backend; /* KCR_POD_BACKEND=local|kubernetes */
    bool enable_cors;                      /* ENABLE_CORS */
    char *cors_origins;                    /* CORS_ORIGINS, default "*" */
    uid_t serve_uid;                       /* KCR_SERVE_UID, 65530: HTTP side when root */
    gid_t serve_gid;                       /* KCR_SERVE_GID, defaults to the uid */
    int shutdown_grace_s;                  /* KCR_SHUTDOWN_GRACE_SECONDS, 30 */
    struct kcr_store_settings stores;      /* REDIS_*, MINIO_* (core/store-config.h) */
    /* KCR_REPLICA_URL (else http://KCR_REPLICA_IP:API_PORT): how the other
     * replicas reach this one, as scheme://host[:port] (http or https);
     * NULL = no continuation records (core/ptc-route.h). */
    char *replica_url;
};

/* Reads every variable into cfg (zeroed first). Fails naming the variable. */
int config_load(struct kcr_serve_config *cfg, struct kcr_err *err);

/* Frees the strings of cfg. */
void config_done(struct kcr_serve_config *cfg);

/* The configuration as the operator dashboard shows it (owned by the caller):
 * an object keyed by the environment variables, each with the value in force.
 * Secrets are never in it: API_KEYS, MASTER_API_KEY, CODEAPI_JWT_PUBLIC_KEY,
 * CODEAPI_JWT_JWKS_JSON and CODEAPI_JWT_HS256_SECRET are "[redacted]" (with the
 * number of keys) when set, null when not. Only the fields listed there are
 * shown: a new setting stays out until it is added on purpose. */
json_t *config_describe(const struct kcr_serve_config *cfg);
