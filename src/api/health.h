/* health — GET /health (liveness), /ready (readiness: store and pod backend
 * usable) and /health/detailed (each dependency's state). */
#pragma once

#include "http/http.h"

/* Each dependency's state, as /health/detailed's "services" (owned by the
 * caller): {"metadata", "files", "pods"}, each {"service","status",...};
 * "pods" has the backend's details and the warm pool's counts. */
struct kcr_api;
json_t *health_services(struct kcr_api *api);

/* ctx = struct kcr_api. */
struct kcr_http_resp *health_handle(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *health_handle_ready(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *health_handle_detailed(struct kcr_http_req *req, void *ctx);
