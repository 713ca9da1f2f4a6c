/* download — GET and OPTIONS /download/{session_id}/{file_id} (docs/api-contract.md rule 9). */
#pragma once

#include <stddef.h>

#include "http/http.h"

/* ctx = struct kcr_api. */
struct kcr_http_resp *download_handle(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *download_handle_options(struct kcr_http_req *req, void *ctx);

/* The Content-Disposition value for a file name: an ASCII fallback plus the
 * RFC 5987 UTF-8 form. Returns a new string. */
char *download_disposition(const char *name);
