#include "api/upload.h"
#include "api/context.h"
#include "api/errors.h"
#include "common/cleanup.h"
#include "common/names.h"
#include "core/files.h"
#include "core/session.h"

#include <ctype.h>
#include <string.h>

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

static int store_part(struct kcr_core *c, const char *sid, struct kcr_http_part *p,
                      struct kcr_file_meta *f, struct kcr_err *err)
{
    _cleanup_free_ char *name = names_sanitize(p->filename);
    const char *ct =
        p->content_type && *p->content_type && strcmp(p->content_type, "application/octet-stream")
            ? p->content_type
            : NULL;
    return files_store(c, sid, name, ct, KCR_FILE_UPLOAD, p->fd, p->size, f, err);
}

/* Shared by /upload and /upload/batch: the session and the part list. */
static struct kcr_http_resp *prepare(struct kcr_http_req *req, struct kcr_core *c,
                                     const char **ret_field, char sid[KCR_ID_LEN + 1])
{
    size_t used = 0;
    *ret_field = file_field(req, &used);
    if (used == 0)
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("body -> files", "Field required", "missing")));
    struct kcr_err err = {0};
    if (session_choose(c, NULL, NULL, 0, entity_of(req), NULL, sid, &err) < 0)
        return errors_from_err(req, &err);
    http_req_log(req, "session_id", json_string(sid));
    return NULL;
}

struct kcr_http_resp *upload_handle(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const char *field;
    char sid[KCR_ID_LEN + 1];
    struct kcr_http_resp *bad = prepare(req, &api->core, &field, sid);
    if (bad)
        return bad;
    json_t *files = json_array();
    for (size_t i = 0; i < http_req_nparts(req); i++) {
        struct kcr_http_part *p = http_req_part(req, i);
        struct kcr_file_meta f;
        struct kcr_err err = {0};
        if (strcmp(p->field, field))
            continue;
        if (store_part(&api->core, sid, p, &f, &err) < 0) {
            json_decref(files);
            return errors_from_err(req, &err);
        }
        json_array_append_new(files, json_pack("{s:s,s:s}", "fileId", f.id, "filename", f.name));
    }
    return http_resp_json(200, json_pack("{s:s,s:s,s:s,s:o}", "message", "success", "session_id",
                                         sid, "storage_session_id", sid, "files", files));
}

struct kcr_http_resp *upload_handle_batch(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const char *field;
    char sid[KCR_ID_LEN + 1];
    struct kcr_http_resp *bad = prepare(req, &api->core, &field, sid);
    if (bad)
        return bad;
    json_t *files = json_array();
    int ok = 0, failed = 0;
    for (size_t i = 0; i < http_req_nparts(req); i++) {
        struct kcr_http_part *p = http_req_part(req, i);
        struct kcr_file_meta f;
        struct kcr_err err = {0};
        if (strcmp(p->field, field))
            continue;
        /* Each file succeeds or fails on its own, as the batch reply reports. */
        _cleanup_free_ char *name = names_sanitize(p->filename);
        if (store_part(&api->core, sid, p, &f, &err) < 0) {
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
