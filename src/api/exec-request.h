/* exec-request — the JSON body of POST /exec, checked and parsed into the
 * orchestrator's request (KubeCodeRun's validation answers: 422 with
 * pydantic-style details, 400 for empty code and unknown languages). Apart
 * from the handler so that it can be fuzzed on its own. */
#pragma once

#include <jansson.h>

#include "core/orchestrator.h"
#include "http/http.h"

#define EXEC_MAX_ARGS  256
#define EXEC_MAX_FILES 256

/* The parsed request; strings are borrowed from the JSON document. */
struct exec_input {
    struct kcr_exec_request req;
    const char *args[EXEC_MAX_ARGS];
    struct kcr_file_ref files[EXEC_MAX_FILES];
};

/* Fills in (zeroed by the caller) from body for principal p; NULL when the
 * request is valid, else the error response to send. req (may be NULL) only
 * gives error bodies their request id. */
struct kcr_http_resp *exec_request_parse(struct kcr_http_req *req, const struct kcr_principal *p,
                                         json_t *body, struct exec_input *in);
