#include "api/files.h"
#include "api/context.h"
#include "api/errors.h"
#include "common/names.h"
#include "core/files.h"
#include "core/session.h"

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

static json_t *entry(const struct kcr_file_meta *f, const char *detail, int64_t summary_ms)
{
    char ref[2 * KCR_ID_LEN + 2];
    snprintf(ref, sizeof(ref), "%s/%s", f->session_id, f->id);
    if (!strcmp(detail, "summary")) {
        char iso[32];
        files_iso_ms(summary_ms, iso);
        return json_pack("{s:s,s:s,s:s}", "name", ref, "fileId", f->id, "lastModified", iso);
    }
    if (!strcmp(detail, "simple")) {
        char path[4200];
        snprintf(path, sizeof(path), "%s%s", f->kind == KCR_FILE_OUTPUT ? "/outputs/" : "/",
                 f->name);
        return json_pack("{s:s,s:s,s:s}", "id", f->id, "name", f->name, "path", path);
    }
    char iso[40], etag[KCR_ID_LEN + 3];
    iso_python(f->created_ms, iso);
    snprintf(etag, sizeof(etag), "\"%s\"", f->id);
    return json_pack("{s:s,s:s,s:s,s:n,s:I,s:s,s:s,s:{s:s,s:s},s:s}", "name", ref, "id", f->id,
                     "session_id", f->session_id, "content", "size", (json_int_t)f->size,
                     "lastModified", iso, "etag", etag, "metadata", "content-type", f->content_type,
                     "original-filename", f->name, "contentType", f->content_type);
}

struct kcr_http_resp *files_handle_list(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_meta *m = api->core.meta;
    const char *sid = http_req_param(req, 0);
    const char *detail = http_req_query(req, "detail");
    detail = detail && (!strcmp(detail, "summary") || !strcmp(detail, "simple")) ? detail : "full";
    json_t *arr = json_array();
    struct kcr_session s;
    int64_t now = session_now_ms();
    if (id_is_valid(sid) && m->ops->session_get(m, sid, now, &s, NULL) == 0) {
        struct kcr_file_meta *v = NULL;
        size_t n = 0;
        struct kcr_err err = {0};
        if (m->ops->file_list(m, sid, &v, &n, &err) < 0) {
            json_decref(arr);
            return errors_from_err(req, &err);
        }
        /* A live session's files are as fresh as now: LibreChat re-uploads
         * anything whose lastModified is older than 23 hours. */
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, entry(&v[i], detail, now));
        free(v);
    }
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
    if (!id_is_valid(sid) || !id_is_valid(fid) || files_delete(&api->core, sid, fid, &err) < 0) {
        if (err.kind == KCR_ERR_NONE || err.kind == KCR_ERR_NOT_FOUND)
            return errors_app(req, 404, "File not found", NULL);
        return errors_app(req, 500, "Failed to delete file", NULL);
    }
    return http_resp_empty(200);
}
