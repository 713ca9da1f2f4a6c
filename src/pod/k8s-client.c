/* k8s-client — pods over the Kubernetes REST API (see k8s-client.h).
 *
 * The API server is trusted more than a pod, but its replies are still
 * bounded: a misbehaving proxy or a huge list must not exhaust kcr's memory.
 * One easy handle per call keeps threads independent; curl_global_init runs
 * once (curl_init_once, curl-init.c) because it is not thread-safe. */
#include "pod/k8s-client.h"
#include "common/curl-init.h"

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/config.h"
#include "common/fsutil.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SA_DIR          "/var/run/secrets/kubernetes.io/serviceaccount"
#define BODY_CAP        (1u << 20)  /* one object */
#define LIST_CAP        (16u << 20) /* a PodList */
#define EVENT_CAP       (1u << 20)  /* one watch line */
#define TOKEN_CAP       (16u << 10)
#define CONNECT_MS      5000L
#define CALL_TIMEOUT_MS 30000L
#define ATTEMPTS        4
#define RETRY_AFTER_MAX 5 /* seconds: longer waits fail the call instead */

struct k8s_client {
    struct k8s_client_config cfg;
};

/*** Configuration ***/

/* Reads a small file and strips trailing whitespace; NULL if unreadable. */
static char *read_small(const char *path)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return NULL;
    char buf[TOKEN_CAP + 1];
    size_t len = 0;
    while (len < TOKEN_CAP) {
        ssize_t n = read(fd, buf + len, TOKEN_CAP - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    buf[len] = '\0';
    return xstrdup(buf);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

int k8s_client_config_from_env(struct k8s_client_config *cfg, struct kcr_err *err)
{
    *cfg = (struct k8s_client_config){0};
    const char *url = config_str("K8S_API_URL", NULL);
    if (url) {
        if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
            return kcr_err_set(err, 0, KCR_ERR_INVALID,
                               "K8S_API_URL must start with http:// or https://");
        cfg->api_url = xstrdup(url);
        cfg->token = dup_or_null(config_str("K8S_TOKEN", NULL));
        cfg->token_file = dup_or_null(config_str("K8S_TOKEN_FILE", NULL));
        cfg->ca_file = dup_or_null(config_str("K8S_CA_FILE", NULL));
    } else {
        const char *host = config_str("KUBERNETES_SERVICE_HOST", NULL);
        const char *port = config_str("KUBERNETES_SERVICE_PORT", "443");
        if (!host)
            return kcr_err_set(err, 0, KCR_ERR_INVALID,
                               "KCR_POD_BACKEND=kubernetes needs K8S_API_URL or an in-cluster "
                               "service account (KUBERNETES_SERVICE_HOST is unset)");
        /* An IPv6 service address needs brackets in a URL. */
        cfg->api_url = strchr(host, ':') ? xasprintf("https://[%s]:%s", host, port)
                                         : xasprintf("https://%s:%s", host, port);
        cfg->token_file = xstrdup(SA_DIR "/token");
        cfg->ca_file = xstrdup(SA_DIR "/ca.crt");
        if (access(cfg->token_file, R_OK) < 0) {
            k8s_client_config_done(cfg);
            return kcr_err_set(err, errno, KCR_ERR_INVALID, "in-cluster config: cannot read '%s'",
                               SA_DIR "/token");
        }
    }
    bool insecure = false;
    if (config_bool("K8S_INSECURE_SKIP_TLS_VERIFY", false, &insecure, err) < 0) {
        k8s_client_config_done(cfg);
        return -1;
    }
    cfg->insecure = insecure;
    const char *ns = config_str("K8S_NAMESPACE", NULL);
    _cleanup_free_ char *sa_ns = ns ? NULL : read_small(SA_DIR "/namespace");
    cfg->namespace = xstrdup(ns ? ns : sa_ns && *sa_ns ? sa_ns : "default");
    return 0;
}

void k8s_client_config_done(struct k8s_client_config *cfg)
{
    free(cfg->api_url);
    free(cfg->token);
    free(cfg->token_file);
    free(cfg->ca_file);
    free(cfg->namespace);
    *cfg = (struct k8s_client_config){0};
}

struct k8s_client *k8s_client_new(const struct k8s_client_config *cfg, struct kcr_err *err)
{
    if (curl_init_once(err) < 0)
        return NULL;
    if (!cfg->api_url || !cfg->namespace)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "kubernetes client: api url and namespace "
                           "are required"),
               NULL;
    struct k8s_client *c = xcalloc(1, sizeof(*c));
    c->cfg.api_url = xstrdup(cfg->api_url);
    /* A trailing slash would double up with every path. */
    size_t n = strlen(c->cfg.api_url);
    while (n > 0 && c->cfg.api_url[n - 1] == '/')
        c->cfg.api_url[--n] = '\0';
    c->cfg.token = dup_or_null(cfg->token);
    c->cfg.token_file = dup_or_null(cfg->token_file);
    c->cfg.ca_file = dup_or_null(cfg->ca_file);
    c->cfg.namespace = xstrdup(cfg->namespace);
    c->cfg.insecure = cfg->insecure;
    return c;
}

struct k8s_client *k8s_client_free(struct k8s_client *c)
{
    if (c) {
        k8s_client_config_done(&c->cfg);
        free(c);
    }
    return NULL;
}

/*** One HTTP exchange ***/

struct call {
    CURL *h;
    struct curl_slist *headers;
    struct kcr_buf body;
    bool over_cap;
    long retry_after; /* seconds from a Retry-After header, or -1 */
    char errbuf[CURL_ERROR_SIZE];
    /* Watch streaming (line_cb set): */
    struct kcr_buf line;
    int (*line_cb)(struct call *call, const char *line, size_t len);
    void *line_ud;
    const atomic_bool *stop;
    int stream_rc; /* set by line_cb to abort with a result */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct call *call = ud;
    size_t n = size * nmemb;
    if (!call->line_cb) {
        if (buf_append(&call->body, ptr, n) < n) {
            call->over_cap = true;
            return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (ptr[i] != '\n') {
            if (buf_append(&call->line, ptr + i, 1) < 1) {
                call->over_cap = true;
                return 0;
            }
            continue;
        }
        if (call->line.len > 0 && call->line_cb(call, call->line.data, call->line.len) != 0)
            return 0;
        call->line.len = 0;
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct call *call = ud;
    size_t n = size * nmemb;
    if (n > 12 && !strncasecmp(ptr, "Retry-After:", 12)) {
        char tmp[32];
        size_t k = n - 12 < sizeof(tmp) - 1 ? n - 12 : sizeof(tmp) - 1;
        memcpy(tmp, ptr + 12, k);
        tmp[k] = '\0';
        char *end = NULL;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v >= 0)
            call->retry_after = v;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct call *call = ud;
    return call->stop && atomic_load(call->stop) ? 1 : 0;
}

static void call_done(struct call *call)
{
    if (call->h)
        curl_easy_cleanup(call->h);
    curl_slist_free_all(call->headers);
    buf_done(&call->body);
    buf_done(&call->line);
    call->h = NULL;
    call->headers = NULL;
}

static int call_setup(struct k8s_client *c, struct call *call, const char *method, const char *url,
                      const char *content_type, const char *body, size_t cap, long timeout_ms,
                      struct kcr_err *err)
{
    buf_init(&call->body, cap);
    buf_init(&call->line, EVENT_CAP);
    call->retry_after = -1;
    call->h = curl_easy_init();
    if (!call->h)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "curl_easy_init failed");
    _cleanup_free_ char *token = c->cfg.token_file ? read_small(c->cfg.token_file) : NULL;
    const char *tok = token && *token ? token : c->cfg.token;
    if (tok) {
        _cleanup_free_ char *auth = xasprintf("Authorization: Bearer %s", tok);
        call->headers = curl_slist_append(call->headers, auth);
    }
    call->headers = curl_slist_append(call->headers, "Accept: application/json");
    if (content_type) {
        _cleanup_free_ char *ct = xasprintf("Content-Type: %s", content_type);
        call->headers = curl_slist_append(call->headers, ct);
    }
    CURL *h = call->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, call->headers);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, call);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, call->errbuf);
    if (c->cfg.ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg.ca_file);
    if (c->cfg.insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return 0;
}

