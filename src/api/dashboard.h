/* dashboard — the operator dashboard's page: GET /admin (also /admin/),
 * /admin/dashboard.js and /admin/dashboard.css, compiled into kcr from
 * src/api/dashboard/ by the Makefile (docs/dashboard.md). The files are
 * static and hold no data, so they are served without a key: the page asks
 * for the master key and reads the admin routes (api/admin-views.h,
 * api/admin.h), which refuse without it. */
#pragma once

#include <stdbool.h>

#include "http/http.h"

/* The Content-Security-Policy of the page: its own script and style files
 * only (no inline script or style, no eval), its own origin for requests,
 * never framed. Every other response keeps the API's "default-src 'self'". */
#define DASHBOARD_CSP                                                                              \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/* Whether path (as routed: no /v1, no trailing slash) is one of the page's files. */
bool dashboard_is_page(const char *path);

/* ctx = struct kcr_api (unused). */
struct kcr_http_resp *dashboard_handle_page(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *dashboard_handle_js(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *dashboard_handle_css(struct kcr_http_req *req, void *ctx);
