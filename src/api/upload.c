#include "api/upload.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/errors.h"
#include "common/cleanup.h"
#include "common/names.h"
#include "core/files.h"
#include "core/session.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Deepest relative path an upload keeps (as deep as the sidecar places). */
#define UPLOAD_MAX_DEPTH 16

/* entity_id is only honoured when it has the /exec shape; anything else is
 * ignored as KubeCodeRun's upload does not validate it either. */
static const char *entity_of(struct kcr_http_req *req)
{
    const char *e = http_req_field(req, "entity_id");
    if (!e || !*e || strlen(e) > 40)
        return NULL;
    for (const char *p = e; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return NULL;
    return e;
}

/* The field whose parts are the files: `file` if any part uses it, else `files`
 * (KubeCodeRun ignores `files` when `file` is present). Sets *ret_n. */
static const char *file_field(struct kcr_http_req *req, size_t *ret_n)
{
    size_t n = http_req_nparts(req), used = 0;
    const char *field = "files";
    for (size_t i = 0; i < n; i++)
        if (!strcmp(http_req_part(req, i)->field, "file"))
            field = "file";
    for (size_t i = 0; i < n; i++)
        used += !strcmp(http_req_part(req, i)->field, field);
    *ret_n = used;
    return field;
}

/* Where the parts of one upload go: the session and what they are for. */
struct target {
    struct kcr_session session;
    struct kcr_resource res;
    const char *field;
};

/* The stored name: the relative path the client sent, each component
 * sanitised (docs/api-contract.md rule 7); NULL when it is too deep. */
static char *part_name(const struct kcr_http_part *p)
{
    return names_sanitize_path(p->filename, UPLOAD_MAX_DEPTH);
}

static int store_part(struct kcr_core *c, const struct target *t, struct kcr_http_part *p,
                      struct kcr_file_meta *f, struct kcr_err *err)
{
    _cleanup_free_ char *name = part_name(p);
    if (!name)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "file name '%.200s' has more than %d directory levels", p->filename,
                           UPLOAD_MAX_DEPTH);
    struct kcr_file_meta want = {.kind = KCR_FILE_UPLOAD, .res = t->res};
    snprintf(want.session_id, sizeof(want.session_id), "%s", t->session.id);
    snprintf(want.owner, sizeof(want.owner), "%s", t->session.owner);
    snprintf(want.name, sizeof(want.name), "%s", name);
    if (p->content_type && *p->content_type && strcmp(p->content_type, "application/octet-stream"))
        snprintf(want.content_type, sizeof(want.content_type), "%s", p->content_type);
    return files_store(c, &want, p->fd, p->size, f, err);
}

/* The next part carrying the files at or after *i (then past it), or NULL. */
static struct kcr_http_part *next_file_part(struct kcr_http_req *req, const struct target *t,
                                            size_t *i)
{
    while (*i < http_req_nparts(req)) {
        struct kcr_http_part *p = http_req_part(req, (*i)++);
        if (!strcmp(p->field, t->field))
            return p;
    }
    return NULL;
}

/* Shared by /upload and /upload/batch: the part list, what the files are
 * for (`kind`, `id`, `version` fields) and the session. */
static struct kcr_http_resp *prepare(struct kcr_http_req *req, struct kcr_core *c, struct target *t)
{
    size_t used = 0;
    t->field = file_field(req, &used);
    if (used == 0)
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("body -> files", "Field required", "missing")));
    const struct kcr_principal *p = auth_principal(req);
    struct kcr_err err = {0};
    if (principal_resource(p, http_req_field(req, "kind"), http_req_field(req, "id"),
                           http_req_field(req, "version"), &t->res, &err) < 0)
        return errors_app(req, errors_status(err.kind), err.msg,
                          json_pack("[o]", errors_detail("body -> kind", err.msg, NULL)));
    if (session_choose(c, p, NULL, NULL, 0, entity_of(req), NULL, &t->session, &err) < 0)
        return errors_from_err(req, &err);
    http_req_log(req, "session_id", json_string(t->session.id));
    if (files_room(c, t->session.id, used, &err) < 0)
        return errors_from_err(req, &err);
    return NULL;
}

struct kcr_http_resp *upload_handle(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct target t;
    struct kcr_http_resp *bad = prepare(req, &api->core, &t);
    if (bad)
        return bad;
    /* Every name is checked before the first file is stored. */
    struct kcr_http_part *p;
    for (size_t i = 0; (p = next_file_part(req, &t, &i));) {
        _cleanup_free_ char *name = part_name(p);
        if (!name)
            return errors_app(
                req, 400, "File name has too many directory levels",
                json_pack("[o]", errors_detail("body -> files", p->filename, "path_too_deep")));
    }
    json_t *files = json_array();
    for (size_t i = 0; (p = next_file_part(req, &t, &i));) {
        struct kcr_file_meta f;
        struct kcr_err err = {0};
        if (store_part(&api->core, &t, p, &f, &err) < 0) {
            json_decref(files);
            return errors_from_err(req, &err);
        }
        json_array_append_new(files, json_pack("{s:s,s:s}", "fileId", f.id, "filename", f.name));
    }
    const char *sid = t.session.id;
    return http_resp_json(200, json_pack("{s:s,s:s,s:s,s:o}", "message", "success", "session_id",
                                         sid, "storage_session_id", sid, "files", files));
}

struct kcr_http_resp *upload_handle_batch(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct target t;
    struct kcr_http_resp *bad = prepare(req, &api->core, &t);
    if (bad)
        return bad;
    const char *sid = t.session.id;
    json_t *files = json_array();
    int ok = 0, failed = 0;
    struct kcr_http_part *p;
    for (size_t i = 0; (p = next_file_part(req, &t, &i));) {
        struct kcr_file_meta f;
        struct kcr_err err = {0};
        /* Each file succeeds or fails on its own, as the batch reply reports. */
        _cleanup_free_ char *name = names_sanitize(p->filename);
        if (store_part(&api->core, &t, p, &f, &err) < 0) {
            failed++;
            json_array_append_new(files, json_pack("{s:s,s:s,s:s}", "status", "error", "filename",
                                                   name, "error", err.msg));
            continue;
        }
        ok++;
        json_array_append_new(files, json_pack("{s:s,s:s,s:s}", "status", "success", "fileId", f.id,
                                               "filename", f.name));
    }
    return http_resp_json(200, json_pack("{s:s,s:s,s:s,s:o,s:i,s:i}", "message",
                                         failed ? (ok ? "partial" : "error") : "success",
                                         "session_id", sid, "storage_session_id", sid, "files",
                                         files, "succeeded", ok, "failed", failed));
}
