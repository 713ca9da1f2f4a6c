#include "core/session.h"
#include "core/files.h"
#include "core/statestore.h"
#include "common/log.h"
#include "common/time.h"
#include "common/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

/* Expired sessions removed per store query. */
#define REAP_BATCH 64
/* A blob with no record for this long is an orphan: a commit and its record
 * are milliseconds apart (core/files.c, files_sweep_orphans). */
#define SESSION_ORPHAN_AGE_MS (15 * 60 * 1000)

int session_create(struct kcr_core *c, const struct kcr_principal *p, const char *entity_id,
                   const char *user_id, struct kcr_session *ret, struct kcr_err *err)
{
    struct kcr_session s = {0};
    id_new(s.id);
    snprintf(s.owner, sizeof(s.owner), "%s", p->id);
    snprintf(s.entity_id, sizeof(s.entity_id), "%s", entity_id ? entity_id : "");
    snprintf(s.user_id, sizeof(s.user_id), "%s", user_id ? user_id : "");
    s.created_ms = s.last_activity_ms = time_wall_ms();
    long ttl = c->cfg->session_ttl_hours;
    s.expires_ms = ttl > 0 ? s.created_ms + (int64_t)ttl * 3600 * 1000 : 0;
    if (c->meta->ops->session_create(c->meta, &s, err) < 0)
        return kcr_err_wrap(err, "create session");
    *ret = s;
    return 0;
}

int session_summary(struct kcr_core *c, struct kcr_store_summary *ret, struct kcr_err *err)
{
    *ret = (struct kcr_store_summary){0};
    if (c->meta->ops->summary(c->meta, time_wall_ms(), ret, err) < 0)
        return kcr_err_wrap(err, "store summary");
    return 0;
}

int session_get_owned(struct kcr_core *c, const struct kcr_principal *p, const char *sid,
                      struct kcr_session *ret, struct kcr_err *err)
{
    int64_t now = time_wall_ms();
    struct kcr_err e = {0};
    if (!sid || !id_is_valid(sid) || c->meta->ops->session_get(c->meta, sid, now, ret, &e) < 0) {
        if (e.kind != KCR_ERR_NONE && e.kind != KCR_ERR_NOT_FOUND) {
            if (err)
                *err = e;
            return -1;
        }
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "session '%s' not found", sid ? sid : "");
    }
    if (!principal_owns(p, ret->owner))
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "session '%s' not found", sid);
    (void)c->meta->ops->session_touch(c->meta, sid, now, NULL);
    return 0;
}

/* entity_id's latest session among p's own, then (for API keys) among the
 * sessions from before owners existed. */
static int session_of_entity(struct kcr_core *c, const struct kcr_principal *p,
                             const char *entity_id, struct kcr_session *ret)
{
    const char *owners[] = {p->id, KCR_OWNER_UNOWNED};
    size_t n = p->kind == KCR_PRINCIPAL_KEY ? 2 : 1;
    char id[KCR_ID_LEN + 1];
    for (size_t i = 0; i < n; i++)
        if (c->meta->ops->session_by_entity(c->meta, owners[i], entity_id, time_wall_ms(), id,
                                            NULL) == 0 &&
            session_get_owned(c, p, id, ret, NULL) == 0)
            return 0;
    return -1;
}

int session_choose(struct kcr_core *c, const struct kcr_principal *p, const char *session_id,
                   const char *const *file_sids, size_t nfile_sids, const char *entity_id,
                   const char *user_id, struct kcr_session *ret, struct kcr_err *err)
{
    if (session_id && session_get_owned(c, p, session_id, ret, NULL) == 0)
        return 0;
    for (size_t i = 0; i < nfile_sids; i++)
        if (file_sids[i] && session_get_owned(c, p, file_sids[i], ret, NULL) == 0)
            return 0;
    if (entity_id && *entity_id && session_of_entity(c, p, entity_id, ret) == 0)
        return 0;
    return session_create(c, p, entity_id, user_id, ret, err);
}

int session_reap(struct kcr_core *c, int64_t now_ms)
{
    char ids[REAP_BATCH][KCR_ID_LEN + 1];
    size_t n = 0;
    int total = 0;
    struct kcr_err err = {0};
    do {
        if (c->meta->ops->sessions_expired(c->meta, now_ms, ids, REAP_BATCH, &n, &err) < 0) {
            log_msg(KCR_LOG_WARN, NULL, "session cleanup: %s", err.msg);
            return total;
        }
        for (size_t i = 0; i < n; i++) {
            /* Records first: once they are gone nothing can reach the bytes, so
             * a crash between the two steps leaves only unreachable garbage. */
            if (c->meta->ops->session_delete(c->meta, ids[i], &err) < 0) {
                log_msg(KCR_LOG_WARN, NULL, "session cleanup '%s': %s", ids[i], err.msg);
                return total;
            }
            /* The session's directory holds its files and its states
             * (core/statestore.h); states from before owners live apart. */
            (void)c->blob->ops->remove_dir(c->blob, ids[i], NULL);
            statestore_remove_legacy(c, ids[i]);
            total++;
        }
    } while (n == REAP_BATCH);
    return total;
}

struct kcr_session_reaper {
    struct kcr_core *core;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
};

static void *reaper_main(void *arg)
{
    struct kcr_session_reaper *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += r->core->cfg->cleanup_interval_s;
        while (!r->stop && pthread_cond_timedwait(&r->cond, &r->lock, &until) != ETIMEDOUT)
            ;
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->lock);
        int64_t now = time_wall_ms();
        int n = r->core->cfg->session_ttl_hours > 0 ? session_reap(r->core, now) : 0;
        int ns = r->core->cfg->state_ttl_s > 0 ? statestore_reap(r->core, now) : 0;
        int no = files_sweep_orphans(r->core, now - SESSION_ORPHAN_AGE_MS);
        if (n > 0 || ns > 0 || no > 0)
            log_json(KCR_LOG_INFO, NULL, "expired sessions removed",
                     json_pack("{s:i,s:i,s:i}", "sessions", n, "states", ns, "orphans", no));
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

struct kcr_session_reaper *session_reaper_start(struct kcr_core *c, struct kcr_err *err)
{
    if (c->cfg->session_ttl_hours <= 0 && c->cfg->state_ttl_s <= 0)
        return NULL;
    struct kcr_session_reaper *r = xcalloc(1, sizeof(*r));
    r->core = c;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    int e = pthread_create(&r->thread, NULL, reaper_main, r);
    if (e) {
        free(r);
        kcr_err_set(err, e, KCR_ERR_INTERNAL, "start session cleanup thread");
        return NULL;
    }
    return r;
}

struct kcr_session_reaper *session_reaper_stop(struct kcr_session_reaper *r)
{
    if (!r)
        return NULL;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
    return NULL;
}
