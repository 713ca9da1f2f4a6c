/* health — GET /health (liveness), /ready (readiness: store and pod backend
 * usable) and /health/detailed (each dependency's state). */
#pragma once

#include "http/http.h"

/* ctx = struct kcr_api. */
struct kcr_http_resp *health_handle(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *health_handle_ready(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *health_handle_detailed(struct kcr_http_req *req, void *ctx);
