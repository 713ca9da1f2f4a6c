/* metrics — counters for GET /metrics (Prometheus text format 0.0.4):
 * executions by language and outcome, an execution latency histogram per
 * language, HTTP responses by status, and the warm pool's sizes; and the
 * last hour of executions for the dashboard (api/metrics-history.h). */
#pragma once

#include "http/http.h"

struct kcr_metrics;

struct kcr_metrics *metrics_new(void);
struct kcr_metrics *metrics_free(struct kcr_metrics *m);

/* One execution, counted for /metrics and kept in the last hour's history
 * (api/metrics-history.h). outcome: "completed", "failed", "timeout", "oom"
 * or "error"; request_id (may be NULL) is the HTTP request's id. */
void metrics_record_exec(struct kcr_metrics *m, const char *lang, const char *outcome,
                         double seconds, const char *request_id);
void metrics_record_request(struct kcr_metrics *m, int status);

/* The dashboard's view (owned by the caller): metrics_history_json of the
 * last hour, plus "totals": {language: {outcome: n}} since the start, the very
 * counters /metrics shows as kcr_executions_total. */
json_t *metrics_history(struct kcr_metrics *m);

/* GET /metrics (ctx = struct kcr_api). */
struct kcr_http_resp *metrics_handle(struct kcr_http_req *req, void *ctx);
