/* metrics — counters for GET /metrics (Prometheus text format 0.0.4):
 * executions by language and outcome, an execution latency histogram per
 * language, HTTP responses by status, and the warm pool's sizes. */
#pragma once

#include "http/http.h"

struct kcr_metrics;

struct kcr_metrics *metrics_new(void);
struct kcr_metrics *metrics_free(struct kcr_metrics *m);

/* outcome: "completed", "failed", "timeout", "oom" or "error". */
void metrics_record_exec(struct kcr_metrics *m, const char *lang, const char *outcome,
                         double seconds);
void metrics_record_request(struct kcr_metrics *m, int status);

/* GET /metrics (ctx = struct kcr_api). */
struct kcr_http_resp *metrics_handle(struct kcr_http_req *req, void *ctx);
