#include "core/files.h"
#include "common/cleanup.h"
#include "common/names.h"
#include "core/session.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void blob_key(char out[64], const char *sid, const char *fid)
{
    snprintf(out, 64, "%s/%s", sid, fid);
}

int files_store(struct kcr_core *c, const char *sid, const char *name, const char *content_type,
                enum kcr_file_kind kind, int fd, uint64_t size, struct kcr_file_meta *ret,
                struct kcr_err *err)
{
    struct kcr_file_meta f = {0};
    id_new(f.id);
    snprintf(f.session_id, sizeof(f.session_id), "%s", sid);
    if (strlen(name) >= sizeof(f.name))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "file name too long");
    strcpy(f.name, name);
    snprintf(f.content_type, sizeof(f.content_type), "%s",
             content_type && *content_type ? content_type : files_mime(name));
    f.size = size;
    f.created_ms = session_now_ms();
    f.kind = kind;
    char key[64];
    blob_key(key, sid, f.id);
    /* Bytes first, record second: a crash in between leaves an unreferenced
     * blob, never a record pointing at missing or partial bytes. */
    if (c->blob->ops->commit(c->blob, key, fd, err) < 0)
        return kcr_err_wrap(err, "store '%s'", name);
    if (c->meta->ops->file_put(c->meta, &f, err) < 0) {
        (void)c->blob->ops->remove(c->blob, key, NULL);
        return kcr_err_wrap(err, "record '%s'", name);
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

/* Looks ref up inside session ref_sid: id, then name, then the id as a name. */
static int lookup(struct kcr_core *c, const char *ref_sid, const struct kcr_file_ref *ref,
                  struct kcr_file_meta *ret)
{
    struct kcr_meta *m = c->meta;
    if (ref->id && m->ops->file_get(m, ref_sid, ref->id, ret, NULL) == 0)
        return 0;
    if (ref->name && *ref->name) {
        if (m->ops->file_find_name(m, ref_sid, ref->name, ret, NULL) == 0)
            return 0;
        _cleanup_free_ char *san = names_sanitize(ref->name);
        if (m->ops->file_find_name(m, ref_sid, san, ret, NULL) == 0)
            return 0;
    }
    if (ref->id && m->ops->file_find_name(m, ref_sid, ref->id, ret, NULL) == 0)
        return 0;
    return -1;
}

int files_resolve(struct kcr_core *c, const char *sid, const struct kcr_file_ref *ref,
                  struct kcr_file_meta *ret, struct kcr_err *err)
{
    const char *ref_sid = ref->session_id && *ref->session_id ? ref->session_id : sid;
    struct kcr_file_meta f;
    if (lookup(c, ref_sid, ref, &f) < 0 && (ref_sid == sid || lookup(c, sid, ref, &f) < 0))
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "%s (%s)", ref->id ? ref->id : "-",
                           ref->name ? ref->name : "-");
    if (!strcmp(f.session_id, sid)) {
        *ret = f;
        return 0;
    }
    /* Another session's file: the execution's session gets its own copy, so
     * its outputs and listings stay self-contained. */
    uint64_t size = 0;
    _cleanup_close_ int fd = files_open(c, &f, &size, err);
    if (fd < 0)
        return kcr_err_wrap(err, "%s (%s)", f.id, f.name);
    return files_store(c, sid, f.name, f.content_type, KCR_FILE_UPLOAD, fd, size, ret, err);
}

int files_delete(struct kcr_core *c, const char *sid, const char *fid, struct kcr_err *err)
{
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
