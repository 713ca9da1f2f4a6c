#include "api/serve.h"
#include "api/admin.h"
#include "api/admin-views.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/dashboard.h"
#include "api/download.h"
#include "api/errors.h"
#include "api/exec.h"
#include "api/programmatic.h"
#include "api/session-files.h"
#include "api/health.h"
#include "api/metrics.h"
#include "api/openapi.h"
#include "api/state.h"
#include "api/upload.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/time.h"
#include "common/xalloc.h"
#include "core/core.h"
#include "core/session.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define KCR_VERSION "0.1.0"

static const struct kcr_http_route routes[] = {
    {"POST", "/exec", KCR_HTTP_BODY_BUFFER, exec_handle},
    {"POST", "/exec/programmatic", KCR_HTTP_BODY_BUFFER, programmatic_handle},
    {"POST", "/exec/programmatic/cancel", KCR_HTTP_BODY_BUFFER, programmatic_handle_cancel},
    {"POST", "/upload", KCR_HTTP_BODY_MULTIPART, upload_handle},
    {"POST", "/upload/batch", KCR_HTTP_BODY_MULTIPART, upload_handle_batch},
    {"GET", "/files/{}", KCR_HTTP_BODY_NONE, files_handle_list},
    {"DELETE", "/files/{}/{}", KCR_HTTP_BODY_NONE, files_handle_delete},
    {"GET", "/sessions/{}/objects/{}", KCR_HTTP_BODY_NONE, files_handle_object},
    {"GET", "/download/{}/{}", KCR_HTTP_BODY_NONE, download_handle},
    {"OPTIONS", "/download/{}/{}", KCR_HTTP_BODY_NONE, download_handle_options},
    {"GET", "/state/{}", KCR_HTTP_BODY_NONE, state_handle_get},
    {"POST", "/state/{}", KCR_HTTP_BODY_BUFFER, state_handle_post},
    {"DELETE", "/state/{}", KCR_HTTP_BODY_NONE, state_handle_delete},
    {"GET", "/state/{}/info", KCR_HTTP_BODY_NONE, state_handle_info},
    {"GET", "/health", KCR_HTTP_BODY_NONE, health_handle},
    {"GET", "/ready", KCR_HTTP_BODY_NONE, health_handle_ready},
    {"GET", "/health/detailed", KCR_HTTP_BODY_NONE, health_handle_detailed},
    {"GET", "/metrics", KCR_HTTP_BODY_NONE, metrics_handle},
    {"GET", "/openapi.json", KCR_HTTP_BODY_NONE, openapi_handle},
    {"GET", ADMIN_PREFIX "/keys", KCR_HTTP_BODY_NONE, admin_handle_list},
    {"POST", ADMIN_PREFIX "/keys", KCR_HTTP_BODY_BUFFER, admin_handle_create},
    {"PATCH", ADMIN_PREFIX "/keys/{}", KCR_HTTP_BODY_BUFFER, admin_handle_patch},
    {"DELETE", ADMIN_PREFIX "/keys/{}", KCR_HTTP_BODY_NONE, admin_handle_delete},
    {"GET", ADMIN_PREFIX "/overview", KCR_HTTP_BODY_NONE, admin_handle_overview},
    {"GET", ADMIN_PREFIX "/metrics/history", KCR_HTTP_BODY_NONE, admin_handle_history},
    {"GET", ADMIN_PREFIX "/sessions/summary", KCR_HTTP_BODY_NONE, admin_handle_sessions_summary},
    {"GET", ADMIN_PREFIX "/config", KCR_HTTP_BODY_NONE, admin_handle_config},
    {"GET", "/admin", KCR_HTTP_BODY_NONE, dashboard_handle_page},
    {"GET", "/admin/dashboard.js", KCR_HTTP_BODY_NONE, dashboard_handle_js},
    {"GET", "/admin/dashboard.css", KCR_HTTP_BODY_NONE, dashboard_handle_css},
};

/*** Response finishing: security headers, CORS, metrics ***/

