/* http-response — the responses of the HTTP layer (http.h) and how one is
 * queued on its libmicrohttpd connection. */
#include "http/http.h"
#include "http/http-internal.h"
#include "http/http-multipart.h"
#include "http/http-watch.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/id.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

/*** Responses ***/

static struct kcr_http_resp *resp_new(int status, enum resp_kind kind, const char *ctype)
{
    struct kcr_http_resp *r = xcalloc(1, sizeof(*r));
    r->status = status;
    r->kind = kind;
    r->fd = -1;
    r->content_type = ctype ? xstrdup(ctype) : NULL;
    return r;
}

struct kcr_http_resp *http_resp_empty(int status)
{
    return resp_new(status, RESP_EMPTY, NULL);
}

struct kcr_http_resp *http_resp_data(int status, const char *content_type, char *data, size_t len)
{
    struct kcr_http_resp *r = resp_new(status, RESP_DATA, content_type);
    r->data = data;
    r->len = len;
    return r;
}

struct kcr_http_resp *http_resp_json(int status, json_t *body)
{
    if (!body)
        return http_resp_empty(status);
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(body);
    if (!s)
        s = xstrdup("{}"); /* only out of memory or invalid UTF-8 gets here */
    return http_resp_data(status, "application/json", s, strlen(s));
}

struct kcr_http_resp *http_resp_fd(int status, const char *content_type, int fd, uint64_t size)
{
    struct kcr_http_resp *r = resp_new(status, RESP_FD, content_type);
    r->fd = fd;
    r->size = size;
    return r;
}

void http_resp_header(struct kcr_http_resp *resp, const char *name, const char *value)
{
    resp->hdrs = xrealloc(resp->hdrs, (resp->nhdrs + 1) * sizeof(*resp->hdrs));
    resp->hdrs[resp->nhdrs++] = (struct hdr){xstrdup(name), xstrdup(value)};
}

int http_resp_status(const struct kcr_http_resp *resp)
{
    return resp->status;
}

void http_resp_free(struct kcr_http_resp *r)
{
    if (!r)
        return;
    free(r->content_type);
    free(r->data);
    safe_close(r->fd);
    for (size_t i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].name);
        free(r->hdrs[i].value);
    }
    free(r->hdrs);
    free(r);
}

/*** Sending ***/

struct kcr_http_resp *http_error_resp(struct kcr_http_req *req, int status, const char *msg)
{
    const struct kcr_http_config *cfg = req->srv->cfg;
    struct kcr_http_resp *r = NULL;
    if (cfg->hooks.error)
        r = cfg->hooks.error(req, status, msg, cfg->ctx);
    if (!r)
        r = http_resp_json(status, json_pack("{s:s}", "error", msg));
    return r;
}

/* A non-seekable fd (a pipe: a blob streamed from S3) cannot go through
 * MHD_create_response_from_fd64, which preads at offsets. It is read in
 * order instead, up to its announced size; EOF or an error before that ends
 * the response with an error (MHD closes the connection), so a client never
 * takes a short body for the whole one. Reads block: MHD runs one thread per
 * connection (http.c), and the writer of the pipe is bounded by its own
 * timeout. */
struct fd_stream {
    int fd;
    uint64_t left;
};

static ssize_t fd_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct fd_stream *st = cls;
    (void)pos;
    if (st->left == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t want = max < st->left ? max : (size_t)st->left;
    ssize_t n;
    do
        n = read(st->fd, buf, want);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    st->left -= (uint64_t)n;
    return n;
}

static void fd_stream_free(void *cls)
{
    struct fd_stream *st = cls;
    safe_close(st->fd);
    free(st);
}

static struct MHD_Response *fd_response(struct kcr_http_resp *r)
{
    if (lseek(r->fd, 0, SEEK_CUR) >= 0 || errno != ESPIPE)
        return MHD_create_response_from_fd64(r->size, r->fd);
    struct fd_stream *st = xcalloc(1, sizeof(*st));
    st->fd = r->fd;
    st->left = r->size;
    struct MHD_Response *mr =
        MHD_create_response_from_callback(r->size, 64 * 1024, fd_stream_read, st, fd_stream_free);
    if (!mr)
        free(st); /* r still owns the fd */
    return mr;
}

enum MHD_Result http_queue(struct kcr_http_req *req, struct kcr_http_resp *r)
{
    const struct kcr_http_config *cfg = req->srv->cfg;
    if (cfg->hooks.finish)
        cfg->hooks.finish(req, r, cfg->ctx);
    struct MHD_Response *mr = NULL;
    switch (r->kind) {
    case RESP_EMPTY:
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        break;
    case RESP_DATA:
        mr = MHD_create_response_from_buffer(r->len, r->data, MHD_RESPMEM_MUST_FREE);
        if (mr)
            r->data = NULL; /* MHD frees it now */
        break;
    case RESP_FD:
        mr = fd_response(r);
        if (mr)
            r->fd = -1; /* MHD closes it now */
        break;
    }
    if (!mr) {
        http_resp_free(r);
        return MHD_NO;
    }
    if (r->content_type)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(mr, "X-Request-ID", req->id);
    for (size_t i = 0; i < r->nhdrs; i++)
        MHD_add_response_header(mr, r->hdrs[i].name, r->hdrs[i].value);
    req->status = r->status;
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    http_resp_free(r);
    return ret;
}
