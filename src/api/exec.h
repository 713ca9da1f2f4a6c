/* exec — POST /exec: validation (rules 1-2), then the orchestrator. */
#pragma once

#include "http/http.h"

/* ctx = struct kcr_api. */
struct kcr_http_resp *exec_handle(struct kcr_http_req *req, void *ctx);