/* The "message" of a Kubernetes Status body, for error texts. Borrowed from body. */
static void status_message(const struct call *call, char *out, size_t size)
{
    json_auto_t *j = call->body.data ? json_loads(call->body.data, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(j, "message"));
    snprintf(out, size, "%s", m ? m : "");
}

static bool retryable_status(long status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Performs method on path with bounded retries. Returns 0 with the status in
 * *ret_status and the parsed body in *ret (when ret != NULL and 2xx); -1 on
 * transport failure or a non-retryable status the caller does not handle. */
static int request(struct k8s_client *c, const char *method, const char *path,
                   const char *content_type, const json_t *body, size_t cap, long *ret_status,
                   json_t **ret, struct kcr_err *err)
{
    _cleanup_free_ char *url = xasprintf("%s%s", c->cfg.api_url, path);
    _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    for (int attempt = 0;; attempt++) {
        struct call call = {0};
        if (call_setup(c, &call, method, url, content_type, text, cap, CALL_TIMEOUT_MS, err) < 0) {
            call_done(&call);
            return -1;
        }
        CURLcode rc = curl_easy_perform(call.h);
        long status = 0;
        curl_easy_getinfo(call.h, CURLINFO_RESPONSE_CODE, &status);
        bool last = attempt + 1 >= ATTEMPTS;
        if (rc != CURLE_OK) {
            if (call.over_cap) {
                call_done(&call);
                return kcr_err_set(err, 0, KCR_ERR_LIMIT,
                                   "kubernetes %s %s: reply larger than %zu bytes", method, path,
                                   cap);
            }
            if (!last) {
                call_done(&call);
                sleep_ms(200L << (2 * attempt));
                continue;
            }
            kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "kubernetes %s %s: %s", method, path,
                        call.errbuf[0] ? call.errbuf : curl_easy_strerror(rc));
            call_done(&call);
            return -1;
        }
        if (retryable_status(status) && !last) {
            long wait = call.retry_after >= 0 ? call.retry_after * 1000 : 200L << (2 * attempt);
            call_done(&call);
            if (wait > RETRY_AFTER_MAX * 1000L)
                wait = RETRY_AFTER_MAX * 1000L;
            sleep_ms(wait);
            continue;
        }
        *ret_status = status;
        if (status >= 200 && status < 300) {
            if (ret) {
                json_error_t jerr;
                *ret = json_loadb(call.body.data ? call.body.data : "", call.body.len, 0, &jerr);
                if (!*ret || !json_is_object(*ret)) {
                    json_decref(*ret);
                    *ret = NULL;
                    call_done(&call);
                    return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                                       "kubernetes %s %s: reply is not a JSON object", method,
                                       path);
                }
            }
            call_done(&call);
            return 0;
        }
        char msg[160];
        status_message(&call, msg, sizeof(msg));
        call_done(&call);
        kcr_err_set(err, 0, status == 404 ? KCR_ERR_NOT_FOUND : KCR_ERR_UNAVAILABLE,
                    "kubernetes %s %s: HTTP %ld%s%s", method, path, status, msg[0] ? ": " : "",
                    msg);
        /* 404/409/410 are answers the callers act on; the rest are failures. */
        return status == 404 || status == 409 || status == 410 ? 0 : -1;
    }
}

