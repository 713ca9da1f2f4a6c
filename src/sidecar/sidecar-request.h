/* sidecar-request — the body of POST /execute, parsed and validated.
 *
 * {code, lang?, timeout?, working_dir?=KCR_WORKDIR, args?: [string], stdin?: string,
 *  list_files?: bool}; unknown fields are ignored (a newer kcr may send fields an
 * older sidecar image does not know: it must still run the code). A bad request
 * names the offending field. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "common/lang.h"

#define SIDECAR_MAX_ARGS    64
#define SIDECAR_MAX_ARG_LEN 4096

struct sidecar_request {
    char *code;
    size_t code_len; /* code may hold NUL bytes */
    const struct kcr_lang *lang;
    long timeout_s;
    char *working_dir; /* absolute path inside the main container */
    char **args;       /* nargs strings */
    size_t nargs;
    char *stdin_data; /* NULL when absent */
    size_t stdin_len;
    /* The answer also carries the listing of GET /files?recursive=1, taken
     * once the program is over: it saves kcr that request. */
    bool list_files;
};

struct sidecar_request_error {
    int status;        /* 400 or 422 */
    const char *field; /* "code", "lang", ... or NULL */
    char msg[200];
};

/* Parses body. default_lang and max_timeout come from the configuration.
 * Returns 0, or -1 with e filled (nothing to free in ret then). */
int sidecar_request_parse(const char *body, size_t len, const char *default_lang, long max_timeout,
                          struct sidecar_request *ret, struct sidecar_request_error *e);

/* Frees what req holds. */
void sidecar_request_done(struct sidecar_request *req);
