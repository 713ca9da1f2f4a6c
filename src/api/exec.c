#include "api/exec.h"
#include "api/exec-request.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/errors.h"
#include "api/metrics.h"
#include "common/cleanup.h"
#include "common/time.h"
#include "common/xalloc.h"
#include "core/orchestrator.h"

#include <ctype.h>
#include <stdatomic.h>
#include <string.h>

json_t *exec_response_json(const struct kcr_exec_response *res)
{
    json_t *files = json_array();
    for (size_t i = 0; i < res->nfiles; i++)
        json_array_append_new(files, json_pack("{s:s,s:s,s:n}", "id", res->files[i].id, "name",
                                               res->files[i].name, "path"));
    return json_pack("{s:s,s:o,s:s,s:s,s:b,s:o,s:o}", "session_id", res->session_id, "files", files,
                     "stdout", res->stdout_text ? res->stdout_text : "", "stderr",
                     res->stderr_text ? res->stderr_text : "", "has_state", res->has_state,
                     "state_size",
                     res->has_state ? json_integer((json_int_t)res->state_size) : json_null(),
                     "state_hash", res->has_state ? json_string(res->state_hash) : json_null());
}

/* A stage's time for the log, rounded to the microsecond (a double in JSON
 * otherwise prints up to 17 digits). */
static json_t *stage_ms(double ms)
{
    return json_real((double)(long long)(ms * 1e3 + 0.5) / 1e3);
}

/* The request log's `stages_ms` object (docs/api.md): where the execution's
 * time went, stage by stage, as core/orchestrator.h defines them. */
json_t *exec_stages_json(const struct kcr_exec_stages *st)
{
    const struct {
        const char *key;
        double ms;
    } v[] = {
        {"session", st->session_ms},   {"resolve", st->resolve_ms},
        {"queue", st->queue_ms},       {"acquire", st->acquire_ms},
        {"files_in", st->files_in_ms}, {"list_before", st->list_before_ms},
        {"execute", st->execute_ms},   {"list_after", st->list_after_ms},
        {"state", st->state_ms},       {"outputs", st->outputs_ms},
        {"release", st->release_ms},   {"total", st->total_ms},
    };
    json_t *o = json_object();
    for (size_t i = 0; i < ARRAY_SIZE(v); i++)
        json_object_set_new(o, v[i].key, stage_ms(v[i].ms));
    return o;
}

struct kcr_http_resp *exec_handle(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const struct kcr_buf *b = http_req_body(req);
    json_error_t jerr;
    json_auto_t *body = json_loadb(b->data ? b->data : "", b->len, 0, &jerr);
    if (!body)
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("body", "JSON decode error", "json_invalid")));
    _cleanup_free_ struct exec_input *in = xcalloc(1, sizeof(*in));
    in->req.principal = auth_principal(req);
    struct kcr_http_resp *bad = exec_request_parse(req, auth_principal(req), body, in);
    if (bad)
        return bad;
    http_req_log(req, "language", json_string(in->req.lang->code));

    double t0 = time_mono_ms_f();
    atomic_fetch_add(&api->inflight, 1);
    struct kcr_exec_response res;
    struct kcr_err err = {0};
    int r = orchestrator_exec(&api->core, &in->req, &res, &err);
    atomic_fetch_sub(&api->inflight, 1);
    double secs = (time_mono_ms_f() - t0) / 1e3;
    http_req_log(req, "stages_ms", exec_stages_json(&res.stages));
    if (r < 0) {
        http_req_log(req, "outcome", json_string("error"));
        http_req_log(req, "error", json_string(err.msg));
        metrics_record_exec(api->metrics, in->req.lang->code, "error", secs, http_req_id(req));
        struct kcr_http_resp *resp = errors_from_err(req, &err);
        /* Every slot stayed busy for the whole queue wait: a few seconds on
         * frees some (a typical execution takes well under one). */
        if (err.kind == KCR_ERR_BUSY)
            http_resp_header(resp, "Retry-After", "2");
        return resp;
    }
    http_req_log(req, "outcome", json_string(res.outcome));
    http_req_log(req, "session_id", json_string(res.session_id));
    metrics_record_exec(api->metrics, in->req.lang->code, res.outcome, secs, http_req_id(req));
    json_t *out = exec_response_json(&res);
    orchestrator_response_done(&res);
    return http_resp_json(200, out);
}
