#include "core/core.h"
#include "core/ptc.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/time.h"
#include "common/xalloc.h"
#include "core/backend.h"
#include "common/fsutil.h"
#include "store/blob-fs.h"
#include "store/blob-s3.h"
#include "store/meta-redis.h"
#include "store/meta-sqlite.h"

#include <string.h>

int core_open_backend(struct kcr_core *c, const struct kcr_serve_config *cfg, struct kcr_err *err)
{
    c->cfg = cfg;
    struct kcr_err berr = {0};
    c->backend = backend_new(cfg, &berr);
    if (!c->backend) {
        if (berr.kind == KCR_ERR_INVALID) {
            if (err)
                *err = berr;
            return -1;
        }
        log_msg(KCR_LOG_WARN, NULL, "pod backend unavailable, /exec will answer 503: %s", berr.msg);
    }
    return 0;
}

int core_open_stores(struct kcr_core *c, const char *data_dir, struct kcr_err *err)
{
    _cleanup_free_ char *db = xasprintf("%s/kcr.db", data_dir);
    _cleanup_free_ char *blobs = xasprintf("%s/blobs", data_dir);
    if (!(c->meta = meta_sqlite_open(db, err)) || !(c->blob = blob_fs_open(blobs, err)))
        return -1;
    return 0;
}

/* The configured stores (core/store-config.h): each of Redis and S3 when
 * set, else its embedded counterpart in the data directory. */
static int open_configured_stores(struct kcr_core *c, const struct kcr_serve_config *cfg,
                                  struct kcr_err *err)
{
    const struct kcr_store_settings *st = &cfg->stores;
    if (st->meta == KCR_META_REDIS) {
        struct kcr_redis_config rc;
        store_config_redis(st, &rc);
        c->meta = meta_redis_open(&rc, err);
    } else {
        _cleanup_free_ char *db = xasprintf("%s/kcr.db", cfg->data_dir);
        c->meta = meta_sqlite_open(db, err);
    }
    if (!c->meta)
        return -1;
    if (st->blob == KCR_BLOB_S3) {
        /* Uploads are spooled on local disk, then streamed to the bucket. */
        c->spool_dir = xasprintf("%s/spool", cfg->data_dir);
        if (fs_mkdir_p(c->spool_dir, 0700, err) < 0)
            return -1;
        struct kcr_s3_config sc;
        store_config_s3(st, c->spool_dir, &sc);
        c->blob = blob_s3_open(&sc, err);
    } else {
        _cleanup_free_ char *blobs = xasprintf("%s/blobs", cfg->data_dir);
        c->spool_dir = xasprintf("%s/blobs/.tmp", cfg->data_dir);
        c->blob = blob_fs_open(blobs, err);
    }
    return c->blob ? 0 : -1;
}

int core_open(struct kcr_core *c, const struct kcr_serve_config *cfg, struct kcr_err *err)
{
    c->cfg = cfg;
    if (open_configured_stores(c, cfg, err) < 0)
        return -1;
    /* Read even without a backend: a bad POD_POOL_<CODE> stops the start. */
    struct kcr_pool_config pc;
    if (pool_config_from_env(&pc, err) < 0)
        return -1;
    /* A paused programmatic run holds a pod: by default as many may wait as
     * the pool keeps warm (POD_POOL_<CODE> summed, at least one). */
    long ptc_max_runs = cfg->ptc_max_paused;
    for (size_t i = 0; cfg->ptc_max_paused == 0 && i < ARRAY_SIZE(pc.size); i++)
        ptc_max_runs += pc.size[i];
    if (c->backend) {
        struct kcr_err perr = {0};
        /* The kubernetes backend pools in the cluster itself (shared by
         * every replica, docs/kubernetes.md): no second pool in-process. */
        if (cfg->pod_backend == KCR_POD_BACKEND_KUBERNETES)
            memset(pc.size, 0, sizeof(pc.size));
        c->pool = pool_new(c->backend, &pc, &perr);
        if (!c->pool)
            log_msg(KCR_LOG_WARN, NULL, "pod pool unavailable: %s", perr.msg);
    }
    c->admission = admission_new(cfg->max_concurrent_execs, cfg->exec_queue_wait_ms);
    if (c->pool && !(c->ptc = ptc_new(c, ptc_max_runs, err)))
        return -1;
    return 0;
}

void core_stop_pods(struct kcr_core *c)
{
    c->ptc = ptc_free(c->ptc);
    c->pool = pool_free(c->pool);
    if (c->backend)
        c->backend->ops->free(c->backend);
    c->backend = NULL;
}

void core_close(struct kcr_core *c)
{
    core_stop_pods(c);
    c->meta = meta_free(c->meta);
    c->blob = blob_free(c->blob);
    c->admission = admission_free(c->admission);
    free(c->spool_dir);
    c->spool_dir = NULL;
}

int core_ping(struct kcr_core *c, struct kcr_err *meta_err, struct kcr_err *blob_err,
              double *ret_meta_ms, double *ret_blob_ms)
{
    int failed = 0;
    double t0 = time_mono_ms_f();
    if (c->meta->ops->ping(c->meta, meta_err) < 0)
        failed |= CORE_PING_META;
    if (ret_meta_ms)
        *ret_meta_ms = time_mono_ms_f() - t0;
    t0 = time_mono_ms_f();
    if (c->blob->ops->ping(c->blob, blob_err) < 0)
        failed |= CORE_PING_BLOB;
    if (ret_blob_ms)
        *ret_blob_ms = time_mono_ms_f() - t0;
    return failed;
}

const char *core_meta_name(const struct kcr_core *c)
{
    return c->meta ? c->meta->ops->name : "none";
}

const char *core_blob_name(const struct kcr_core *c)
{
    return c->blob ? c->blob->ops->name : "none";
}

const char *core_backend_name(const struct kcr_core *c)
{
    return c->backend ? c->backend->ops->name : "none";
}

json_t *core_backend_health(struct kcr_core *c)
{
    return c->backend ? c->backend->ops->health(c->backend) : NULL;
}

json_t *core_pool_stats(struct kcr_core *c)
{
    return c->pool ? pool_stats(c->pool) : NULL;
}
