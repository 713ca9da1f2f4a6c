/* programmatic — POST /exec/programmatic and /exec/programmatic/cancel
 * (docs/ptc.md): LibreChat's programmatic tool calling over core/ptc.h.
 * A body with continuation_token resumes a paused run, any other body starts
 * one; every body is checked completely before a token is looked up, so a
 * malformed continuation leaves its run paused. */
#pragma once

#include <jansson.h>

#include "core/ptc.h"
#include "http/http.h"

/* The header that names a request for /cancel (LibreChat's client sends it). */
#define PROGRAMMATIC_REQUEST_ID_HEADER "X-LibreChat-Code-Request-ID"

/* ctx = struct kcr_api. */
struct kcr_http_resp *programmatic_handle(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *programmatic_handle_cancel(struct kcr_http_req *req, void *ctx);

/* The tool_results of a continuation, checked and rebuilt with only the
 * fields a sidecar reads (new reference); NULL with *ret_msg set when bad. */
json_t *programmatic_results_parse(json_t *results, const char **ret_msg);

/* The answer body for ans (new reference). */
json_t *programmatic_answer_json(const struct kcr_ptc_answer *ans);
