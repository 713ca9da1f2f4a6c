#include "api/session-files.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/errors.h"
#include "common/names.h"
#include "common/time.h"
#include "core/files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void files_iso_ms(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char date[24];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", date, (int)(ms % 1000));
}

/* Python's isoformat with microseconds and +00:00, as KubeCodeRun's full form. */
static void iso_python(int64_t ms, char out[40])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char date[24];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%06d+00:00", date, (int)(ms % 1000) * 1000);
}

/* The LibreChat resource fields of a listing entry, when the file has them
 * (what agents' fetchSessionFiles reads back into a file reference). */
static void add_resource(json_t *e, const struct kcr_file_meta *f)
{
    if (!*f->res.kind)
        return;
    json_object_set_new(e, "storage_session_id", json_string(f->session_id));
    json_object_set_new(e, "kind", json_string(f->res.kind));
    json_object_set_new(e, "resource_id", json_string(f->res.id));
    if (*f->res.version)
        json_object_set_new(e, "version", json_string(f->res.version));
}

static json_t *entry(const struct kcr_file_meta *f, const char *detail, int64_t summary_ms)
{
    char ref[2 * KCR_ID_LEN + 2];
    snprintf(ref, sizeof(ref), "%s/%s", f->session_id, f->id);
    if (!strcmp(detail, "summary")) {
        char iso[32];
        files_iso_ms(summary_ms, iso);
        return json_pack("{s:s,s:s,s:s}", "name", ref, "fileId", f->id, "lastModified", iso);
    }
    json_t *e;
    if (!strcmp(detail, "simple")) {
        char path[4200];
        snprintf(path, sizeof(path), "%s%s", f->kind == KCR_FILE_OUTPUT ? "/outputs/" : "/",
                 f->name);
        e = json_pack("{s:s,s:s,s:s}", "id", f->id, "name", f->name, "path", path);
    } else {
        char iso[40], etag[KCR_ID_LEN + 3];
        iso_python(f->created_ms, iso);
        snprintf(etag, sizeof(etag), "\"%s\"", f->id);
        e = json_pack("{s:s,s:s,s:s,s:n,s:I,s:s,s:s,s:{s:s,s:s},s:s}", "name", ref, "id", f->id,
                      "session_id", f->session_id, "content", "size", (json_int_t)f->size,
                      "lastModified", iso, "etag", etag, "metadata", "content-type",
                      f->content_type, "original-filename", f->name, "contentType",
                      f->content_type);
    }
    add_resource(e, f);
    return e;
}

struct kcr_http_resp *files_query_resource(struct kcr_http_req *req, struct kcr_resource *ret)
{
    struct kcr_err err = {0};
    if (principal_resource(auth_principal(req), http_req_query(req, "kind"),
                           http_req_query(req, "id"), http_req_query(req, "version"), ret,
                           &err) == 0)
        return NULL;
    return errors_app(req, errors_status(err.kind), err.msg,
                      json_pack("[o]", errors_detail("query -> kind", err.msg, NULL)));
}

struct kcr_http_resp *files_handle_list(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const char *sid = http_req_param(req, 0);
    const char *detail = http_req_query(req, "detail");
    detail = detail && (!strcmp(detail, "summary") || !strcmp(detail, "simple")) ? detail : "full";
    struct kcr_resource want;
    struct kcr_http_resp *bad = files_query_resource(req, &want);
    if (bad)
        return bad;
    struct kcr_file_meta *v = NULL;
    size_t n = 0;
    struct kcr_err err = {0};
    if (files_list_readable(&api->core, auth_principal(req), sid, &want, &v, &n, &err) < 0)
        return errors_from_err(req, &err);
    /* A live session's files are as fresh as now: LibreChat re-uploads
     * anything whose lastModified is older than 23 hours. */
    int64_t now = time_wall_ms();
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, entry(&v[i], detail, now));
    free(v);
    struct kcr_http_resp *r = http_resp_json(200, arr);
    /* LibreChat's 5 s axios socket timeout must not leak into a reused
     * keep-alive connection ("socket hang up"). */
    http_resp_header(r, "Connection", "close");
    return r;
}

struct kcr_http_resp *files_handle_delete(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const char *sid = http_req_param(req, 0), *fid = http_req_param(req, 1);
    struct kcr_err err = {0};
    if (files_delete(&api->core, auth_principal(req), sid, fid, &err) < 0) {
        if (err.kind == KCR_ERR_NOT_FOUND)
            return errors_app(req, 404, "File not found", NULL);
        return errors_app(req, 500, "Failed to delete file", NULL);
    }
    return http_resp_empty(200);
}

struct kcr_http_resp *files_readable_of_path(struct kcr_http_req *req, void *ctx,
                                             struct kcr_file_meta *ret)
{
    struct kcr_api *api = ctx;
    struct kcr_resource want;
    struct kcr_http_resp *bad = files_query_resource(req, &want);
    if (bad)
        return bad;
    struct kcr_err err = {0};
    if (files_get_readable(&api->core, auth_principal(req), http_req_param(req, 0),
                           http_req_param(req, 1), &want, ret, &err) == 0)
        return NULL;
    return err.kind == KCR_ERR_NOT_FOUND ? errors_app(req, 404, "File not found", NULL)
                                         : errors_from_err(req, &err);
}

struct kcr_http_resp *files_handle_object(struct kcr_http_req *req, void *ctx)
{
    struct kcr_file_meta f;
    struct kcr_http_resp *bad = files_readable_of_path(req, ctx, &f);
    if (bad)
        return bad;
    /* When the bytes were stored: a session with SESSION_TTL_HOURS ends that
     * long after its creation, and LibreChat re-uploads what is 23 h old. */
    char iso[32];
    files_iso_ms(f.created_ms, iso);
    json_t *body =
        json_pack("{s:s,s:I,s:s,s:s,s:s}", "lastModified", iso, "size", (json_int_t)f.size, "name",
                  f.name, "storage_session_id", f.session_id, "id", f.id);
    if (*f.res.kind)
        json_object_set_new(body, "kind", json_string(f.res.kind));
    return http_resp_json(200, body);
}
