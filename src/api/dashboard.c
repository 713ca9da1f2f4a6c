#include "api/dashboard.h"
#include "common/xalloc.h"

#include <string.h>

/* The files of src/api/dashboard/, compiled in by the Makefile
 * ($(BUILD)/gen/kcr_dashboard_*.c; each length leaves out the final NUL). */
extern const unsigned char kcr_dashboard_html[], kcr_dashboard_js[], kcr_dashboard_css[];
extern const size_t kcr_dashboard_html_len, kcr_dashboard_js_len, kcr_dashboard_css_len;

bool dashboard_is_page(const char *path)
{
    return path && (!strcmp(path, "/admin") || !strcmp(path, "/admin/dashboard.js") ||
                    !strcmp(path, "/admin/dashboard.css"));
}

/* One file, never cached: a new kcr serves its new page at once. The
 * security headers (DASHBOARD_CSP among them) are added to every answer of
 * these paths by serve.c's finish hook. */
static struct kcr_http_resp *file(const unsigned char *data, size_t len, const char *type)
{
    char *copy = xmalloc(len + 1);
    memcpy(copy, data, len);
    struct kcr_http_resp *r = http_resp_data(200, type, copy, len);
    http_resp_header(r, "Cache-Control", "no-store");
    return r;
}

struct kcr_http_resp *dashboard_handle_page(struct kcr_http_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
    return file(kcr_dashboard_html, kcr_dashboard_html_len, "text/html; charset=utf-8");
}

struct kcr_http_resp *dashboard_handle_js(struct kcr_http_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
    return file(kcr_dashboard_js, kcr_dashboard_js_len, "text/javascript; charset=utf-8");
}

struct kcr_http_resp *dashboard_handle_css(struct kcr_http_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
    return file(kcr_dashboard_css, kcr_dashboard_css_len, "text/css; charset=utf-8");
}
