#include "core/statestore.h"
#include "common/digest.h"
#include "core/session.h"
#include "common/log.h"
#include "common/time.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define KEY_MAX 160
/* Expired states removed per store query. */
#define REAP_BATCH 64

bool statestore_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '_' && id[i] != '-')
            return false;
    return true;
}

/* Blob keys: "<id>/st_<owner hash>" beside the session's files, so removing
 * a session's directory removes its states; unowned states keep the key they
 * had before owners existed. File ids are 21 characters, never "st_" + 32. */
static void blob_key(const char *owner, const char *id, char out[KEY_MAX])
{
    if (!strcmp(owner, KCR_OWNER_UNOWNED)) {
        snprintf(out, KEY_MAX, "state/%s", id);
        return;
    }
    char h[65];
    digest_sha256_hex(owner, strlen(owner), h);
    snprintf(out, KEY_MAX, "%s/st_%.32s", id, h);
}

static int get_as(struct kcr_core *c, const char *owner, const char *id, struct kcr_state_meta *ret,
                  struct kcr_err *err)
{
    return c->meta->ops->state_get(c->meta, owner, id, time_wall_ms(), ret, err);
}

/* The owner id stands for when p names it (see the header). Returns whether
 * id is a session of p's (or, for a key, a state from before owners). */
static bool resolve(struct kcr_core *c, const struct kcr_principal *p, const char *id,
                    char owner[KCR_OWNER_MAX])
{
    struct kcr_session s;
    struct kcr_state_meta st;
    snprintf(owner, KCR_OWNER_MAX, "%s", p->id);
    if (session_get_owned(c, p, id, &s, NULL) == 0) {
        snprintf(owner, KCR_OWNER_MAX, "%s", s.owner);
        return true;
    }
    if (p->kind == KCR_PRINCIPAL_KEY && get_as(c, p->id, id, &st, NULL) < 0 &&
        get_as(c, KCR_OWNER_UNOWNED, id, &st, NULL) == 0) {
        snprintf(owner, KCR_OWNER_MAX, "%s", KCR_OWNER_UNOWNED);
        return true;
    }
    return false;
}

int statestore_get(struct kcr_core *c, const struct kcr_principal *p, const char *id,
                   struct kcr_state_meta *ret, struct kcr_err *err)
{
    if (!statestore_id_ok(id))
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "no state");
    char owner[KCR_OWNER_MAX];
    resolve(c, p, id, owner);
    return get_as(c, owner, id, ret, err);
}

int statestore_open(struct kcr_core *c, const struct kcr_state_meta *st, uint64_t *ret_size,
                    struct kcr_err *err)
{
    char key[KEY_MAX];
    blob_key(st->owner, st->session_id, key);
    return c->blob->ops->open(c->blob, key, ret_size, err);
}

/* Bytes first (len bytes from data, or fd's content of len bytes when data
 * is NULL), then the record. */
/* The bytes are data (len of them) or else fd's, whose sha256 (hex) is
 * fd_sha256 when the caller has it already. */
static int commit(struct kcr_core *c, const char *owner, const char *id, const void *data,
                  size_t len, int fd, const char *fd_sha256, struct kcr_state_meta *ret,
                  struct kcr_err *err)
{
    struct kcr_state_meta st = {.size = len, .created_ms = time_wall_ms()};
    snprintf(st.owner, sizeof(st.owner), "%s", owner);
    snprintf(st.session_id, sizeof(st.session_id), "%s", id);
    long ttl = c->cfg->state_ttl_s;
    st.expires_ms = ttl > 0 ? st.created_ms + (int64_t)ttl * 1000 : 0;
    char key[KEY_MAX];
    blob_key(owner, id, key);
    if (data) {
        digest_sha256_hex(data, len, st.hash);
        if (c->blob->ops->put(c->blob, key, data, len, err) < 0)
            return kcr_err_wrap(err, "save state");
    } else {
        int r = 0;
        if (fd_sha256)
            snprintf(st.hash, sizeof(st.hash), "%s", fd_sha256);
        else
            r = digest_sha256_fd(fd, st.hash);
        if (r < 0)
            return kcr_err_set(err, -r, KCR_ERR_INTERNAL, "hash state");
        if (c->blob->ops->commit(c->blob, key, fd, err) < 0)
            return kcr_err_wrap(err, "save state");
    }
    if (c->meta->ops->state_put(c->meta, &st, err) < 0)
        return kcr_err_wrap(err, "record state");
    if (ret)
        *ret = st;
    return 0;
}

int statestore_save(struct kcr_core *c, const struct kcr_principal *p, const char *id,
                    const void *data, size_t len, struct kcr_state_meta *ret, struct kcr_err *err)
{
    if (!statestore_id_ok(id))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "Invalid session id");
    char owner[KCR_OWNER_MAX];
    /* A state belongs to a session: none is stored under an id that is not
     * one of the caller's sessions, so POST /state cannot be a free store. */
    if (!resolve(c, p, id, owner))
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "session '%s' not found", id);
    return commit(c, owner, id, data, len, -1, NULL, ret, err);
}

int statestore_delete(struct kcr_core *c, const struct kcr_principal *p, const char *id,
                      struct kcr_err *err)
{
    if (!statestore_id_ok(id))
        return 0;
    char owner[KCR_OWNER_MAX], key[KEY_MAX];
    resolve(c, p, id, owner);
    /* Record first: once it is gone nothing reaches the bytes. */
    if (c->meta->ops->state_delete(c->meta, owner, id, err) < 0)
        return -1;
    blob_key(owner, id, key);
    (void)c->blob->ops->remove(c->blob, key, NULL);
    return 0;
}

int statestore_get_session(struct kcr_core *c, const struct kcr_session *s,
                           struct kcr_state_meta *ret, struct kcr_err *err)
{
    return get_as(c, s->owner, s->id, ret, err);
}

int statestore_commit_session(struct kcr_core *c, const struct kcr_session *s, int fd,
                              const char *sha256, struct kcr_state_meta *ret, struct kcr_err *err)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "stat state");
    return commit(c, s->owner, s->id, NULL, (size_t)sb.st_size, fd, sha256, ret, err);
}

int statestore_reap(struct kcr_core *c, int64_t now_ms)
{
    struct kcr_state_meta v[REAP_BATCH];
    size_t n = 0;
    int total = 0;
    struct kcr_err err = {0};
    do {
        if (c->meta->ops->states_expired(c->meta, now_ms, v, REAP_BATCH, &n, &err) < 0) {
            log_msg(KCR_LOG_WARN, NULL, "state cleanup: %s", err.msg);
            return total;
        }
        for (size_t i = 0; i < n; i++) {
            char key[KEY_MAX];
            /* Record first: once it is gone nothing reaches the bytes. */
            if (c->meta->ops->state_delete(c->meta, v[i].owner, v[i].session_id, &err) < 0) {
                log_msg(KCR_LOG_WARN, NULL, "state cleanup '%s': %s", v[i].session_id, err.msg);
                return total;
            }
            blob_key(v[i].owner, v[i].session_id, key);
            (void)c->blob->ops->remove(c->blob, key, NULL);
            total++;
        }
    } while (n == REAP_BATCH);
    return total;
}

void statestore_remove_legacy(struct kcr_core *c, const char *id)
{
    char key[KEY_MAX];
    blob_key(KCR_OWNER_UNOWNED, id, key);
    (void)c->blob->ops->remove(c->blob, key, NULL);
}
