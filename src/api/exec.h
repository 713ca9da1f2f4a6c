/* exec — POST /exec: validation (rules 1-2), then the orchestrator. */
#pragma once

#include <jansson.h>

#include "core/orchestrator.h"
#include "http/http.h"

/* ctx = struct kcr_api. */
struct kcr_http_resp *exec_handle(struct kcr_http_req *req, void *ctx);

/* /exec's answer for res: session_id, files, stdout, stderr, state fields
 * (new reference; also the body of a completed programmatic run). */
json_t *exec_response_json(const struct kcr_exec_response *res);

/* The request log's `stages_ms` object for st (new reference). */
json_t *exec_stages_json(const struct kcr_exec_stages *st);