/* Whether origin is one of the comma-separated origins, exactly (scheme,
 * host and port; surrounding blanks ignored): with credentials allowed, a
 * substring match would let https://app.example.co act for
 * https://app.example.com. */
static bool origin_listed(const char *origins, const char *origin)
{
    size_t n = strlen(origin);
    for (const char *p = origins; *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t end = len;
        while (end && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end && end == n && !strncmp(p, origin, n))
            return true;
        p += len;
    }
    return false;
}

static void finish(struct kcr_http_req *req, struct kcr_http_resp *resp, void *ctx)
{
    struct kcr_api *api = ctx;
    http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    http_resp_header(resp, "X-Frame-Options", "DENY");
    http_resp_header(resp, "X-XSS-Protection", "1; mode=block");
    http_resp_header(resp, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    http_resp_header(resp, "Referrer-Policy", "strict-origin-when-cross-origin");
    http_resp_header(resp, "Permissions-Policy", "geolocation=(), microphone=(), camera=()");
    const char *path = http_req_path(req);
    /* The dashboard's page gets the strict policy; its data and the admin
     * answers (keys shown once) are never stored by a browser or a proxy. */
    bool page = dashboard_is_page(path);
    http_resp_header(resp, "Content-Security-Policy", page ? DASHBOARD_CSP : "default-src 'self'");
    if (path && !page && !strncmp(path, ADMIN_PREFIX "/", strlen(ADMIN_PREFIX) + 1))
        http_resp_header(resp, "Cache-Control", "no-store");
    /* Download answers carry their own CORS headers (docs/api-contract.md rule 9). */
    if (api->core.cfg->enable_cors && path && strncmp(path, "/download/", 10)) {
        const char *origins = api->core.cfg->cors_origins;
        const char *origin = http_req_header(req, "Origin");
        bool any = !strcmp(origins, "*");
        bool listed = origin && !any && origin_listed(origins, origin);
        if (origin && (any || listed)) {
            /* With credentials a browser refuses "*": echo the allowed origin. */
            http_resp_header(resp, "Access-Control-Allow-Origin", origin);
            http_resp_header(resp, "Vary", "Origin");
            http_resp_header(resp, "Access-Control-Allow-Credentials", "true");
            http_resp_header(resp, "Access-Control-Allow-Methods",
                             "GET, POST, PUT, DELETE, OPTIONS");
            const char *want = http_req_header(req, "Access-Control-Request-Headers");
            http_resp_header(resp, "Access-Control-Allow-Headers", want ? want : "*");
            http_resp_header(resp, "Access-Control-Expose-Headers", "Content-Disposition");
        }
    }
    auth_finish(req, resp);
    metrics_record_request(api->metrics, http_resp_status(resp));
}

/*** Start-up ***/

/* The generated key when no API_KEY/API_KEYS is set: read back from the data
 * dir, or created (0600) on first start. */
static char *load_or_make_key(const char *data_dir, const char *path, bool *ret_new,
                              struct kcr_err *err)
{
    struct kcr_buf b;
    buf_init(&b, 4096);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0 && fs_read_all(fd, &b) == 0 && b.len >= 16) {
        size_t n = strcspn(b.data, "\r\n");
        char *key = xstrndup(b.data, n);
        buf_done(&b);
        *ret_new = false;
        if (strlen(key) >= 16)
            return key;
        free(key);
    }
    buf_done(&b);
    char a[KCR_ID_LEN + 1], c[KCR_ID_LEN + 1];
    id_new(a);
    id_new(c);
    char *key = xasprintf("kcr-%s%s", a, c);
    _cleanup_close_ int dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    _cleanup_free_ char *line = xasprintf("%s\n", key);
    if (dfd < 0 || fs_write_atomic(dfd, "api-key", line, strlen(line), 0600, err) < 0) {
        free(key);
        return NULL;
    }
    *ret_new = true;
    return key;
}

/* Root only: hands the data dir to the serving uid, then drops to it for good
 * (no groups, no capabilities in any set, no way back). The pod manager was
 * forked before and keeps its own privileges. */
