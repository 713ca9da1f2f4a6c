/* state — the Python state blob endpoints with KubeCodeRun's exact semantics
 * (docs/api-contract.md rule 13): GET/POST/DELETE /state/{session_id},
 * GET /state/{session_id}/info.
 * A state is a version byte (1 = cloudpickle, 2 = lz4-compressed) and its
 * payload, at most 50 MiB, identified by its sha256. */
#pragma once

#include "http/http.h"

#define STATE_MAX_BYTES 52428800u

/* ctx = struct kcr_api. */
struct kcr_http_resp *state_handle_get(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *state_handle_post(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *state_handle_delete(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *state_handle_info(struct kcr_http_req *req, void *ctx);
