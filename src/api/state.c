#include "api/state.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/errors.h"
#include "api/files.h"
#include "core/session.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void state_key(char out[80], const char *sid)
{
    snprintf(out, 80, "state/%s", sid);
}

/* Session ids in paths become blob names: 1..64 characters of the id
 * alphabet (not only nanoids: KubeCodeRun takes any id here). */
static bool sid_ok(const char *sid)
{
    size_t n = sid ? strlen(sid) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)sid[i]) && sid[i] != '_' && sid[i] != '-')
            return false;
    return true;
}

static struct kcr_http_resp *not_found(struct kcr_http_req *req)
{
    return errors_app(req, 404, "{'error': 'state_not_found', 'message': 'No state for session'}",
                      NULL);
}

struct kcr_http_resp *state_handle_get(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_meta *m = api->core.meta;
    const char *sid = http_req_param(req, 0);
    struct kcr_state_meta st;
    if (!sid_ok(sid) || m->ops->state_get(m, sid, session_now_ms(), &st, NULL) < 0)
        return not_found(req);
    char etag[68];
    snprintf(etag, sizeof(etag), "\"%s\"", st.hash);
    const char *inm = http_req_header(req, "If-None-Match");
    if (inm) {
        char want[80];
        snprintf(want, sizeof(want), "%s", inm);
        char *w = want;
        size_t n = strlen(w);
        if (n >= 2 && w[0] == '"' && w[n - 1] == '"') {
            w[n - 1] = '\0';
            w++;
        }
        if (!strcmp(w, st.hash)) {
            struct kcr_http_resp *r = http_resp_empty(304);
            http_resp_header(r, "ETag", etag);
            return r;
        }
    }
    char key[80];
    state_key(key, sid);
    uint64_t size = 0;
    int fd = api->core.blob->ops->open(api->core.blob, key, &size, NULL);
    if (fd < 0)
        return not_found(req);
    struct kcr_http_resp *r = http_resp_fd(200, "application/octet-stream", fd, size);
    http_resp_header(r, "ETag", etag);
    return r;
}

struct kcr_http_resp *state_handle_post(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const char *sid = http_req_param(req, 0);
    const struct kcr_buf *b = http_req_body(req);
    if (!sid_ok(sid))
        return errors_app(req, 400, "Invalid session id", NULL);
    if (b->len > STATE_MAX_BYTES || b->truncated)
        return errors_app(req, 413,
                          "{'error': 'state_too_large', 'message': 'State exceeds 52428800 bytes'}",
                          NULL);
    if (b->len < 2)
        return errors_app(req, 400, "State too short", NULL);
    unsigned char v = (unsigned char)b->data[0];
    if (v != 1 && v != 2) {
        char msg[64];
        snprintf(msg, sizeof(msg), "Unknown state version: %u", v);
        return errors_app(req, 400, msg, NULL);
    }
    struct kcr_state_meta st = {0};
    snprintf(st.session_id, sizeof(st.session_id), "%s", sid);
    st.size = b->len;
    auth_sha256_hex(b->data, b->len, st.hash);
    st.created_ms = session_now_ms();
    long ttl = api->core.cfg->state_ttl_s;
    st.expires_ms = ttl > 0 ? st.created_ms + (int64_t)ttl * 1000 : 0;
    char key[80];
    state_key(key, sid);
    struct kcr_err err = {0};
    /* Bytes first, then the index: the index never names missing bytes. */
    if (api->core.blob->ops->put(api->core.blob, key, b->data, b->len, &err) < 0 ||
        api->core.meta->ops->state_put(api->core.meta, &st, &err) < 0)
        return errors_app(req, 500, "{'error': 'save_failed', 'message': 'Failed to save state'}",
                          NULL);
    return http_resp_json(
        201, json_pack("{s:s,s:I}", "message", "state_uploaded", "size", (json_int_t)b->len));
}

struct kcr_http_resp *state_handle_delete(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const char *sid = http_req_param(req, 0);
    if (sid_ok(sid)) {
        char key[80];
        state_key(key, sid);
        (void)api->core.meta->ops->state_delete(api->core.meta, sid, NULL);
        (void)api->core.blob->ops->remove(api->core.blob, key, NULL);
    }
    return http_resp_empty(204);
}

struct kcr_http_resp *state_handle_info(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const char *sid = http_req_param(req, 0);
    struct kcr_state_meta st;
    if (!sid_ok(sid) ||
        api->core.meta->ops->state_get(api->core.meta, sid, session_now_ms(), &st, NULL) < 0)
        return http_resp_json(200, json_pack("{s:b,s:s,s:n,s:n,s:n,s:n,s:n}", "exists", 0,
                                             "session_id", sid ? sid : "", "size_bytes", "hash",
                                             "created_at", "expires_at", "source"));
    char created[32], expires[32];
    files_iso_ms(st.created_ms, created);
    files_iso_ms(st.expires_ms, expires);
    return http_resp_json(200, json_pack("{s:b,s:s,s:I,s:s,s:s,s:o,s:s}", "exists", 1, "session_id",
                                         sid, "size_bytes", (json_int_t)st.size, "hash", st.hash,
                                         "created_at", created, "expires_at",
                                         st.expires_ms ? json_string(expires) : json_null(),
                                         "source", "store"));
}