static int drop_privileges(const struct kcr_serve_config *cfg, struct kcr_err *err)
{
    if (fs_chown_tree(cfg->data_dir, cfg->serve_uid, cfg->serve_gid, err) < 0)
        return -1;
    /* The bounding set needs CAP_SETPCAP, which the uid change takes away. */
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "drop bounding capability %d", cap);
    (void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    if (setgroups(0, NULL) < 0 || setresgid(cfg->serve_gid, cfg->serve_gid, cfg->serve_gid) < 0 ||
        setresuid(cfg->serve_uid, cfg->serve_uid, cfg->serve_uid) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "switch to uid %u",
                           (unsigned)cfg->serve_uid);
    /* A uid change from 0 clears the permitted/effective sets; ambient too. */
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "no_new_privs");
    if (setuid(0) == 0)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "privileges could be regained");
    return 0;
}

struct serve_state {
    struct kcr_serve_config cfg;
    struct kcr_api api;
    struct kcr_http_config http;
    struct kcr_http_server *srv;
    struct kcr_session_reaper *reaper;
    char *key;
    char *key_path;
    bool key_new;
};

/* Root-side steps: credentials, data dir, generated key, pod backend, then
 * the drop. */
static int start_privileged(struct serve_state *s, struct kcr_err *err)
{
    s->api.core.cfg = &s->cfg;
    if (!(s->api.auth = auth_new(&s->cfg, &s->api.core, err)))
        return -1;
    if (fs_mkdir_p(s->cfg.data_dir, 0700, err) < 0)
        return kcr_err_wrap(err, "KCR_DATA_DIR");
    s->key_path = xasprintf("%s/api-key", s->cfg.data_dir);
    /* A key is generated only where keys are accepted at all. */
    if (s->cfg.nkeys == 0 && s->cfg.auth_provider != KCR_AUTH_JWT &&
        !(s->key = load_or_make_key(s->cfg.data_dir, s->key_path, &s->key_new, err)))
        return kcr_err_wrap(err, "generate API key");
    if (s->key)
        auth_add_key(s->api.auth, s->key);
    if (core_open_backend(&s->api.core, &s->cfg, err) < 0)
        return -1;
    if (geteuid() == 0 && drop_privileges(&s->cfg, err) < 0)
        return -1;
    if (access(s->cfg.data_dir, R_OK | W_OK | X_OK) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INVALID,
                           "KCR_DATA_DIR: '%s' is not usable by uid %u (KCR_SERVE_UID); its "
                           "parent directories must be searchable",
                           s->cfg.data_dir, (unsigned)getuid());
    return 0;
}

static int start_services(struct serve_state *s, struct kcr_err *err)
{
    struct kcr_api *api = &s->api;
    /* After the pod manager was forked: its sockets keep the modes it chose. */
    umask(077);
    /* The stores, the pool on the backend, the admission gate. */
    if (core_open(&api->core, &s->cfg, err) < 0)
        return -1;
    api->metrics = metrics_new();
    api->started_ms = time_wall_ms();
    api->version = KCR_VERSION;
    if (!(s->reaper = session_reaper_start(&api->core, err)) && err->kind != KCR_ERR_NONE)
        return -1;
    return 0;
}

static int start_http(struct serve_state *s, struct kcr_err *err)
{
    s->http = (struct kcr_http_config){
        .host = s->cfg.host,
        .port = s->cfg.port,
        .routes = routes,
        .nroutes = ARRAY_SIZE(routes),
        .strip_prefix = "/v1",
        .limits =
            {
                .max_body = STATE_MAX_BYTES,
                .max_part_size = s->cfg.max_file_size,
                .max_parts = s->cfg.max_files_per_session,
                .max_field_size = 64 * 1024,
            },
        .hooks = {.before = auth_gate,
                  .ready = auth_ready,
                  .error = errors_http_hook,
                  .finish = finish},
        .ctx = &s->api,
        .spool_dir = s->api.core.spool_dir,
        .timeout_s = 120,
        .header_timeout_s = (unsigned)s->cfg.http_header_timeout_s,
        .body_timeout_s = (unsigned)s->cfg.http_body_timeout_s,
        .max_per_ip = (unsigned)s->cfg.max_conns_per_ip,
    };
    s->srv = http_server_start(&s->http, err);
    return s->srv ? 0 : -1;
}

