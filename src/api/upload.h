/* upload — POST /upload: multipart field `file` (one) or `files` (many), plus
 * an optional `entity_id`; parts arrive spooled to unnamed files (rule 7). */
#pragma once

#include "http/http.h"

/* ctx = struct kcr_api. */
struct kcr_http_resp *upload_handle(struct kcr_http_req *req, void *ctx);