static char *pods_path(const struct k8s_client *c, const char *name)
{
    _cleanup_free_ char *ns = curl_easy_escape(NULL, c->cfg.namespace, 0);
    if (!name)
        return xasprintf("/api/v1/namespaces/%s/pods", ns);
    char *n = curl_easy_escape(NULL, name, 0);
    char *p = xasprintf("/api/v1/namespaces/%s/pods/%s", ns, n);
    curl_free(n);
    return p;
}

/*** Pods ***/

/* POST (name NULL) or PATCH of a pod: 0 with the reply's object in *ret
 * (freed when ret is NULL); K8S_CONFLICT when the API server answered 409;
 * -1 on failure. */
static int send_pod(struct k8s_client *c, const char *method, const char *name,
                    const char *content_type, const json_t *body, json_t **ret, struct kcr_err *err)
{
    _cleanup_free_ char *base = pods_path(c, name);
    /* Strict: a field the API server does not know (a typo in a manifest or
     * a patch) is an error, not a warning the cluster drops silently. */
    _cleanup_free_ char *path = xasprintf("%s?fieldValidation=Strict", base);
    long status = 0;
    json_t *obj = NULL;
    if (request(c, method, path, content_type, body, BODY_CAP, &status, &obj, err) < 0)
        return -1;
    if (status == 409)
        return K8S_CONFLICT;
    if (status < 200 || status >= 300)
        return -1;
    if (ret)
        *ret = obj;
    else
        json_decref(obj);
    return 0;
}

