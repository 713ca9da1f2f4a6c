#include "core/files.h"
#include "common/cleanup.h"
#include "common/names.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/time.h"
#include "common/xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Deepest relative path a stored name may have (as the sidecar allows). */
#define KCR_PATH_DEPTH 16

static void blob_key(char out[64], const char *sid, const char *fid)
{
    snprintf(out, 64, "%s/%s", sid, fid);
}

int files_store(struct kcr_core *c, const struct kcr_file_meta *want, int fd, uint64_t size,
                struct kcr_file_meta *ret, struct kcr_err *err)
{
    struct kcr_file_meta f = *want;
    id_new(f.id);
    if (!*f.content_type)
        snprintf(f.content_type, sizeof(f.content_type), "%s", files_mime(f.name));
    f.size = size;
    f.created_ms = time_wall_ms();
    char key[64];
    blob_key(key, f.session_id, f.id);
    /* Bytes first, record second: a crash in between leaves an unreferenced
     * blob, never a record pointing at missing or partial bytes. */
    if (c->blob->ops->commit(c->blob, key, fd, err) < 0)
        return kcr_err_wrap(err, "store '%s'", f.name);
    if (c->meta->ops->file_put(c->meta, &f, err) < 0) {
        (void)c->blob->ops->remove(c->blob, key, NULL);
        return kcr_err_wrap(err, "record '%s'", f.name);
    }
    if (ret)
        *ret = f;
    return 0;
}

int files_open(struct kcr_core *c, const struct kcr_file_meta *f, uint64_t *ret_size,
               struct kcr_err *err)
{
    char key[64];
    blob_key(key, f->session_id, f->id);
    return c->blob->ops->open(c->blob, key, ret_size, err);
}

/* One lookup, kept only when p may read the file through ref. */
static bool readable(struct kcr_core *c, const struct kcr_principal *p,
                     const struct kcr_file_ref *ref, const char *sid, const char *id,
                     const char *name, struct kcr_file_meta *ret)
{
    struct kcr_meta *m = c->meta;
    int r = id ? m->ops->file_get(m, sid, id, ret, NULL)
               : m->ops->file_find_name(m, sid, name, ret, NULL);
    return r == 0 && principal_may_read(p, ret, &ref->res);
}

/* Looks ref up inside session ref_sid: id, then name (as sent, then as an
 * upload of that name would have been stored), then the id as a name. */
static int lookup(struct kcr_core *c, const struct kcr_principal *p, const char *ref_sid,
                  const struct kcr_file_ref *ref, struct kcr_file_meta *ret)
{
    if (ref->id && readable(c, p, ref, ref_sid, ref->id, NULL, ret))
        return 0;
    if (ref->name && *ref->name) {
        if (readable(c, p, ref, ref_sid, NULL, ref->name, ret))
            return 0;
        _cleanup_free_ char *san = names_sanitize_path(ref->name, KCR_PATH_DEPTH);
        if (san && readable(c, p, ref, ref_sid, NULL, san, ret))
            return 0;
    }
    if (ref->id && readable(c, p, ref, ref_sid, NULL, ref->id, ret))
        return 0;
    return -1;
}

int files_find(struct kcr_core *c, const struct kcr_principal *p, const struct kcr_session *s,
               const struct kcr_file_ref *ref, struct kcr_file_meta *ret, struct kcr_err *err)
{
    const char *ref_sid = ref->session_id && *ref->session_id ? ref->session_id : s->id;
    if (lookup(c, p, ref_sid, ref, ret) < 0 &&
        (ref_sid == s->id || lookup(c, p, s->id, ref, ret) < 0))
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "%s (%s)", ref->id ? ref->id : "-",
                           ref->name ? ref->name : "-");
    return 0;
}

int files_count(struct kcr_core *c, const char *sid, size_t *ret, struct kcr_err *err)
{
    _cleanup_free_ struct kcr_file_meta *v = NULL;
    if (c->meta->ops->file_list(c->meta, sid, &v, ret, err) < 0)
        return kcr_err_wrap(err, "count the files of session '%s'", sid);
    return 0;
}

