/* http-internal — the pure routing helpers of the HTTP layer (percent-decoding,
 * path splitting, route matching), apart from libmicrohttpd so that they can be
 * tested and fuzzed on their own. Not for use outside src/http and fuzz/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

#define HTTP_MAX_PARAMS   8
#define HTTP_MAX_SEGMENTS 64

/* Percent-decodes n bytes of s ('+' becomes ' ' when plus_is_space). Returns a
 * new string, or NULL on a bad escape or a NUL byte (raw or decoded). */
char *http_pct_decode(const char *s, size_t n, bool plus_is_space);

/* Splits and decodes a raw path into at most max segments (each a new string).
 * Returns the count or -1 on a bad escape / NUL byte / too many segments. A
 * trailing slash is ignored ("/files/" == "/files"). */
int http_split_path(const char *raw, char **segs, int max);

/* Matches decoded segments against a route pattern; on success fills params
 * (at most HTTP_MAX_PARAMS new strings) and *nparams. */
bool http_route_match(const char *pattern, char **segs, int nsegs, char **params,
                      unsigned *nparams);

/* url without prefix when it starts with prefix followed by '/' or its end
 * ("/" for the prefix alone); url itself otherwise. prefix may be NULL. */
const char *http_strip_prefix(const char *url, const char *prefix);

/* What routing found for one request; the strings are new (see http_route_free). */
struct http_route_result {
    char *path; /* decoded path after the prefix; the raw one on 400 */
    char *params[HTTP_MAX_PARAMS];
    unsigned nparams;
    const struct kcr_http_route *route; /* NULL unless 0 is returned */
};

/* Finds the route of cfg for method and raw url; returns 0, or 404/405/400
 * with *allow listing the methods that would match for 405. */
int http_route_find(const struct kcr_http_config *cfg, const char *method, const char *url,
                    struct http_route_result *ret, char *allow, size_t allow_size);

/* Frees the strings of a result (not the struct). */
void http_route_free(struct http_route_result *res);
