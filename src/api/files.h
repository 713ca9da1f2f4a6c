/* files — GET /files/{session_id}?detail=summary|simple|full (rule 8) and
 * DELETE /files/{session_id}/{file_id}. */
#pragma once

#include <stdint.h>

#include "http/http.h"

/* ctx = struct kcr_api. */
struct kcr_http_resp *files_handle_list(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *files_handle_delete(struct kcr_http_req *req, void *ctx);

/* "YYYY-MM-DDTHH:MM:SS.sssZ" for ms since the epoch, into out[32]. */
void files_iso_ms(int64_t ms, char out[32]);
