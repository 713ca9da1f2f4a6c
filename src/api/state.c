#include "api/state.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/errors.h"
#include "api/session-files.h"
#include "core/statestore.h"

#include <stdio.h>
#include <string.h>

static struct kcr_http_resp *not_found(struct kcr_http_req *req)
{
    return errors_app(req, 404, "{'error': 'state_not_found', 'message': 'No state for session'}",
                      NULL);
}

/* Whether If-None-Match names the hash (quoted or not). */
static bool etag_matches(const char *inm, const char *hash)
{
    size_t n = strlen(inm), h = strlen(hash);
    if (n == h + 2 && inm[0] == '"' && inm[n - 1] == '"')
        return !strncmp(inm + 1, hash, h);
    return !strcmp(inm, hash);
}

struct kcr_http_resp *state_handle_get(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const char *sid = http_req_param(req, 0);
    struct kcr_state_meta st;
    if (statestore_get(&api->core, auth_principal(req), sid, &st, NULL) < 0)
        return not_found(req);
    char etag[68];
    snprintf(etag, sizeof(etag), "\"%s\"", st.hash);
    const char *inm = http_req_header(req, "If-None-Match");
    if (inm && etag_matches(inm, st.hash)) {
        struct kcr_http_resp *r = http_resp_empty(304);
        http_resp_header(r, "ETag", etag);
        return r;
    }
    uint64_t size = 0;
    int fd = statestore_open(&api->core, &st, &size, NULL);
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
    if (!statestore_id_ok(sid))
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
    struct kcr_err err = {0};
    if (statestore_save(&api->core, auth_principal(req), sid, b->data, b->len, NULL, &err) < 0) {
        if (err.kind == KCR_ERR_NOT_FOUND)
            return errors_app(
                req, 404,
                "{'error': 'session_not_found', 'message': 'No such session for this caller'}",
                NULL);
        http_req_log(req, "error", json_string(err.msg));
        return errors_app(req, 500, "{'error': 'save_failed', 'message': 'Failed to save state'}",
                          NULL);
    }
    return http_resp_json(
        201, json_pack("{s:s,s:I}", "message", "state_uploaded", "size", (json_int_t)b->len));
}

struct kcr_http_resp *state_handle_delete(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    (void)statestore_delete(&api->core, auth_principal(req), http_req_param(req, 0), NULL);
    return http_resp_empty(204);
}

struct kcr_http_resp *state_handle_info(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const char *sid = http_req_param(req, 0);
    struct kcr_state_meta st;
    if (statestore_get(&api->core, auth_principal(req), sid, &st, NULL) < 0)
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
