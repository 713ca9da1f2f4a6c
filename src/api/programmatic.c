#include "api/programmatic.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/errors.h"
#include "api/exec-request.h"
#include "api/exec.h"
#include "api/metrics.h"
#include "common/cleanup.h"
#include "common/time.h"
#include "common/xalloc.h"
#include "core/ptc-route.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define TOOL_NAME_MAX     256
#define CALL_ID_MAX       64
#define ERROR_MESSAGE_MAX 8192
#define RETRY_AFTER_S     5

static struct kcr_http_resp *bad(struct kcr_http_req *req, const char *field, const char *msg)
{
    return errors_app(req, 400, msg, json_pack("[o]", errors_detail(field, msg, "invalid")));
}

/*** Bodies ***/

json_t *programmatic_results_parse(json_t *results, const char **ret_msg)
{
    if (!json_is_array(results)) {
        *ret_msg = "tool_results must be an array";
        return NULL;
    }
    if (json_array_size(results) > KCR_PTC_MAX_CALLS) {
        *ret_msg = "tool_results has more entries than a pause hands out";
        return NULL;
    }
    json_auto_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        json_t *id = json_object_get(r, "call_id");
        json_t *is_error = json_object_get(r, "is_error");
        json_t *msg = json_object_get(r, "error_message");
        json_t *value = json_object_get(r, "result");
        if (!json_is_object(r) || !json_is_string(id) || json_string_length(id) == 0 ||
            json_string_length(id) > CALL_ID_MAX) {
            *ret_msg = "each tool result needs a call_id string (1-64 characters)";
            return NULL;
        }
        if (is_error && !json_is_boolean(is_error)) {
            *ret_msg = "is_error must be a boolean";
            return NULL;
        }
        if (msg && !json_is_null(msg) &&
            (!json_is_string(msg) || json_string_length(msg) > ERROR_MESSAGE_MAX)) {
            *ret_msg = "error_message must be a string of at most 8192 bytes";
            return NULL;
        }
        json_t *clean =
            json_pack("{s:O,s:O,s:b}", "call_id", id, "result", value ? value : json_null(),
                      "is_error", is_error && json_is_true(is_error));
        if (json_is_string(msg))
            json_object_set(clean, "error_message", msg);
        json_array_append_new(out, clean);
    }
    return json_incref(out);
}

/* tools[] of a first request: their names, each once. The descriptions and
 * parameter schemas are the client's business (it validates the inputs). */
static struct kcr_http_resp *parse_tools(struct kcr_http_req *req, json_t *tools,
                                         const char **names, size_t *ret_n)
{
    if (!tools || !json_is_array(tools))
        return bad(req, "tools", "tools must be an array of {name, description, parameters}");
    size_t n = json_array_size(tools);
    if (n == 0)
        return bad(req, "tools",
                   "tools is empty: a program that calls no tools is an ordinary execution; "
                   "send it to POST /exec");
    if (n > KCR_PTC_MAX_TOOLS)
        return bad(req, "tools", "too many tools (at most 128)");
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(tools, i);
        json_t *name = json_object_get(t, "name");
        if (!json_is_object(t) || !json_is_string(name) || json_string_length(name) == 0 ||
            json_string_length(name) > TOOL_NAME_MAX ||
            strlen(json_string_value(name)) != json_string_length(name))
            return bad(req, "tools", "each tool needs a name (a string of 1-256 bytes)");
        names[i] = json_string_value(name);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(names[k], names[i]))
                return bad(req, "tools", "tool names must be unique");
    }
    *ret_n = n;
    return NULL;
}

json_t *programmatic_answer_json(const struct kcr_ptc_answer *ans)
{
    switch (ans->status) {
    case KCR_PTC_TOOL_CALLS:
        return json_pack("{s:s,s:s,s:O,s:s}", "status", "tool_call_required", "continuation_token",
                         ans->token, "tool_calls", ans->tool_calls, "session_id",
                         ans->exec.session_id);
    case KCR_PTC_COMPLETED: {
        json_t *o = exec_response_json(&ans->exec);
        json_object_set_new(o, "status", json_string("completed"));
        return o;
    }
    case KCR_PTC_ERROR:
        break;
    }
    json_t *o = exec_response_json(&ans->exec);
    json_object_set_new(o, "status", json_string("error"));
    json_object_set_new(o, "error", json_string(ans->error ? ans->error : "Execution failed"));
    return o;
}

/*** Another replica's runs (core/ptc-route.h) ***/

/* The request's own credential headers and request id, as "Name: value". */
static size_t credential_headers(struct kcr_http_req *req, char *out[3])
{
    static const char *const names[] = {"x-api-key", "Authorization",
                                        PROGRAMMATIC_REQUEST_ID_HEADER};
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        const char *v = http_req_header(req, names[i]);
        if (v)
            out[n++] = xasprintf("%s: %s", names[i], v);
    }
    return n;
}

