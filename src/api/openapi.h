/* openapi — GET /openapi.json: the API as an OpenAPI 3.0 document, built
 * once from the same knowledge the handlers use (languages from lang.h). */
#pragma once

#include <jansson.h>

#include "http/http.h"

/* The document (new reference). */
json_t *openapi_document(const char *version);

/* ctx = struct kcr_api. */
struct kcr_http_resp *openapi_handle(struct kcr_http_req *req, void *ctx);
