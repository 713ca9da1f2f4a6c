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

/* Past this much body that we decided to drop, the connection is cut instead
 * of read to the end: a client that ignores our 413 must not cost us forever. */
#define MAX_DISCARD (64u << 20)

/*** Routing ***/

/* Finds the route (http-route.c); returns 0, or 404/405/400 with *allow
 * listing methods for 405. */
static int route_find(struct kcr_http_req *req, const char *url, char *allow, size_t allow_size)
{
    struct http_route_result res = {0};
    int status = http_route_find(req->srv->cfg, req->method, url, &res, allow, allow_size);
    req->path = res.path;
    for (unsigned k = 0; k < res.nparams; k++)
        req->params[k] = res.params[k];
    req->nparams = res.nparams;
    req->route = res.route;
    return status;
}

/*** The MHD access handler ***/

static void consume(struct kcr_http_req *req, const char *data, size_t size)
{
    if (req->error_status || !req->route) {
        req->discarded += size;
        return;
    }
    switch (req->route->body) {
    case KCR_HTTP_BODY_NONE:
        req->discarded += size;
        break;
    case KCR_HTTP_BODY_BUFFER:
        buf_append(&req->body, data, size);
        if (req->body.truncated) {
            char lt[32];
            http_limit_text(lt, sizeof(lt), req->max_body);
            http_set_error(req, 413, "request body exceeds maximum size of %s", lt);
        }
        break;
    case KCR_HTTP_BODY_MULTIPART:
        /* A callback's own error (413, 500) was recorded first and stays. */
        if (http_mp_feed(req->mp, data, size) < 0)
            http_set_error(req, 400, "malformed multipart/form-data body");
        break;
    }
}

/* Decides what can be decided from the headers alone: hooks, 404/405, early 413. */
static void on_headers(struct kcr_http_req *req, const char *url)
{
    struct kcr_http_server *srv = req->srv;
    char allow[128];
    int status = route_find(req, url, allow, sizeof(allow));
    if (srv->cfg->hooks.before) {
        req->early = srv->cfg->hooks.before(req, req->route, srv->cfg->ctx);
        if (req->early)
            return;
    }
    if (status == 400) {
        req->early = http_error_resp(req, 400, "invalid path encoding");
        return;
    }
    if (status) {
        req->early =
            http_error_resp(req, status, status == 404 ? "Not Found" : "Method Not Allowed");
        if (status == 405)
            http_resp_header(req->early, "Allow", allow);
        return;
    }
    const char *cl = http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
    switch (req->route->body) {
    case KCR_HTTP_BODY_NONE:
        break;
    case KCR_HTTP_BODY_BUFFER:
        if (len > req->max_body)
            http_set_error(req, 413, "request body exceeds maximum size");
        buf_init(&req->body, req->max_body);
        break;
    case KCR_HTTP_BODY_MULTIPART:
        if (len > (unsigned long long)srv->lim.max_part_size * srv->lim.max_parts + (1u << 20)) {
            http_set_error(req, 413, "request body exceeds maximum size");
            break;
        }
        req->mp = http_mp_new(http_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE),
                              &http_body_mp_callbacks, req);
        if (!req->mp)
            http_set_error(req, 400, "expected a multipart/form-data body");
        break;
    }
    if (req->error_status) {
        req->early = http_error_resp(req, req->error_status, req->error_msg);
        req->error_status = 0;
    }
}

/* Unix sockets with a client group: only root and that group's processes
 * (SO_PEERCRED) may send requests, not every process of the server's uid
 * (all local sidecars share one, and can reach each other's socket dirs). */