int files_room(struct kcr_core *c, const char *sid, size_t want, struct kcr_err *err)
{
    size_t n = 0, max = c->cfg->max_session_files;
    if (files_count(c, sid, &n, err) < 0)
        return -1;
    if (n + want > max)
        return kcr_err_set(err, 0, KCR_ERR_LIMIT,
                           "Session holds %zu files; %zu more would pass the limit of %zu "
                           "(MAX_SESSION_FILES)",
                           n, want, max);
    return 0;
}

/* A blob streamed through a pipe (the S3 store) becomes an unnamed file of
 * the blob store first, checked to hold all size bytes: a stream cut short
 * must fail the copy, not store a truncated file under the full size. */
static int spool_stream(struct kcr_core *c, int *fd, uint64_t size, struct kcr_err *err)
{
    if (lseek(*fd, 0, SEEK_CUR) >= 0 || errno != ESPIPE)
        return 0;
    _cleanup_close_ int tmp = c->blob->ops->tmpfile(c->blob, err);
    if (tmp < 0)
        return -1;
    ssize_t n = fs_copy_fd(*fd, tmp, size + 1);
    if (n < 0 || (uint64_t)n != size)
        return kcr_err_set(err, n < 0 ? (int)-n : 0, KCR_ERR_UNAVAILABLE,
                           "read %" PRIu64 " bytes of the blob (%zd)", size, n);
    safe_close(*fd);
    *fd = TAKE_FD(tmp);
    return 0;
}

int files_adopt(struct kcr_core *c, const struct kcr_session *s, const struct kcr_file_meta *f,
                struct kcr_file_meta *ret, struct kcr_err *err)
{
    if (!strcmp(f->session_id, s->id)) {
        *ret = *f;
        return 0;
    }
    /* Another session's file: the execution's session gets its own copy, so
     * its outputs and listings stay self-contained, and owned by its owner. */
    uint64_t size = 0;
    _cleanup_close_ int fd = files_open(c, f, &size, err);
    if (fd < 0)
        return kcr_err_wrap(err, "%s (%s)", f->id, f->name);
    if (spool_stream(c, &fd, size, err) < 0)
        return kcr_err_wrap(err, "%s (%s)", f->id, f->name);
    struct kcr_file_meta want = *f;
    snprintf(want.session_id, sizeof(want.session_id), "%s", s->id);
    snprintf(want.owner, sizeof(want.owner), "%s", s->owner);
    want.kind = KCR_FILE_UPLOAD;
    return files_store(c, &want, fd, size, ret, err);
}

int files_resolve(struct kcr_core *c, const struct kcr_principal *p, const struct kcr_session *s,
                  const struct kcr_file_ref *ref, struct kcr_file_meta *ret, struct kcr_err *err)
{
    struct kcr_file_meta f;
    if (files_find(c, p, s, ref, &f, err) < 0)
        return -1;
    return files_adopt(c, s, &f, ret, err);
}

int files_get_readable(struct kcr_core *c, const struct kcr_principal *p, const char *sid,
                       const char *fid, const struct kcr_resource *want, struct kcr_file_meta *ret,
                       struct kcr_err *err)
{
    struct kcr_err e = {0};
    if (id_is_valid(sid) && id_is_valid(fid) &&
        c->meta->ops->file_get(c->meta, sid, fid, ret, &e) == 0 && principal_may_read(p, ret, want))
        return 0;
    if (e.kind != KCR_ERR_NONE && e.kind != KCR_ERR_NOT_FOUND) {
        if (err)
            *err = e;
        return -1;
    }
    return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "File not found");
}

