/* http-body — multipart body intake: file parts spooled to unnamed files,
 * text fields kept in memory, each bounded (kcr_http_limits). */
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

/*** Multipart ***/

void http_set_error(struct kcr_http_req *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_set_error(struct kcr_http_req *req, int status, const char *fmt, ...)
{
    if (req->error_status)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req->error_msg, sizeof(req->error_msg), fmt, ap);
    va_end(ap);
    req->error_status = status;
}

void http_limit_text(char *out, size_t size, size_t bytes)
{
    if (bytes % (1u << 20) == 0)
        snprintf(out, size, "%zuMB", bytes >> 20);
    else
        snprintf(out, size, "%zu bytes", bytes);
}

static int part_begin(struct kcr_http_req *req, const char *key, const char *filename,
                      const char *ctype)
{
    const struct kcr_http_limits *lim = &req->srv->lim;
    if (req->nparts >= lim->max_parts) {
        http_set_error(req, 413, "Too many files. Maximum %zu files allowed", lim->max_parts);
        return -1;
    }
    int fd = open(req->srv->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        http_set_error(req, 500, "cannot spool upload: %s", strerror(errno));
        return -1;
    }
    req->parts = xrealloc(req->parts, (req->nparts + 1) * sizeof(*req->parts));
    req->parts[req->nparts++] = (struct kcr_http_part){
        .field = xstrdup(key ? key : ""),
        .filename = xstrdup(filename),
        .content_type = ctype ? xstrdup(ctype) : NULL,
        .fd = fd,
    };
    return 0;
}

static int part_data(struct kcr_http_req *req, const char *data, size_t size)
{
    struct kcr_http_part *p = &req->parts[req->nparts - 1];
    const struct kcr_http_limits *lim = &req->srv->lim;
    if (p->size + size > lim->max_part_size) {
        char lt[32];
        http_limit_text(lt, sizeof(lt), lim->max_part_size);
        http_set_error(req, 413, "File %s exceeds maximum size of %s", p->filename, lt);
        return -1;
    }
    int r = fs_write_all(p->fd, data, size);
    if (r < 0) {
        http_set_error(req, 500, "cannot spool upload: %s", strerror(-r));
        return -1;
    }
    p->size += size;
    return 0;
}

static int field_begin(struct kcr_http_req *req, const char *key)
{
    if (req->nfields >= 64) {
        http_set_error(req, 400, "too many form fields");
        return -1;
    }
    req->fields = xrealloc(req->fields, (req->nfields + 1) * sizeof(*req->fields));
    struct field *f = &req->fields[req->nfields++];
    f->name = xstrdup(key);
    buf_init(&f->value, req->srv->lim.max_field_size);
    return 0;
}

static int field_data(struct kcr_http_req *req, const char *data, size_t size)
{
    struct field *f = &req->fields[req->nfields - 1];
    buf_append(&f->value, data, size);
    if (f->value.truncated) {
        http_set_error(req, 413, "form field '%s' is too large", f->name);
        return -1;
    }
    return 0;
}

/* The parser's callbacks (http-multipart.h): a part with a filename is a file
 * spooled to disk, one without is a text field kept in memory. */
static int mp_begin(void *ctx, const char *name, const char *filename, const char *ctype)
{
    struct kcr_http_req *req = ctx;
    req->in_part = filename != NULL;
    return filename ? part_begin(req, name, filename, ctype) : field_begin(req, name);
}

static int mp_data(void *ctx, const char *data, size_t size)
{
    struct kcr_http_req *req = ctx;
    return req->in_part ? part_data(req, data, size) : field_data(req, data, size);
}

const struct http_mp_callbacks http_body_mp_callbacks = {.part_begin = mp_begin,
                                                         .part_data = mp_data};