static void announce(struct serve_state *s)
{
    const char *host = strchr(s->cfg.host, ':') ? "[::1]" : s->cfg.host;
    int port = http_server_port(s->srv);
    /* The key is shown once, when it is made: later starts name its file
     * only, so it does not end up in every log of every restart. */
    if (s->key && s->key_new)
        printf("kcr: listening on http://%s:%d (API key in %s: %s)\n", host, port, s->key_path,
               s->key);
    else if (s->key)
        printf("kcr: listening on http://%s:%d (API key in %s)\n", host, port, s->key_path);
    else if (s->cfg.auth_provider == KCR_AUTH_JWT)
        printf("kcr: listening on http://%s:%d (LibreChat JWTs, issuer '%s')\n", host, port,
               s->cfg.jwt.issuer);
    else
        printf("kcr: listening on http://%s:%d (API keys from API_KEY/API_KEYS)\n", host, port);
    fflush(stdout);
    log_json(KCR_LOG_INFO, NULL, "listening",
             json_pack("{s:s,s:i,s:s,s:s,s:b,s:o}", "host", s->cfg.host, "port", port, "data_dir",
                       s->cfg.data_dir, "pod_backend", core_backend_name(&s->api.core),
                       "generated_key", s->key_new, "auth", auth_describe(s->api.auth)));
}

/* Stops accepting, lets executions in flight finish (bounded), then frees
 * everything: the pool and the backend destroy their pods. */
static void shutdown_all(struct serve_state *s)
{
    if (s->srv) {
        http_server_quiesce(s->srv);
        int64_t t0 = time_mono_ms();
        while (atomic_load(&s->api.inflight) > 0) {
            if (time_mono_ms() - t0 >= (int64_t)s->cfg.shutdown_grace_s * 1000) {
                log_msg(KCR_LOG_WARN, NULL, "shutdown: %d executions still running after %d s",
                        atomic_load(&s->api.inflight), s->cfg.shutdown_grace_s);
                break;
            }
            usleep(50 * 1000);
        }
        if (atomic_load(&s->api.inflight) == 0)
            s->srv = http_server_stop(s->srv);
    }
    s->reaper = session_reaper_stop(s->reaper);
    core_stop_pods(&s->api.core); /* the pool, then the backend */
    if (s->srv)
        return; /* handlers may still run: leave their objects to the exit */
    s->api.auth = auth_free(s->api.auth);
    s->api.metrics = metrics_free(s->api.metrics);
    core_close(&s->api.core); /* the stores, then the admission gate */
    free(s->key);
    free(s->key_path);
    config_done(&s->cfg);
}

int serve_main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr,
                "usage: kcr serve (configured by environment; see docs/configuration.md)\n");
        return 2;
    }
    log_init("kcr-serve");
    /* No core dumps and no ptrace by same-uid processes (docs/security.md case 15);
     * the uid drop would do it too, this also covers rootless runs. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* Every thread inherits this mask; the main thread takes the signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    static struct serve_state s;
    struct kcr_err err = {0};
    if (config_load(&s.cfg, &err) < 0) {
        fprintf(stderr, "kcr: %s\n", err.msg);
        return 2;
    }
    if (start_privileged(&s, &err) < 0 || start_services(&s, &err) < 0 ||
        start_http(&s, &err) < 0) {
        fprintf(stderr, "kcr: %s\n", err.msg);
        shutdown_all(&s);
        return err.kind == KCR_ERR_INVALID ? 2 : 1;
    }
    announce(&s);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    log_msg(KCR_LOG_INFO, NULL, "signal %d: shutting down", sig);
    shutdown_all(&s);
    log_msg(KCR_LOG_INFO, NULL, "stopped");
    return 0;
}
