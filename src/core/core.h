/* core — the services every API handler works through, built once by
 * `kcr serve` and shared (read-only after start) by all request threads.
 *
 * core owns the stores (metadata, blobs), the pod backend, its pool and the
 * admission gate: api reaches them only through core's functions (this
 * header, core/keys.h, core/files.h, core/session.h, core/statestore.h,
 * core/orchestrator.h), never through a store's or a backend's ops. */
#pragma once

#include <jansson.h>

#include "common/err.h"
#include "core/admission.h"
#include "core/serve-config.h"
#include "pod/pool.h"
#include "store/blob.h"
#include "store/meta.h"

struct kcr_core {
    const struct kcr_serve_config *cfg;
    struct kcr_meta *meta;
    struct kcr_blob *blob;
    struct kcr_pool *pool;           /* NULL when the pod backend failed to start */
    struct kcr_pod_backend *backend; /* borrowed by pool */
    struct kcr_admission *admission; /* MAX_CONCURRENT_EXECUTIONS; NULL admits all */
    struct kcr_ptc *ptc;             /* programmatic runs (core/ptc.h); NULL without a pool */
    /* <data_dir>/blobs/.tmp, for HTTP's multipart spool: on the blob store's
     * filesystem, so an upload is committed by a link, not a copy. */
    char *spool_dir;
};

/* Root side, before the privilege drop (the local backend forks the
 * privileged pod manager): sets c->cfg and starts the configured pod backend.
 * Fails only for a bad setting (KCR_ERR_INVALID); any other failure is logged
 * and leaves c->backend NULL (/exec answers 503). */
int core_open_backend(struct kcr_core *c, const struct kcr_serve_config *cfg, struct kcr_err *err);

/* Opens the embedded stores, the metadata (SQLite at <data_dir>/kcr.db) into
 * c->meta and the blobs (<data_dir>/blobs) into c->blob: all a test on the
 * real stores needs. On failure what was opened stays in c for core_close. */
int core_open_stores(struct kcr_core *c, const char *data_dir, struct kcr_err *err);

/* After the drop: sets c->cfg, opens the configured stores (cfg->stores:
 * Redis and S3 when set, else the embedded ones in the data directory), reads the pool
 * settings (POD_POOL_<CODE>; a bad one fails), starts the pool on the backend
 * if there is one (a failure is logged, c->pool stays NULL) and the admission
 * gate. On failure what was opened stays in c for core_close. */
int core_open(struct kcr_core *c, const struct kcr_serve_config *cfg, struct kcr_err *err);

/* Ends the programmatic runs, frees the pool, then the backend: their pods
 * are destroyed. Again: no-op. */
void core_stop_pods(struct kcr_core *c);

/* core_stop_pods, then frees the metadata store, the blob store and the
 * admission gate. Accepts a partly opened core; c->cfg stays. */
void core_close(struct kcr_core *c);

/* Pings the metadata store, then the blob store; each error into its own
 * kcr_err (either may be NULL), how long each took into *ret_meta_ms and
 * *ret_blob_ms (either may be NULL). Returns 0 when both answer, else which
 * failed: CORE_PING_META | CORE_PING_BLOB. */
#define CORE_PING_META 1
#define CORE_PING_BLOB 2
int core_ping(struct kcr_core *c, struct kcr_err *meta_err, struct kcr_err *blob_err,
              double *ret_meta_ms, double *ret_blob_ms);

/* The stores' names: "sqlite" or "redis", "fs" or "s3". */
const char *core_meta_name(const struct kcr_core *c);
const char *core_blob_name(const struct kcr_core *c);

/* The pod backend's name ("local", "kubernetes"); "none" without one. */
const char *core_backend_name(const struct kcr_core *c);

/* The backend's state for /health/detailed ({"status":..., ...}, owned by the
 * caller); NULL without a backend (or when it has nothing to say). */
json_t *core_backend_health(struct kcr_core *c);

/* The warm pool's counts per language (pool_stats, owned by the caller);
 * NULL without a pool. */
json_t *core_pool_stats(struct kcr_core *c);
