/* Fuzzes the HTTP layer's path handling (src/http/http-route.c): percent-
 * decoding, splitting, prefix stripping and route matching, on kcr serve's
 * route table and on a pattern taken from the input.
 * Input: "PATTERN\nURL", or a URL alone. Properties checked (abort otherwise):
 *  - a decoded string is no longer than its input, and percent-encoding it
 *    again then decoding gives it back byte for byte;
 *  - routing answers 0/400/404/405 only; 0 names a route, and fills exactly
 *    as many params as the pattern has {} / {*}, the {} ones never empty;
 *  - the decoded path of a routable URL starts with '/'. */
#include "fuzz.h"
#include "http/http-internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R(m, p)                                                                                    \
    {                                                                                              \
        m, p, KCR_HTTP_BODY_NONE, NULL                                                             \
    }
static const struct kcr_http_route serve_routes[] = {
    R("POST", "/exec"),          R("POST", "/upload"),
    R("POST", "/upload/batch"),  R("GET", "/files/{}"),
    R("DELETE", "/files/{}/{}"), R("GET", "/sessions/{}/objects/{}"),
    R("GET", "/download/{}/{}"), R("OPTIONS", "/download/{}/{}"),
    R("GET", "/state/{}"),       R("POST", "/state/{}"),
    R("GET", "/state/{}/info"),  R("GET", "/files/{*}"),
};

/* The {} and {*} tokens route matching sees (it reads 255 bytes of a pattern
 * and stops at {*}); *rest tells whether the last one is {*}. */
static unsigned count_params(const char *pattern, bool *rest)
{
    char pat[256], *save = NULL;
    snprintf(pat, sizeof(pat), "%s", pattern);
    unsigned n = 0;
    for (char *t = strtok_r(pat, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        *rest = !strcmp(t, "{*}");
        n += *rest || !strcmp(t, "{}");
        if (*rest)
            break;
    }
    return n;
}

static void check_decode(const uint8_t *data, size_t size)
{
    char *out = http_pct_decode((const char *)data, size, size & 1);
    if (!out)
        return;
    size_t n = strlen(out);
    char *enc = malloc(3 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(enc + 3 * i, "%%%02X", (unsigned char)out[i]);
    char *back = http_pct_decode(enc, 3 * n, false);
    if (n > size || !back || strcmp(back, out))
        abort();
    free(back);
    free(enc);
    free(out);
}

static void check_route(const struct kcr_http_config *cfg, const char *method, const char *url)
{
    struct http_route_result res = {0};
    char allow[128];
    int st = http_route_find(cfg, method, url, &res, allow, sizeof(allow));
    if (st != 0 && st != 400 && st != 404 && st != 405)
        abort();
    if (!res.path || (st != 400 && res.path[0] != '/') || (st == 0) != (res.route != NULL))
        abort();
    bool rest = false;
    if (st == 0 &&
        (res.nparams != count_params(res.route->pattern, &rest) || res.nparams > HTTP_MAX_PARAMS))
        abort();
    /* {*} may capture "" ("/files//" has an empty last segment): not checked. */
    for (unsigned i = 0; i + rest < res.nparams; i++)
        if (!res.params[i][0])
            abort();
    http_route_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decode(data, size);
    char *s = strndup((const char *)data, size);
    char *nl = strchr(s, '\n');
    const char *url = nl ? nl + 1 : s;
    if (nl)
        *nl = '\0';
    struct kcr_http_config cfg = {.routes = serve_routes,
                                  .nroutes = sizeof(serve_routes) / sizeof(serve_routes[0]),
                                  .strip_prefix = "/v1"};
    check_route(&cfg, "GET", url);
    check_route(&cfg, "POST", url);
    if (nl) {
        struct kcr_http_route own = {"GET", s, KCR_HTTP_BODY_NONE, NULL};
        struct kcr_http_config one = {.routes = &own, .nroutes = 1};
        check_route(&one, "HEAD", url);
    }
    free(s);
    return 0;
}