static bool peer_allowed(const struct kcr_http_server *srv, struct MHD_Connection *conn)
{
    if (!srv->cfg->unix_path || !srv->cfg->check_peer)
        return true;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return false;
    return cred.uid == 0 || cred.gid == srv->cfg->client_gid;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct kcr_http_server *srv = cls;
    struct kcr_http_req *req = *con_cls;
    if (!req) {
        req = xcalloc(1, sizeof(*req));
        req->srv = srv;
        req->conn = conn;
        req->method = method;
        req->max_body = srv->lim.max_body;
        id_new(req->id);
        clock_gettime(CLOCK_MONOTONIC, &req->start);
        buf_init(&req->body, 1);
        *con_cls = req;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        req->watch = ci ? ci->socket_context : NULL;
        http_watch_headers(srv->watch, req->watch);
        if (!peer_allowed(srv, conn))
            req->early = http_error_resp(req, 403, "this socket serves its pod's client only");
        else
            on_headers(req, url);
        /* A response decided from headers alone goes out at once; MHD then
         * closes the connection instead of reading a body we do not want. */
        if (req->early) {
            http_watch_busy(srv->watch, req->watch);
            return http_queue(req, TAKE_PTR(req->early));
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        consume(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return req->discarded > MAX_DISCARD ? MHD_NO : MHD_YES;
    }
    http_watch_busy(srv->watch, req->watch);
    /* The whole body is in: a multipart one must have ended with "--B--". */
    if (!req->error_status && req->mp && http_mp_finish(req->mp) < 0)
        http_set_error(req, 400, "malformed multipart/form-data body");
    if (req->error_status)
        return http_queue(req, http_error_resp(req, req->error_status, req->error_msg));
    for (size_t i = 0; i < req->nparts; i++)
        (void)lseek(req->parts[i].fd, 0, SEEK_SET);
    struct kcr_http_resp *r = NULL;
    if (srv->cfg->hooks.ready)
        r = srv->cfg->hooks.ready(req, srv->cfg->ctx);
    if (!r)
        r = req->route->handler(req, srv->cfg->ctx);
    if (!r)
        r = http_error_resp(req, 500, "internal error");
    return http_queue(req, r);
}

/* The decoded path as a JSON string for the access log. JSON strings are
 * UTF-8: a path that is not (GET /x/%FF) is logged with its bytes >= 0x80
 * percent-encoded again, rather than making the whole line fail. */
static json_t *log_path(const char *path)
{
    json_t *s = json_string(path ? path : "");
    if (s)
        return s;
    struct kcr_buf b;
    buf_init(&b, 3 * strlen(path) + 1);
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if (*c >= 0x80)
            buf_printf(&b, "%%%02X", *c);
        else
            buf_append(&b, c, 1);
    }
    s = json_string(b.data ? b.data : "");
    buf_done(&b);
    return s;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct kcr_http_server *srv = cls;
    struct kcr_http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    if (!srv->cfg->quiet) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double ms = (double)(now.tv_sec - req->start.tv_sec) * 1e3 +
                    (double)(now.tv_nsec - req->start.tv_nsec) / 1e6;
        json_t *f = json_pack("{s:s,s:o,s:i,s:f}", "method", req->method, "path",
                              log_path(req->path), "status", req->status, "duration_ms", ms);
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            json_object_set_new(f, "aborted", json_true());
        if (req->logf)
            json_object_update(f, req->logf);
        log_json(KCR_LOG_INFO, req->id, "request", f);
    }
    if (req->after)
        req->after(req->after_arg);
    http_watch_idle(srv->watch, req->watch);
    http_req_free(req);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct kcr_http_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? http_watch_open(srv->watch, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        /* libmicrohttpd tells before it closes the fd. */
        http_watch_close(srv->watch, *socket_context);
        *socket_context = NULL;
    }
}

void http_req_after(struct kcr_http_req *req, void (*fn)(void *arg), void *arg)
{
    req->after = fn;
    req->after_arg = arg;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_json(KCR_LOG_WARN, NULL, msg, json_pack("{s:s}", "source", "libmicrohttpd"));
}

/* Keeps the raw path: it is split on '/' before decoding (see http_split_path). */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/*** Server ***/

