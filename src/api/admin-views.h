/* admin-views — the operator dashboard's read-only JSON under
 * /api/v1/admin/ (docs/dashboard.md), each behind the master key like every
 * admin route (admin_check_master):
 *   GET overview          version, uptime, each dependency's health (stores,
 *                         pod backend, warm pool per language), execution
 *                         slots, programmatic runs, authentication
 *   GET metrics/history   the last hour (api/metrics-history.h) and the
 *                         /metrics execution counters since the start
 *   GET sessions/summary  live sessions, the oldest, files and states stored
 *   GET config            the settings in force, secrets redacted
 * Managed keys are the admin key routes (api/admin.h). */
#pragma once

#include "http/http.h"

/* ctx = struct kcr_api. */
struct kcr_http_resp *admin_handle_overview(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *admin_handle_history(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *admin_handle_sessions_summary(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *admin_handle_config(struct kcr_http_req *req, void *ctx);