int files_list_readable(struct kcr_core *c, const struct kcr_principal *p, const char *sid,
                        const struct kcr_resource *want, struct kcr_file_meta **ret, size_t *ret_n,
                        struct kcr_err *err)
{
    *ret = NULL;
    *ret_n = 0;
    struct kcr_session s;
    if (!id_is_valid(sid) || c->meta->ops->session_get(c->meta, sid, time_wall_ms(), &s, NULL) < 0)
        return 0;
    struct kcr_file_meta *v = NULL;
    size_t n = 0, k = 0;
    if (c->meta->ops->file_list(c->meta, sid, &v, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (principal_may_read(p, &v[i], want))
            v[k++] = v[i];
    *ret = v;
    *ret_n = k;
    return 0;
}

int files_delete(struct kcr_core *c, const struct kcr_principal *p, const char *sid,
                 const char *fid, struct kcr_err *err)
{
    struct kcr_file_meta f;
    struct kcr_err e = {0};
    if (!id_is_valid(sid) || !id_is_valid(fid) ||
        c->meta->ops->file_get(c->meta, sid, fid, &f, &e) < 0 || !principal_owns(p, f.owner)) {
        if (e.kind != KCR_ERR_NONE && e.kind != KCR_ERR_NOT_FOUND) {
            if (err)
                *err = e;
            return -1;
        }
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "File not found");
    }
    if (c->meta->ops->file_delete(c->meta, sid, fid, err) < 0)
        return -1;
    char key[64];
    blob_key(key, sid, fid);
    (void)c->blob->ops->remove(c->blob, key, NULL);
    return 0;
}

static const struct {
    const char *ext;
    const char *mime;
} mime_table[] = {
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"svg", "image/svg+xml"},
    {"bmp", "image/bmp"},
    {"ico", "image/vnd.microsoft.icon"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"pdf", "application/pdf"},
    {"json", "application/json"},
    {"csv", "text/csv"},
    {"tsv", "text/tab-separated-values"},
    {"txt", "text/plain"},
    {"log", "text/plain"},
    {"md", "text/markdown"},
    {"html", "text/html"},
    {"htm", "text/html"},
    {"css", "text/css"},
    {"js", "text/javascript"},
    {"xml", "application/xml"},
    {"yaml", "application/yaml"},
    {"yml", "application/yaml"},
    {"py", "text/x-python"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"xls", "application/vnd.ms-excel"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"mp3", "audio/mpeg"},
    {"wav", "audio/x-wav"},
    {"mp4", "video/mp4"},
};

const char *files_mime(const char *name)
{
    const char *slash = name ? strrchr(name, '/') : NULL;
    const char *base = slash ? slash + 1 : (name ? name : "");
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        for (size_t i = 0; i < ARRAY_SIZE(mime_table); i++)
            if (!strcasecmp(dot + 1, mime_table[i].ext))
                return mime_table[i].mime;
    return "application/octet-stream";
}

/*** Orphans ***/

struct sweep {
    struct kcr_core *core;
    int64_t before_ms;
    char (*keys)[64];
    size_t n;
};

/* A file blob ("<session>/<file id>") older than before_ms whose record
 * the metadata store says is absent. States ("st_…", "state/…") are left
 * to the state store's own expiry. */
static int sweep_check(const char *key, int64_t mtime_ms, void *ctx)
{
    struct sweep *sw = ctx;
    const char *slash = strchr(key, '/');
    if (mtime_ms <= 0 || mtime_ms > sw->before_ms || !slash || strlen(key) >= 64 ||
        (size_t)(slash - key) > KCR_ID_LEN || !strncmp(slash + 1, "st_", 3) ||
        !strncmp(key, "state/", 6))
        return 0;
    char sid[KCR_ID_LEN + 1];
    memcpy(sid, key, (size_t)(slash - key));
    sid[slash - key] = '\0';
    struct kcr_file_meta f;
    struct kcr_err err = {0};
    /* Only a definite "no such record": a store that is down removes nothing. */
    if (sw->core->meta->ops->file_get(sw->core->meta, sid, slash + 1, &f, &err) == 0 ||
        err.kind != KCR_ERR_NOT_FOUND)
        return 0;
    snprintf(sw->keys[sw->n++], 64, "%s", key);
    return sw->n == FILES_SWEEP_BATCH;
}

int files_sweep_orphans(struct kcr_core *c, int64_t before_ms)
{
    struct sweep sw = {.core = c, .before_ms = before_ms};
    sw.keys = xcalloc(FILES_SWEEP_BATCH, sizeof(*sw.keys));
    struct kcr_err err = {0};
    if (c->blob->ops->list(c->blob, NULL, sweep_check, &sw, &err) < 0)
        log_msg(KCR_LOG_WARN, NULL, "orphan sweep: %s", err.msg);
    int n = 0;
    for (size_t i = 0; i < sw.n; i++)
        if (c->blob->ops->remove(c->blob, sw.keys[i], NULL) == 0)
            n++;
    free(sw.keys);
    return n;
}