/* When another replica holds the caller's run named id, its answer to this
 * very request; NULL when none does (*err says why: NOT_FOUND, or the store
 * or the holder failing). A forwarded request is never forwarded again. */
static struct kcr_http_resp *relay(struct kcr_api *api, struct kcr_http_req *req,
                                   enum kcr_ptc_route_kind kind, const char *id, const char *path,
                                   struct kcr_err *err)
{
    if (http_req_header(req, KCR_PTC_FORWARDED_HEADER))
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "forwarded"), NULL;
    char *headers[3];
    size_t nh = credential_headers(req, headers);
    const struct kcr_buf *b = http_req_body(req);
    struct kcr_ptc_forward f = {.path = path,
                                .body = b->data,
                                .body_len = b->len,
                                .headers = (const char *const *)headers,
                                .nheaders = nh,
                                .rate = auth_rate(req)};
    struct kcr_ptc_relayed got;
    int r = ptc_route_relay(&api->core, auth_principal(req), kind, id, &f, &got, err);
    for (size_t i = 0; i < nh; i++)
        free(headers[i]);
    if (r < 0) {
        if (err->kind != KCR_ERR_NOT_FOUND)
            http_req_log(req, "relay_error", json_string(err->msg));
        return NULL;
    }
    http_req_log(req, "relayed", json_true());
    struct kcr_http_resp *resp =
        http_resp_data((int)got.status, got.content_type[0] ? got.content_type : "application/json",
                       got.body, got.len);
    got.body = NULL;
    if (got.retry_after[0])
        http_resp_header(resp, "Retry-After", got.retry_after);
    /* The holder counted the request: its numbers are the caller's. */
    if (got.rate_limit[0] && got.rate_remaining[0] && got.rate_reset[0]) {
        http_resp_header(resp, "RateLimit-Limit", got.rate_limit);
        http_resp_header(resp, "RateLimit-Remaining", got.rate_remaining);
        http_resp_header(resp, "RateLimit-Reset", got.rate_reset);
    }
    ptc_route_relayed_done(&got);
    return resp;
}

/*** Handlers ***/

static struct kcr_http_resp *too_many(struct kcr_http_req *req, const struct kcr_err *err)
{
    http_req_log(req, "ptc_refused", json_true());
    struct kcr_http_resp *resp = http_resp_json(
        429, json_pack("{s:s,s:s,s:I,s:s,s:f}", "error", "rate_limited", "message", err->msg,
                       "retry_after_seconds", (json_int_t)RETRY_AFTER_S, "error_type",
                       errors_type(429), "timestamp", errors_timestamp()));
    char n[16];
    snprintf(n, sizeof(n), "%d", RETRY_AFTER_S);
    http_resp_header(resp, "Retry-After", n);
    return resp;
}

/* The answer of a start or a continuation, logged and counted. */
static struct kcr_http_resp *answer(struct kcr_api *api, struct kcr_http_req *req, int r,
                                    struct kcr_ptc_answer *ans, const struct kcr_err *err,
                                    double t0)
{
    http_req_log(req, "stages_ms", exec_stages_json(&ans->exec.stages));
    if (ans->exec.session_id[0])
        http_req_log(req, "session_id", json_string(ans->exec.session_id));
    if (r < 0) {
        http_req_log(req, "outcome", json_string("error"));
        http_req_log(req, "error", json_string(err->msg));
        if (ans->too_many)
            return too_many(req, err);
        struct kcr_http_resp *resp = errors_from_err(req, err);
        if (err->kind == KCR_ERR_BUSY)
            http_resp_header(resp, "Retry-After", "2");
        return resp;
    }
    static const char *const outcomes[] = {"tool_calls", "completed", "failed"};
    http_req_log(req, "outcome", json_string(outcomes[ans->status]));
    if (ans->status == KCR_PTC_TOOL_CALLS)
        http_req_log(req, "tool_calls", json_integer((json_int_t)json_array_size(ans->tool_calls)));
    else if (ans->lang)
        metrics_record_exec(api->metrics, ans->lang,
                            ans->exec.outcome ? ans->exec.outcome : "failed",
                            (time_mono_ms_f() - t0) / 1e3, http_req_id(req));
    return http_resp_json(200, programmatic_answer_json(ans));
}