int k8s_pod_create(struct k8s_client *c, const json_t *pod, json_t **ret, struct kcr_err *err)
{
    int rc = send_pod(c, "POST", NULL, "application/json", pod, ret, err);
    if (rc != K8S_CONFLICT)
        return rc;
    /* A retried POST whose first attempt was applied: the name is ours
     * (random), so the existing pod is the one we created. */
    const char *name = json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
    if (!name)
        return -1;
    return k8s_pod_get(c, name, ret, err);
}

int k8s_pod_get(struct k8s_client *c, const char *name, json_t **ret, struct kcr_err *err)
{
    _cleanup_free_ char *path = pods_path(c, name);
    long status = 0;
    if (request(c, "GET", path, NULL, NULL, BODY_CAP, &status, ret, err) < 0)
        return -1;
    return status >= 200 && status < 300 ? 0 : -1;
}

int k8s_pod_list(struct k8s_client *c, const char *selector, json_t **ret, struct kcr_err *err)
{
    _cleanup_free_ char *base = pods_path(c, NULL);
    _cleanup_free_ char *sel = selector ? curl_easy_escape(NULL, selector, 0) : NULL;
    _cleanup_free_ char *path = sel ? xasprintf("%s?labelSelector=%s", base, sel) : xstrdup(base);
    long status = 0;
    if (request(c, "GET", path, NULL, NULL, LIST_CAP, &status, ret, err) < 0)
        return -1;
    if (status < 200 || status >= 300)
        return -1;
    if (!json_is_array(json_object_get(*ret, "items"))) {
        json_decref(*ret);
        *ret = NULL;
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "kubernetes list: no 'items' array");
    }
    return 0;
}

int k8s_pod_patch(struct k8s_client *c, const char *name, const json_t *patch, json_t **ret,
                  struct kcr_err *err)
{
    return send_pod(c, "PATCH", name, "application/merge-patch+json", patch, ret, err);
}

int k8s_pod_delete(struct k8s_client *c, const char *name, int grace_s, struct kcr_err *err)
{
    return k8s_pod_delete_if(c, name, grace_s, NULL, err);
}

