/* upload — POST /upload: multipart field `file` (one) or `files` (many), plus
 * an optional `entity_id`; parts arrive spooled to unnamed files
 * (docs/api-contract.md rule 7). */
#pragma once

#include "http/http.h"

/* ctx = struct kcr_api. */
struct kcr_http_resp *upload_handle(struct kcr_http_req *req, void *ctx);
/* POST /upload/batch (newer LibreChat): the same parts, each reported with its
 * own status: {"message","storage_session_id","files":[{"status","fileId",
 * "filename","error"?}],"succeeded","failed"}. */
struct kcr_http_resp *upload_handle_batch(struct kcr_http_req *req, void *ctx);
