/* http — the HTTP server glue over libmicrohttpd, shared by kcr serve and kcr-sidecar.
 *
 * A server is a table of routes plus three hooks. Each connection runs in its own
 * thread, so a handler may block (an execution takes seconds). Bodies are read
 * by this layer with hard limits before the handler runs:
 *   - BUFFER routes get the whole body in memory (413 past limits.max_body);
 *   - MULTIPART routes get every file part spooled to an unnamed O_TMPFILE file
 *     (413 past limits.max_part_size or limits.max_parts) and text fields in
 *     memory (bounded by limits.max_field_size). Chunked bodies work the same.
 * Paths are split on '/', then each segment is percent-decoded; a segment that
 * decodes to a NUL byte is refused with 400. One access-log line (JSON) is
 * written per request with its id, method, path, status and duration. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct kcr_http_server;
struct kcr_http_req;
struct kcr_http_resp;

enum kcr_http_body {
    KCR_HTTP_BODY_NONE,      /* any body is read and dropped (bounded) */
    KCR_HTTP_BODY_BUFFER,    /* whole body in memory: http_req_body() */
    KCR_HTTP_BODY_MULTIPART, /* multipart/form-data: http_req_part(), http_req_field() */
};

typedef struct kcr_http_resp *(*kcr_http_handler_fn)(struct kcr_http_req *req, void *ctx);

struct kcr_http_route {
    const char *method;  /* "GET", "POST", "DELETE", "OPTIONS", ... */
    const char *pattern; /* "/files/{}" ({} = one segment); a final {*} takes the rest,
                            '/' included ("/files/{*}") */
    enum kcr_http_body body;
    kcr_http_handler_fn handler;
};

struct kcr_http_limits {
    size_t max_body;       /* BUFFER routes; default 1 MiB */
    size_t max_part_size;  /* each multipart file part; default 10 MiB */
    size_t max_parts;      /* file parts per request; default 50 */
    size_t max_field_size; /* each multipart text field; default 64 KiB */
};

struct kcr_http_hooks {
    /* Runs once the headers are in, before the body is read and before routing
     * decides 404/405 (route is NULL when nothing matched). Return a response to
     * answer at once (401, 415, ...) or NULL to go on. Optional. */
    struct kcr_http_resp *(*before)(struct kcr_http_req *req, const struct kcr_http_route *route,
                                    void *ctx);
    /* Runs once the whole body is in (and within limits), just before the
     * handler. Return a response to answer instead of the handler, or NULL.
     * Optional. */
    struct kcr_http_resp *(*ready)(struct kcr_http_req *req, void *ctx);
    /* Builds the body of errors this layer raises itself: 400 (bad path or
     * multipart), 404 (no route), 405 (wrong method), 413 (too large), 500.
     * Optional: the default is {"error": msg}. */
    struct kcr_http_resp *(*error)(struct kcr_http_req *req, int status, const char *msg,
                                   void *ctx);
    /* Runs on every response just before it is queued (add security headers,
     * CORS, ...). Optional. */
    void (*finish)(struct kcr_http_req *req, struct kcr_http_resp *resp, void *ctx);
};

struct kcr_http_config {
    const char *host;      /* TCP: address to bind ("127.0.0.1", "0.0.0.0") */
    int port;              /* TCP port; 0 picks a free one (see http_server_port) */
    const char *unix_path; /* if set, listen on this unix socket instead (mode 0666) */
    const struct kcr_http_route *routes;
    size_t nroutes;
    const char *strip_prefix; /* optional path prefix accepted and removed, e.g. "/v1" */
    struct kcr_http_limits limits;
    struct kcr_http_hooks hooks;
    void *ctx;                 /* passed to handlers and hooks */
    unsigned max_connections;  /* default 256 */
    unsigned timeout_s;        /* idle connection timeout; default 120 */
    unsigned header_timeout_s; /* a request's headers, from the connection's start; default 30 */
    unsigned body_timeout_s;   /* its body, from the end of its headers; default 300 */
    bool check_peer; /* unix socket: only root and client_gid's processes may send requests */
    gid_t client_gid;
    unsigned max_per_ip;   /* connections from one address at once; 0 = no cap */
    const char *spool_dir; /* O_TMPFILE directory for multipart parts; default "/tmp" */
    bool quiet;            /* no access-log lines */
};

/* Starts listening and serving in background threads. The config (and the
 * strings and routes it points to) must outlive the server. */
