#include "api/download.h"
#include "api/context.h"
#include "api/session-files.h"
#include "api/errors.h"
#include "common/buf.h"
#include "common/id.h"
#include "core/files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ASCII for the Latin-1 letters U+00C0..U+00FF (what unidecode gives), '_'
 * where there is no good letter. */
static const char latin1[] = "AAAAAAACEEEEIIII"
                             "DNOOOOO_OUUUUYTs"
                             "aaaaaaaceeeeiiii"
                             "dnooooo_ouuuuyty";

static void ascii_name(const char *name, struct kcr_buf *out)
{
    const unsigned char *p = (const unsigned char *)name;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
            buf_append(out, ok ? (const char *)p : "_", 1);
            p++;
            continue;
        }
        /* One replacement per code point, not per byte. */
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (c == 0xc3 && p[1] >= 0x80 && p[1] <= 0xbf)
            buf_append(out, &latin1[p[1] - 0x80], 1);
        else
            buf_append(out, "_", 1);
        for (size_t i = 0; i < len && *p; i++)
            p++;
    }
    if (out->len == 0)
        buf_append(out, "download", 8);
}

char *download_disposition(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    struct kcr_buf b;
    buf_init(&b, 0);
    buf_printf(&b, "attachment; filename=\"");
    ascii_name(base, &b);
    buf_printf(&b, "\"; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)base; *p; p++) {
        unsigned c = *p;
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';
        if (keep)
            buf_append(&b, p, 1);
        else
            buf_printf(&b, "%%%02X", c);
    }
    return buf_take(&b, NULL);
}

static void cors(struct kcr_http_resp *r)
{
    http_resp_header(r, "Access-Control-Allow-Origin", "*");
    http_resp_header(r, "Access-Control-Allow-Methods", "GET, OPTIONS");
    http_resp_header(r, "Access-Control-Allow-Headers", "x-api-key, Content-Type");
}

struct kcr_http_resp *download_handle(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_file_meta f;
    struct kcr_http_resp *bad = files_readable_of_path(req, ctx, &f);
    if (bad)
        return bad;
    struct kcr_err err = {0};
    uint64_t size = 0;
    int fd = files_open(&api->core, &f, &size, &err);
    if (fd < 0 && err.kind == KCR_ERR_UNAVAILABLE) /* S3 down or refusing: not gone */
        return errors_app(req, 503, "File store unavailable", NULL);
    if (fd < 0)
        return errors_app(req, 404, "File content not found", NULL);
    const char *ct = strcmp(f.content_type, "application/octet-stream") && *f.content_type
                         ? f.content_type
                         : files_mime(f.name);
    struct kcr_http_resp *r = http_resp_fd(200, ct, fd, size);
    char *disp = download_disposition(f.name);
    http_resp_header(r, "Content-Disposition", disp);
    free(disp);
    http_resp_header(r, "Cache-Control", "private, max-age=3600");
    cors(r);
    http_resp_header(r, "Access-Control-Expose-Headers", "Content-Disposition");
    return r;
}

struct kcr_http_resp *download_handle_options(struct kcr_http_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
    struct kcr_http_resp *r = http_resp_empty(204);
    cors(r);
    http_resp_header(r, "Access-Control-Max-Age", "3600");
    return r;
}
