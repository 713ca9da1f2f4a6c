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

struct kcr_http_resp *upload_handle(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_core *c = &api->core;
    size_t n = http_req_nparts(req);
    /* A `file` part wins; `files` parts count only when there is none. */
    const char *field = "files";
    for (size_t i = 0; i < n; i++)
        if (!strcmp(http_req_part(req, i)->field, "file"))
            field = "file";
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += !strcmp(http_req_part(req, i)->field, field);
    if (used == 0)
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("body -> files", "Field required", "missing")));

    const char *entity = entity_of(req);
    char sid[KCR_ID_LEN + 1];
    struct kcr_err err = {0};
    if (session_choose(c, NULL, NULL, 0, entity, NULL, sid, &err) < 0)
        return errors_from_err(req, &err);
    json_t *files = json_array();
    for (size_t i = 0; i < n; i++) {
        struct kcr_http_part *p = http_req_part(req, i);
        if (strcmp(p->field, field))
            continue;
        _cleanup_free_ char *name = names_sanitize(p->filename);
        const char *ct = p->content_type && *p->content_type &&
                                 strcmp(p->content_type, "application/octet-stream")
                             ? p->content_type
                             : NULL;
        struct kcr_file_meta f;
        if (files_store(c, sid, name, ct, KCR_FILE_UPLOAD, p->fd, p->size, &f, &err) < 0) {
            json_decref(files);
            return errors_from_err(req, &err);
        }
        json_array_append_new(files, json_pack("{s:s,s:s}", "fileId", f.id, "filename", f.name));
    }
    http_req_log(req, "session_id", json_string(sid));
    return http_resp_json(200, json_pack("{s:s,s:s,s:s,s:o}", "message", "success", "session_id",
                                         sid, "storage_session_id", sid, "files", files));
}