static int listen_unix(const char *path, struct kcr_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return kcr_err_set(err, ENAMETOOLONG, KCR_ERR_INVALID, "socket path '%s'", path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "socket");
    (void)unlink(path); /* a stale socket from an earlier run */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 ||
        listen(fd, 128) < 0) {
        int e = errno;
        safe_close(fd);
        return kcr_err_set(err, e, KCR_ERR_INTERNAL, "listen on '%s'", path);
    }
    return fd;
}

static void set_default(size_t *v, size_t def)
{
    if (*v == 0)
        *v = def;
}

struct kcr_http_server *http_server_start(const struct kcr_http_config *cfg, struct kcr_err *err)
{
    struct kcr_http_server *srv = xcalloc(1, sizeof(*srv));
    srv->cfg = cfg;
    srv->lim = cfg->limits;
    set_default(&srv->lim.max_body, 1u << 20);
    set_default(&srv->lim.max_part_size, 10u << 20);
    set_default(&srv->lim.max_parts, 50);
    set_default(&srv->lim.max_field_size, 64u << 10);
    srv->spool_dir = cfg->spool_dir ? cfg->spool_dir : "/tmp";
    srv->unix_fd = -1;
    unsigned idle_s = cfg->timeout_s ? cfg->timeout_s : 120;
    srv->watch = http_watch_start(cfg->header_timeout_s ? cfg->header_timeout_s : 30,
                                  cfg->body_timeout_s ? cfg->body_timeout_s : 300, idle_s);
    if (!srv->watch) {
        free(srv);
        kcr_err_set(err, 0, KCR_ERR_INTERNAL, "start the connection watchdog");
        return NULL;
    }

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    struct MHD_OptionItem opts[14];
    size_t n = 0;
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_none, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                        cfg->max_connections ? cfg->max_connections : 256, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, idle_s, NULL};
    /* One address cannot hold every connection slot (slow clients, floods). */
    if (cfg->max_per_ip)
        opts[n++] =
            (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_ip, NULL};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)cfg->port)};
    const char *host = cfg->host ? cfg->host : "127.0.0.1";
    if (cfg->unix_path) {
        srv->unix_fd = listen_unix(cfg->unix_path, err);
        if (srv->unix_fd < 0) {
            http_watch_stop(srv->watch);
            free(srv);
            return NULL;
        }
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, srv->unix_fd, NULL};
    } else if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &sin};
    } else if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
        /* Dual stack: "::" also takes IPv4 clients, as 0.0.0.0 users expect. */
        flags |= MHD_USE_DUAL_STACK;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &sin6};
    } else {
        http_watch_stop(srv->watch);
        free(srv);
        kcr_err_set(err, 0, KCR_ERR_INVALID, "listen address '%s' is not an IP address", host);
        return NULL;
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    srv->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!srv->daemon) {
        safe_close(srv->unix_fd);
        http_watch_stop(srv->watch);
        free(srv);
        if (cfg->unix_path)
            kcr_err_set(err, 0, KCR_ERR_INTERNAL, "cannot serve on '%s'", cfg->unix_path);
        else
            kcr_err_set(err, EADDRINUSE, KCR_ERR_INTERNAL, "cannot listen on %s:%d", host,
                        cfg->port);
        return NULL;
    }
    if (!cfg->unix_path) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
        srv->port = info ? info->port : cfg->port;
    }
    return srv;
}

int http_server_port(const struct kcr_http_server *srv)
{
    return srv->port;
}

void http_server_quiesce(struct kcr_http_server *srv)
{
    if (srv && srv->daemon) {
        MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
        if (fd != MHD_INVALID_SOCKET && fd != srv->unix_fd)
            (void)close(fd);
    }
}

struct kcr_http_server *http_server_stop(struct kcr_http_server *srv)
{
    if (!srv)
        return NULL;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    /* After the daemon: every connection is closed by now. */
    http_watch_stop(srv->watch);
    safe_close(srv->unix_fd);
    free(srv);
    return NULL;
}
