/* http-request — what a handler reads of its request (http.h). */
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

/*** Requests ***/

const char *http_req_method(const struct kcr_http_req *req)
{
    return req->method;
}

const char *http_req_path(const struct kcr_http_req *req)
{
    return req->path;
}

const char *http_req_param(const struct kcr_http_req *req, unsigned i)
{
    return i < req->nparams ? req->params[i] : NULL;
}

const char *http_req_header(const struct kcr_http_req *req, const char *name)
{
    /* MHD compares header names case-insensitively. */
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_req_id(const struct kcr_http_req *req)
{
    return req->id;
}

const struct kcr_buf *http_req_body(const struct kcr_http_req *req)
{
    return &req->body;
}

size_t http_req_nparts(const struct kcr_http_req *req)
{
    return req->nparts;
}

struct kcr_http_part *http_req_part(struct kcr_http_req *req, size_t i)
{
    return i < req->nparts ? &req->parts[i] : NULL;
}

const char *http_req_field(const struct kcr_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nfields; i++)
        if (!strcmp(req->fields[i].name, name))
            return req->fields[i].value.data ? req->fields[i].value.data : "";
    return NULL;
}

void http_req_log(struct kcr_http_req *req, const char *key, json_t *value)
{
    if (!req->logf)
        req->logf = json_object();
    json_object_set_new(req->logf, key, value);
}

int http_req_peer(const struct kcr_http_req *req, struct sockaddr_storage *ret)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    memset(ret, 0, sizeof(*ret));
    if (!ci || !ci->client_addr)
        return -1;
    sa_family_t fam = ci->client_addr->sa_family;
    size_t len = fam == AF_INET    ? sizeof(struct sockaddr_in)
                 : fam == AF_INET6 ? sizeof(struct sockaddr_in6)
                                   : sizeof(sa_family_t);
    memcpy(ret, ci->client_addr, len);
    return 0;
}

void http_req_set_data(struct kcr_http_req *req, void *data, void (*free_fn)(void *))
{
    if (req->data_free)
        req->data_free(req->data);
    req->data = data;
    req->data_free = free_fn;
}

void *http_req_data(const struct kcr_http_req *req)
{
    return req->data;
}

void http_req_limit_body(struct kcr_http_req *req, size_t max)
{
    if (max < req->max_body)
        req->max_body = max;
}

void http_req_set_body(struct kcr_http_req *req, char *data, size_t len)
{
    buf_done(&req->body);
    buf_init(&req->body, len + 1);
    buf_append(&req->body, data, len);
    free(data);
}

const char *http_req_query(const struct kcr_http_req *req, const char *name)
{
    /* Arguments reach us undecoded (the unescape callback is a no-op so that
     * paths can be split before decoding); decode on lookup. */
    const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!raw)
        return NULL;
    char *v = http_pct_decode(raw, strlen(raw), true);
    if (!v)
        return NULL;
    struct kcr_http_req *r = (struct kcr_http_req *)req;
    r->decoded = xrealloc(r->decoded, (r->ndecoded + 1) * sizeof(char *));
    r->decoded[r->ndecoded++] = v;
    return v;
}

void http_req_free(struct kcr_http_req *req)
{
    if (!req)
        return;
    http_mp_free(req->mp);
    free(req->path);
    for (unsigned i = 0; i < req->nparams; i++)
        free(req->params[i]);
    for (size_t i = 0; i < req->nparts; i++) {
        free((char *)req->parts[i].field);
        free((char *)req->parts[i].filename);
        free((char *)req->parts[i].content_type);
        safe_close(req->parts[i].fd);
    }
    free(req->parts);
    for (size_t i = 0; i < req->nfields; i++) {
        free(req->fields[i].name);
        buf_done(&req->fields[i].value);
    }
    free(req->fields);
    for (size_t i = 0; i < req->ndecoded; i++)
        free(req->decoded[i]);
    free(req->decoded);
    buf_done(&req->body);
    http_resp_free(req->early);
    json_decref(req->logf);
    if (req->data_free)
        req->data_free(req->data);
    free(req);
}
