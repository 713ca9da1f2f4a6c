#include "api/admin-views.h"
#include "api/admin.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/errors.h"
#include "api/session-files.h"
#include "api/health.h"
#include "api/metrics.h"
#include "common/time.h"
#include "core/ptc.h"
#include "core/session.h"

#include <string.h>

/* The worst status among the services: "healthy", "degraded" or "unhealthy". */
static const char *overall(json_t *services)
{
    bool degraded = false, unhealthy = false;
    const char *k;
    json_t *v;
    json_object_foreach(services, k, v)
    {
        const char *st = json_string_value(json_object_get(v, "status"));
        degraded |= st && !strcmp(st, "degraded");
        unhealthy |= !st || !strcmp(st, "unhealthy");
    }
    return unhealthy ? "unhealthy" : degraded ? "degraded" : "healthy";
}

struct kcr_http_resp *admin_handle_overview(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_http_resp *deny = admin_check_master(req, api);
    if (deny)
        return deny;
    int64_t now = time_wall_ms();
    char started[32], at[32];
    files_iso_ms(api->started_ms, started);
    files_iso_ms(now, at);
    json_t *services = health_services(api);
    struct kcr_admission_stats slots;
    admission_stats(api->core.admission, &slots);
    struct kcr_ptc_stats ptc;
    ptc_stats(api->core.ptc, &ptc);
    json_t *body = json_pack(
        "{s:s,s:s,s:s,s:s,s:f,s:s,s:o,s:{s:i,s:i,s:i,s:I},s:{s:i,s:i,s:i},s:i,s:o}", "version",
        api->version, "backend", core_backend_name(&api->core), "now", at, "started_at", started,
        "uptime_seconds", (double)(now - api->started_ms) / 1000.0, "status", overall(services),
        "services", services, "exec_slots", "max", (int)slots.max, "running", (int)slots.running,
        "waiting", (int)slots.waiting, "refused", (json_int_t)slots.refused, "programmatic",
        "running", (int)ptc.running, "paused", (int)ptc.paused, "max", (int)ptc.max_runs,
        "inflight", atomic_load(&api->inflight), "auth", auth_describe(api->auth));
    return http_resp_json(200, body);
}

struct kcr_http_resp *admin_handle_history(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_http_resp *deny = admin_check_master(req, api);
    if (deny)
        return deny;
    return http_resp_json(200, metrics_history(api->metrics));
}

struct kcr_http_resp *admin_handle_sessions_summary(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_http_resp *deny = admin_check_master(req, api);
    if (deny)
        return deny;
    struct kcr_store_summary s;
    struct kcr_err err = {0};
    if (session_summary(&api->core, &s, &err) < 0)
        return errors_from_err(req, &err);
    json_t *oldest = json_null(), *age = json_null();
    if (s.sessions && s.oldest_ms > 0) {
        char iso[32];
        files_iso_ms(s.oldest_ms, iso);
        oldest = json_string(iso);
        age = json_real((double)(time_wall_ms() - s.oldest_ms) / 1000.0);
    }
    return http_resp_json(
        200, json_pack("{s:I,s:o,s:o,s:I,s:I,s:I,s:I,s:I}", "sessions", (json_int_t)s.sessions,
                       "oldest_created_at", oldest, "oldest_age_seconds", age, "files",
                       (json_int_t)s.files, "file_bytes", (json_int_t)s.file_bytes, "states",
                       (json_int_t)s.states, "state_bytes", (json_int_t)s.state_bytes, "bytes",
                       (json_int_t)(s.file_bytes + s.state_bytes)));
}

struct kcr_http_resp *admin_handle_config(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_http_resp *deny = admin_check_master(req, api);
    if (deny)
        return deny;
    return http_resp_json(200, config_describe(api->core.cfg));
}
