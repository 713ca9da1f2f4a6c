/* session-files — GET /files/{session_id}?detail=summary|simple|full (docs/api-contract.md rule 8),
 * DELETE /files/{session_id}/{file_id} and the session-object check
 * GET /sessions/{session_id}/objects/{file_id} (LibreChat's freshness test).
 * Each answers only with what the caller may read; anything else looks like
 * a missing id. */
#pragma once

#include <stdint.h>

#include "http/http.h"
#include "core/files.h"

/* ctx = struct kcr_api. */
struct kcr_http_resp *files_handle_list(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *files_handle_delete(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *files_handle_object(struct kcr_http_req *req, void *ctx);

/* The resource named by the query (`kind`, `id`, `version`) into ret; a 400
 * or 403 response when it is malformed or names another user. */
struct kcr_http_resp *files_query_resource(struct kcr_http_req *req, struct kcr_resource *ret);

/* The file the path's {session_id}/{file_id} names, when the caller may read
 * it naming the query's resource: NULL and *ret filled, else the answer (400,
 * 403, 404 "File not found" as for a missing file, 503). ctx = struct kcr_api. */
struct kcr_http_resp *files_readable_of_path(struct kcr_http_req *req, void *ctx,
                                             struct kcr_file_meta *ret);

/* "YYYY-MM-DDTHH:MM:SS.sssZ" for ms since the epoch, into out[32]. */
void files_iso_ms(int64_t ms, char out[32]);
