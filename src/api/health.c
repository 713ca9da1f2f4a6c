#include "api/health.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/session-files.h"
#include "common/time.h"

#include <string.h>

struct kcr_http_resp *health_handle(struct kcr_http_req *req, void *ctx)
{
    (void)req;
    struct kcr_api *api = ctx;
    return http_resp_json(200,
                          json_pack("{s:s,s:s,s:{s:b,s:b,s:b}}", "status", "healthy", "version",
                                    api->version, "config", "debug", 0, "docs_enabled", 1,
                                    "cors_enabled", api->core.cfg->enable_cors));
}

/* {"metadata":{"store":"redis","status":"healthy"},"files":{...}}: which
 * store is down, without the cause (that goes to the log). */
static json_t *ready_stores(struct kcr_api *api, int failed)
{
    return json_pack("{s:{s:s,s:s},s:{s:s,s:s}}", "metadata", "store", core_meta_name(&api->core),
                     "status", failed & CORE_PING_META ? "unhealthy" : "healthy", "files", "store",
                     core_blob_name(&api->core), "status",
                     failed & CORE_PING_BLOB ? "unhealthy" : "healthy");
}

struct kcr_http_resp *health_handle_ready(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_err merr = {0}, berr = {0};
    /* /ready is public: the cause (paths, database messages) goes to the
     * log, the answer only says which dependency is down. */
    int failed = core_ping(&api->core, &merr, &berr, NULL, NULL);
    if (failed) {
        http_req_log(req, "error", json_string(failed & CORE_PING_META ? merr.msg : berr.msg));
        return http_resp_json(503,
                              json_pack("{s:s,s:s,s:o}", "status", "not_ready", "reason",
                                        "store unavailable", "stores", ready_stores(api, failed)));
    }
    if (!api->core.pool)
        return http_resp_json(503,
                              json_pack("{s:s,s:s,s:o}", "status", "not_ready", "reason",
                                        "pod backend unavailable", "stores", ready_stores(api, 0)));
    return http_resp_json(
        200, json_pack("{s:s,s:o}", "status", "ready", "stores", ready_stores(api, 0)));
}

/* One service entry: {"service","status","timestamp","response_time_ms",("error")}. */
static json_t *service(const char *name, int rc, const struct kcr_err *err, double ms,
                       const char *now)
{
    json_t *s =
        json_pack("{s:s,s:s,s:s,s:f}", "service", name, "status", rc == 0 ? "healthy" : "unhealthy",
                  "timestamp", now, "response_time_ms", ms);
    if (rc < 0)
        json_object_set_new(s, "error", json_string(err->msg));
    return s;
}

static json_t *pods_service(struct kcr_api *api, const char *now)
{
    if (!api->core.backend || !api->core.pool)
        return json_pack("{s:s,s:s,s:s,s:s}", "service", "pods", "status", "unhealthy", "timestamp",
                         now, "error", "pod backend unavailable");
    json_t *h = core_backend_health(&api->core);
    json_t *s = json_pack("{s:s,s:s,s:s,s:s}", "service", "pods", "backend",
                          core_backend_name(&api->core), "timestamp", now, "status", "healthy");
    const char *st = json_string_value(json_object_get(h, "status"));
    if (st)
        json_object_set_new(s, "status", json_string(st));
    json_object_set_new(s, "details", h ? h : json_object());
    json_object_set_new(s, "pool", core_pool_stats(&api->core));
    return s;
}

json_t *health_services(struct kcr_api *api)
{
    char now[32];
    files_iso_ms(time_wall_ms(), now);
    struct kcr_err e1 = {0}, e2 = {0};
    double ms1 = 0, ms2 = 0;
    int failed = core_ping(&api->core, &e1, &e2, &ms1, &ms2);
    int r1 = failed & CORE_PING_META ? -1 : 0, r2 = failed & CORE_PING_BLOB ? -1 : 0;
    const char *blob = core_blob_name(&api->core);
    return json_pack("{s:o,s:o,s:o}", "metadata",
                     service(core_meta_name(&api->core), r1, &e1, ms1, now), "files",
                     service(strcmp(blob, "fs") ? blob : "filesystem", r2, &e2, ms2, now), "pods",
                     pods_service(api, now));
}

struct kcr_http_resp *health_handle_detailed(struct kcr_http_req *req, void *ctx)
{
    (void)req;
    struct kcr_api *api = ctx;
    char now[32];
    files_iso_ms(time_wall_ms(), now);
    json_t *services = health_services(api);
    int healthy = 0, degraded = 0, unhealthy = 0;
    const char *k;
    json_t *v;
    json_object_foreach(services, k, v)
    {
        const char *st = json_string_value(json_object_get(v, "status"));
        healthy += st && !strcmp(st, "healthy");
        degraded += st && !strcmp(st, "degraded");
        unhealthy += !st || !strcmp(st, "unhealthy");
    }
    const char *overall = unhealthy ? "unhealthy" : degraded ? "degraded" : "healthy";
    json_t *body =
        json_pack("{s:s,s:s,s:o,s:{s:i,s:i,s:i,s:i},s:o}", "status", overall, "timestamp", now,
                  "services", services, "summary", "total_services", healthy + degraded + unhealthy,
                  "healthy_services", healthy, "degraded_services", degraded, "unhealthy_services",
                  unhealthy, "auth", auth_describe(api->auth));
    struct kcr_http_resp *r = http_resp_json(unhealthy ? 503 : 200, body);
    if (degraded && !unhealthy)
        http_resp_header(r, "X-Health-Status", "degraded");
    return r;
}
