#include "http/http-internal.h"
#include "common/buf.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes of s. Returns a new string, or NULL when the input
 * has a bad escape or decodes to a NUL byte (which C strings cannot carry and
 * which is never a legitimate name). */
char *http_pct_decode(const char *s, size_t n, bool plus_is_space)
{
    char *out = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == '\0') {
            free(out);
            return NULL;
        }
        out[k++] = c;
    }
    out[k] = '\0';
    return out;
}

/* Splits and decodes a raw path into segments. Returns the count or -1 on a bad
 * escape / NUL byte. A trailing slash is ignored ("/files/" == "/files"). */
int http_split_path(const char *raw, char **segs, int max)
{
    int n = 0;
    const char *p = raw;
    while (*p == '/')
        p++;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (n == max)
            goto fail;
        segs[n] = http_pct_decode(p, len, false);
        if (!segs[n])
            goto fail;
        n++;
        if (!end)
            break;
        p = end + 1;
    }
    return n;
fail:
    for (int i = 0; i < n; i++)
        free(segs[i]);
    return -1;
}

/* segs[from..nsegs) joined with '/', as a new string. */
static char *join_segments(char **segs, int from, int nsegs)
{
    struct kcr_buf b;
    buf_init(&b, 0);
    for (int k = from; k < nsegs; k++)
        buf_printf(&b, "%s%s", k > from ? "/" : "", segs[k]);
    return buf_take(&b, NULL);
}

/* Matches decoded segments against a pattern; on success fills params. */
bool http_route_match(const char *pattern, char **segs, int nsegs, char **params, unsigned *nparams)
{
    char pat[256];
    snprintf(pat, sizeof(pat), "%s", pattern);
    unsigned np = 0;
    int i = 0;
    char *save = NULL;
    for (char *tok = strtok_r(pat, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (!strcmp(tok, "{*}")) {
            if (i >= nsegs || np == HTTP_MAX_PARAMS)
                goto fail;
            params[np++] = join_segments(segs, i, nsegs);
            i = nsegs;
            break;
        }
        if (i >= nsegs)
            goto fail;
        if (!strcmp(tok, "{}")) {
            if (np == HTTP_MAX_PARAMS || !*segs[i])
                goto fail;
            params[np++] = xstrdup(segs[i]);
        } else if (strcmp(tok, segs[i]) != 0) {
            goto fail;
        }
        i++;
    }
    if (i != nsegs)
        goto fail;
    *nparams = np;
    return true;
fail:
    for (unsigned k = 0; k < np; k++)
        free(params[k]);
    return false;
}

const char *http_strip_prefix(const char *url, const char *prefix)
{
    size_t n = prefix ? strlen(prefix) : 0;
    if (n && !strncmp(url, prefix, n) && (url[n] == '/' || url[n] == '\0'))
        return url[n] ? url + n : "/";
    return url;
}

/* "/" followed by the segments joined with '/'. */
static char *join_path(char **segs, int nsegs)
{
    struct kcr_buf b;
    buf_init(&b, 0);
    buf_append(&b, "/", 1);
    for (int i = 0; i < nsegs; i++)
        buf_printf(&b, "%s%s", i ? "/" : "", segs[i]);
    return buf_take(&b, NULL);
}

static void allow_add(char *allow, size_t allow_size, const char *method)
{
    size_t used = strlen(allow);
    snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "", method);
}

/* Finds the route; returns 0, or 404/405/400 with *allow listing methods for 405. */
int http_route_find(const struct kcr_http_config *cfg, const char *method, const char *url,
                    struct http_route_result *ret, char *allow, size_t allow_size)
{
    char *segs[HTTP_MAX_SEGMENTS];
    const char *raw = http_strip_prefix(url, cfg->strip_prefix);
    int nsegs = http_split_path(raw, segs, HTTP_MAX_SEGMENTS);
    if (nsegs < 0) {
        ret->path = xstrdup(raw);
        return 400;
    }
    ret->path = join_path(segs, nsegs);

    const char *m = strcmp(method, "HEAD") ? method : "GET";
    int status = 404;
    allow[0] = '\0';
    for (size_t r = 0; r < cfg->nroutes; r++) {
        const struct kcr_http_route *rt = &cfg->routes[r];
        char *params[HTTP_MAX_PARAMS];
        unsigned np = 0;
        if (!http_route_match(rt->pattern, segs, nsegs, params, &np))
            continue;
        if (!strcmp(rt->method, m)) {
            for (unsigned k = 0; k < np; k++)
                ret->params[k] = params[k];
            ret->nparams = np;
            ret->route = rt;
            status = 0;
            break;
        }
        for (unsigned k = 0; k < np; k++)
            free(params[k]);
        allow_add(allow, allow_size, rt->method);
        status = 405;
    }
    for (int i = 0; i < nsegs; i++)
        free(segs[i]);
    return status;
}

void http_route_free(struct http_route_result *res)
{
    free(res->path);
    for (unsigned i = 0; i < res->nparams; i++)
        free(res->params[i]);
    res->path = NULL;
    res->nparams = 0;
    res->route = NULL;
}
