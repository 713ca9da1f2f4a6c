/* Fuzzes the request JSON of POST /exec through its real parser,
 * exec_request_parse (src/api/exec-request.c), for a JWT caller and for an
 * API-key caller. Properties (abort otherwise): the parser either accepts —
 * then code is non-blank, lang a known language, every file reference has an
 * id or a name and at most EXEC_MAX_FILES of them, args at most
 * EXEC_MAX_ARGS — or answers 400/403/422 (never 5xx, never both). POST
 * /upload has no JSON body: its names are fuzzed by fuzz_names. */
#include "fuzz.h"
#include "api/exec-request.h"
#include "common/lang.h"
#include "core/principal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void check(const struct kcr_principal *p, json_t *body)
{
    struct exec_input *in = calloc(1, sizeof(*in));
    if (!in)
        abort();
    struct kcr_http_resp *r = exec_request_parse(NULL, p, body, in);
    if (r) {
        int st = http_resp_status(r);
        if (st != 400 && st != 403 && st != 422)
            abort();
        http_resp_free(r);
        free(in);
        return;
    }
    const char *c = in->req.code;
    bool blank = true;
    for (; c && *c && blank; c++)
        blank = isspace((unsigned char)*c);
    if (!in->req.code || blank || !in->req.lang || in->req.principal != p ||
        in->req.nfiles > EXEC_MAX_FILES || in->req.nargs > EXEC_MAX_ARGS)
        abort();
    for (size_t i = 0; i < in->req.nfiles; i++)
        if (!in->req.files[i].id && !in->req.files[i].name)
            abort();
    free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (!body)
        return 0;
    struct kcr_principal jwt, key;
    principal_jwt(&jwt, "tenant-1", "user-1");
    principal_key(&key, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL);
    check(&jwt, body);
    check(&key, body);
    json_decref(body);
    return 0;
}