struct kcr_http_server *http_server_start(const struct kcr_http_config *cfg, struct kcr_err *err);

/* The TCP port actually bound (useful with port 0); 0 for unix sockets. */
int http_server_port(const struct kcr_http_server *srv);

/* Stops accepting new connections; requests in flight go on. */
void http_server_quiesce(struct kcr_http_server *srv);

/* Stops the server, waiting for handlers in flight. Accepts NULL; returns NULL. */
struct kcr_http_server *http_server_stop(struct kcr_http_server *srv);

/*** Requests: every returned pointer is borrowed and lives until the handler returns. ***/

const char *http_req_method(const struct kcr_http_req *req);
/* The decoded path after strip_prefix ("/files/a.txt"). */
const char *http_req_path(const struct kcr_http_req *req);
/* The i-th {} or {*} capture of the route pattern, decoded; NULL past the end. */
const char *http_req_param(const struct kcr_http_req *req, unsigned i);
/* A request header, case-insensitive; NULL if absent. */
const char *http_req_header(const struct kcr_http_req *req, const char *name);
/* A query-string argument, decoded; NULL if absent. */
const char *http_req_query(const struct kcr_http_req *req, const char *name);
/* The request id (21-char nanoid), also sent back as X-Request-ID. */
const char *http_req_id(const struct kcr_http_req *req);
/* Runs fn(arg) in the connection's thread once the response has been sent
 * (or the request was aborted): work the client need not wait for. One per
 * request; fn owns arg. */
void http_req_after(struct kcr_http_req *req, void (*fn)(void *arg), void *arg);
/* BUFFER routes: the body (NUL-terminated). Empty for other routes. */
const struct kcr_buf *http_req_body(const struct kcr_http_req *req);

struct kcr_http_part {
    const char *field;        /* form field name ("file", "files") */
    const char *filename;     /* as sent by the client (untrusted) */
    const char *content_type; /* may be NULL */
    int fd;                   /* O_TMPFILE spool positioned at 0; owned by the request */
    uint64_t size;
};

/* MULTIPART routes: number of file parts, and each part (mutable so a handler
 * may take the fd with TAKE_FD(part->fd)). */
size_t http_req_nparts(const struct kcr_http_req *req);
struct kcr_http_part *http_req_part(struct kcr_http_req *req, size_t i);
/* MULTIPART routes: the value of a text field (first occurrence); NULL if absent. */
const char *http_req_field(const struct kcr_http_req *req, const char *name);

/* Adds a field to this request's access-log line (value taken). */
void http_req_log(struct kcr_http_req *req, const char *key, json_t *value);

/* The peer's address (TCP servers; the family is AF_UNIX for unix sockets).
 * Returns 0, or -1 when MHD does not know it. */
int http_req_peer(const struct kcr_http_req *req, struct sockaddr_storage *ret);

/* Attaches data of the hooks' own to the request (one pointer; free_fn, may
 * be NULL, runs when the request is freed), and reads it back (NULL if none). */
void http_req_set_data(struct kcr_http_req *req, void *data, void (*free_fn)(void *));
void *http_req_data(const struct kcr_http_req *req);

/* From the `before` hook: lowers this request's BUFFER body limit to max
 * (413 past it), e.g. while the caller is not yet authenticated. */
void http_req_limit_body(struct kcr_http_req *req, size_t max);

/* From the `ready` hook: replaces the BUFFER body by len bytes of data (taken,
 * freed with free(); a NUL is added). */
void http_req_set_body(struct kcr_http_req *req, char *data, size_t len);

/*** Responses: created by handlers and hooks, owned by the layer once returned. ***/

/* JSON body (taken; NULL sends no body). */
struct kcr_http_resp *http_resp_json(int status, json_t *body);
/* Bytes (taken, freed with free()). */
struct kcr_http_resp *http_resp_data(int status, const char *content_type, char *data, size_t len);
/* Streams size bytes from fd (taken, closed when done). */
struct kcr_http_resp *http_resp_fd(int status, const char *content_type, int fd, uint64_t size);
/* No body. */
struct kcr_http_resp *http_resp_empty(int status);
/* Adds a header (copied). */
void http_resp_header(struct kcr_http_resp *resp, const char *name, const char *value);
int http_resp_status(const struct kcr_http_resp *resp);
/* A response that will not be queued after all (queued ones are freed by the server). */
void http_resp_free(struct kcr_http_resp *resp);