int k8s_pod_delete_if(struct k8s_client *c, const char *name, int grace_s,
                      const char *resource_version, struct kcr_err *err)
{
    _cleanup_free_ char *base = pods_path(c, name);
    _cleanup_free_ char *path =
        grace_s >= 0 ? xasprintf("%s?gracePeriodSeconds=%d", base, grace_s) : xstrdup(base);
    json_auto_t *opts = NULL;
    if (resource_version && resource_version[0])
        opts = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
                         "preconditions", "resourceVersion", resource_version);
    long status = 0;
    if (request(c, "DELETE", path, opts ? "application/json" : NULL, opts, BODY_CAP, &status, NULL,
                err) < 0)
        return -1;
    if (status == 409)
        return K8S_CONFLICT;
    if (status == 404 || (status >= 200 && status < 300)) {
        kcr_err_clear(err);
        return 0;
    }
    return -1;
}

/*** Watch ***/

struct watch_ctx {
    k8s_watch_cb cb;
    void *ud;
};

static int on_line(struct call *call, const char *line, size_t len)
{
    struct watch_ctx *w = call->line_ud;
    json_auto_t *ev = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    if (!type || !json_is_object(obj)) {
        call->stream_rc = -1;
        return -1;
    }
    if (!strcmp(type, "ERROR")) {
        json_int_t code = json_integer_value(json_object_get(obj, "code"));
        call->stream_rc = code == 410 ? K8S_GONE : -1;
        return -1;
    }
    if (w->cb(type, obj, w->ud) != 0) {
        call->stream_rc = 1;
        return -1;
    }
    return 0;
}

int k8s_pod_watch(struct k8s_client *c, const char *selector, const char *resource_version,
                  int timeout_s, k8s_watch_cb cb, void *userdata, const atomic_bool *stop,
                  struct kcr_err *err)
{
    _cleanup_free_ char *base = pods_path(c, NULL);
    _cleanup_free_ char *sel = selector ? curl_easy_escape(NULL, selector, 0) : NULL;
    _cleanup_free_ char *rv = resource_version ? curl_easy_escape(NULL, resource_version, 0) : NULL;
    _cleanup_free_ char *url =
        xasprintf("%s%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d%s%s%s%s", c->cfg.api_url,
                  base, timeout_s, sel ? "&labelSelector=" : "", sel ? sel : "",
                  rv ? "&resourceVersion=" : "", rv ? rv : "");
    struct watch_ctx w = {cb, userdata};
    struct call call = {0};
    /* The server ends the stream after timeout_s; the margin covers a server
     * that silently stopped talking (restarted behind a proxy). */
    long limit_ms = ((long)timeout_s + 15) * 1000L;
    if (call_setup(c, &call, "GET", url, NULL, NULL, 0, limit_ms, err) < 0) {
        call_done(&call);
        return -1;
    }
    call.line_cb = on_line;
    call.line_ud = &w;
    call.stop = stop;
    CURLcode rc = curl_easy_perform(call.h);
    long status = 0;
    curl_easy_getinfo(call.h, CURLINFO_RESPONSE_CODE, &status);
    int ret = 0;
    if (call.stream_rc == K8S_GONE || status == 410) {
        kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "kubernetes watch: resourceVersion %s is gone",
                    resource_version ? resource_version : "(none)");
        ret = K8S_GONE;
    } else if (call.stream_rc == 1 || (stop && atomic_load(stop))) {
        ret = 0;
    } else if (call.over_cap) {
        ret = kcr_err_set(err, 0, KCR_ERR_LIMIT, "kubernetes watch: event larger than %u bytes",
                          EVENT_CAP);
    } else if (call.stream_rc < 0) {
        ret = kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "kubernetes watch: bad event line");
    } else if (status != 0 && (status < 200 || status >= 300)) {
        ret = kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "kubernetes watch: HTTP %ld", status);
    } else if (rc != CURLE_OK && rc != CURLE_OPERATION_TIMEDOUT) {
        ret = kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "kubernetes watch: %s",
                          call.errbuf[0] ? call.errbuf : curl_easy_strerror(rc));
    }
    call_done(&call);
    return ret;
}
