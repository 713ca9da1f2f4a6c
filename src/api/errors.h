/* errors — the one table from error kinds to HTTP statuses, and the error
 * body shapes of docs/api-contract.md rule 11:
 *   app errors:        {"error","error_type","details","request_id","timestamp"}
 *   middleware errors: {"error","timestamp"}  (401, 415, before any handler) */
#pragma once

#include <jansson.h>

#include "common/err.h"
#include "http/http.h"

/* The HTTP status for an error kind (THE table). */
int errors_status(enum kcr_err_kind kind);

/* "validation", "authentication", ... for a status. */
const char *errors_type(int status);

/* Seconds since the epoch with a fraction, as KubeCodeRun's timestamps. */
double errors_timestamp(void);

/* One validation detail {"field","message","code"} (field/code may be NULL). */
json_t *errors_detail(const char *field, const char *message, const char *code);

/* An app error response; details (taken) may be NULL. */
struct kcr_http_resp *errors_app(struct kcr_http_req *req, int status, const char *msg,
                                 json_t *details);

/* The app error for a kcr_err (status from the table). */
struct kcr_http_resp *errors_from_err(struct kcr_http_req *req, const struct kcr_err *err);

/* A middleware error {"error","timestamp"}. */
struct kcr_http_resp *errors_middleware(int status, const char *msg);

/* The http layer's error hook (404, 405, 400, 413, 500 raised by the layer). */
struct kcr_http_resp *errors_http_hook(struct kcr_http_req *req, int status, const char *msg,
                                       void *ctx);