static struct kcr_http_resp *start(struct kcr_api *api, struct kcr_http_req *req, json_t *body,
                                   const char *request_id)
{
    /* Absent lang is Python; the rest of the body is /exec's. */
    json_t *lang = json_object_get(body, "lang");
    if (!lang || json_is_null(lang))
        json_object_set_new(body, "lang", json_string("py"));
    _cleanup_free_ struct exec_input *in = xcalloc(1, sizeof(*in));
    struct kcr_http_resp *resp = exec_request_parse(req, auth_principal(req), body, in);
    if (resp)
        return resp;
    if (strcmp(in->req.lang->code, "py") && strcmp(in->req.lang->code, "bash"))
        return bad(req, "lang", "programmatic tool calling runs Python (no lang) or \"bash\"");
    _cleanup_free_ const char **names = xcalloc(KCR_PTC_MAX_TOOLS + 1, sizeof(char *));
    size_t n = 0;
    if ((resp = parse_tools(req, json_object_get(body, "tools"), names, &n)))
        return resp;
    http_req_log(req, "language", json_string(in->req.lang->code));
    struct kcr_ptc_request pr = {
        .exec = in->req,
        .tools = names,
        .ntools = n,
        .request_id = request_id,
    };
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    double t0 = time_mono_ms_f();
    atomic_fetch_add(&api->inflight, 1);
    int r = ptc_start(api->core.ptc, &pr, &ans, &err);
    atomic_fetch_sub(&api->inflight, 1);
    resp = answer(api, req, r, &ans, &err, t0);
    ptc_answer_done(&ans);
    return resp;
}

static struct kcr_http_resp *resume(struct kcr_api *api, struct kcr_http_req *req, json_t *body,
                                    const char *request_id)
{
    json_t *token = json_object_get(body, "continuation_token");
    if (!json_is_string(token) || json_string_length(token) == 0 || json_string_length(token) > 256)
        return bad(req, "continuation_token", "continuation_token must be a non-empty string");
    if (json_object_get(body, "code"))
        return bad(req, "code", "a continuation carries tool_results, not code");
    const char *msg = NULL;
    json_auto_t *results = programmatic_results_parse(json_object_get(body, "tool_results"), &msg);
    if (!results)
        return bad(req, "tool_results", msg);
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    double t0 = time_mono_ms_f();
    atomic_fetch_add(&api->inflight, 1);
    int r = ptc_continue(api->core.ptc, auth_principal(req), json_string_value(token), results,
                         request_id, &ans, &err);
    struct kcr_http_resp *resp = NULL;
    if (r < 0 && err.kind == KCR_ERR_NOT_FOUND) {
        /* Not here: perhaps paused on another replica. */
        struct kcr_err rerr = {0};
        resp = relay(api, req, KCR_PTC_ROUTE_TOKEN, json_string_value(token), "/exec/programmatic",
                     &rerr);
        if (!resp && rerr.kind != KCR_ERR_NOT_FOUND)
            err = rerr;
    }
    atomic_fetch_sub(&api->inflight, 1);
    if (!resp)
        resp = answer(api, req, r, &ans, &err, t0);
    ptc_answer_done(&ans);
    return resp;
}

static json_t *body_object(struct kcr_http_req *req)
{
    const struct kcr_buf *b = http_req_body(req);
    json_t *body = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    if (body && !json_is_object(body)) {
        json_decref(body);
        return NULL;
    }
    return body;
}

struct kcr_http_resp *programmatic_handle(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    json_auto_t *body = body_object(req);
    if (!body)
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("body", "a JSON object is required", "json_invalid")));
    if (!api->core.ptc)
        return errors_app(req, 503, "pod backend unavailable", NULL);
    const char *request_id = http_req_header(req, PROGRAMMATIC_REQUEST_ID_HEADER);
    if (json_object_get(body, "continuation_token"))
        return resume(api, req, body, request_id);
    if (json_object_get(body, "tool_results"))
        return bad(req, "continuation_token", "tool_results need their continuation_token");
    return start(api, req, body, request_id);
}

struct kcr_http_resp *programmatic_handle_cancel(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    json_auto_t *body = body_object(req);
    json_t *id = json_object_get(body, "request_id");
    if (!json_is_string(id) || json_string_length(id) == 0 ||
        json_string_length(id) > KCR_PTC_REQUEST_ID_MAX)
        return bad(req, "request_id", "request_id must be a non-empty string");
    bool done =
        api->core.ptc && ptc_cancel(api->core.ptc, auth_principal(req), json_string_value(id));
    if (!done) {
        /* Not here: perhaps a run of another replica. */
        struct kcr_err err = {0};
        struct kcr_http_resp *resp =
            relay(api, req, KCR_PTC_ROUTE_REQUEST_ID, json_string_value(id),
                  "/exec/programmatic/cancel", &err);
        if (resp)
            return resp;
        if (err.kind != KCR_ERR_NOT_FOUND)
            return errors_from_err(req, &err);
    }
    http_req_log(req, "cancelled", json_boolean(done));
    return http_resp_json(200, json_pack("{s:b}", "cancelled", done));
}
