/* openapi — GET /openapi.json: the API as an OpenAPI 3.0 document. The
 * document is data, src/api/openapi.json, compiled in by the Makefile; only
 * what the running server knows is filled in here (its version, and the
 * languages from lang.h that the handlers use). */
#pragma once

#include <jansson.h>

#include "http/http.h"

/* The document (new reference); NULL if the compiled-in file does not parse (logged). */
json_t *openapi_document(const char *version);

/* ctx = struct kcr_api. */
struct kcr_http_resp *openapi_handle(struct kcr_http_req *req, void *ctx);
