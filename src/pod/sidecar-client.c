/* sidecar-client — kcr's HTTP client for a pod's kcr-sidecar (libcurl + jansson).
 *
 * The sidecar runs inside the pod next to hostile code, so every byte it sends
 * is untrusted: each response body is capped (the write callback aborts the
 * transfer past the cap), every JSON field is type-checked, names from
 * listings must pass names_is_safe_path(), and every call has a timeout.
 *
 * curl_global_init() runs exactly once (curl_init_once, curl-init.c), on the
 * first call into this file at the latest; a program may also call it itself
 * earlier, which is harmless. One easy handle per call: a pod is used once, so there is no
 * connection to reuse, and creating a handle costs microseconds. */
#include "pod/sidecar-client.h"
#include "common/limits.h"
#include "pod/sidecar-client-internal.h"
#include "common/curl-init.h"

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/digest.h"
#include "common/fsutil.h"
#include "common/names.h"
#include "common/time.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Depth of names accepted from listings (the sidecar bounds depth too). */
#define NAME_DEPTH     16
#define LIST_MAX_FILES 10000 /* entries kept of one listing */
/* Small replies (/ready, /files upload, error bodies). */
#define SMALL_BODY_CAP  (64u << 10)
#define CONNECT_MS      5000L
#define PUT_TIMEOUT_MS  120000L
#define GET_TIMEOUT_MS  120000L
#define DOWNLOAD_BUFFER (512L << 10)
#define LIST_TIMEOUT_MS 30000L

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static size_t max_output = 1048576; /* MAX_OUTPUT_SIZE, read once */

static void init_global(void)
{
    /* The API validates MAX_OUTPUT_SIZE at start; here a bad value keeps the
     * default so that the cap below is never absent. */
    const char *v = getenv("MAX_OUTPUT_SIZE");
    char *end = NULL;
    long long n = v && *v ? strtoll(v, &end, 10) : 0;
    if (v && *v && end && *end == '\0' && n > 0 && n <= (1LL << 30))
        max_output = (size_t)n;
}

/* Bytes of /execute reply kcr accepts: both streams at the sidecar's cap,
 * each byte possibly escaped as \u00XX (6 bytes) by JSON, plus the other
 * fields. kcr serve's MAX_OUTPUT_SIZE counts characters; the sidecar's cap is
 * sidecar_client_output_bytes() of it (4 bytes per character), so that is what a
 * reply of control bytes can reach (issue 13, item 5: 503 instead of 200). */
size_t sc_exec_body_cap(void)
{
    pthread_once(&init_once, init_global);
    return 2 * 6 * (size_t)sidecar_client_output_bytes((long)max_output) + SMALL_BODY_CAP;
}

void sc_call_done(struct sc_call *c)
{
    curl_easy_cleanup(c->h);
    curl_slist_free_all(c->headers);
    buf_done(&c->body);
}

static size_t collect_cb(char *data, size_t size, size_t n, void *ud)
{
    struct sc_call *c = ud;
    size_t len = size * n;
    if (c->body.len + len > c->body.cap) {
        c->over_cap = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    buf_append(&c->body, data, len);
    return len;
}

static long status_of(struct sc_call *c)
{
    long status = 0;
    (void)curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static bool is_2xx(long status)
{
    return status >= 200 && status < 300;
}

/* Download: bytes of a 200 reply go to out_fd, anything else (an error body)
 * to the small buffer. The status is known once headers are in. */
static size_t stream_cb(char *data, size_t size, size_t n, void *ud)
{
    struct sc_call *c = ud;
    size_t len = size * n;
    if (!is_2xx(status_of(c)))
        return collect_cb(data, size, n, ud);
    if (c->written + len > c->max) {
        c->over_cap = true;
        return 0;
    }
    int r = fs_write_all(c->out_fd, data, len);
    if (r < 0) {
        c->write_errno = -r;
        return 0;
    }
    if (c->digest)
        digest_sha256_update(c->digest, data, len);
    c->written += len;
    return len;
}

/* Sets up an easy handle for pod + path (already URL-escaped). */
int sc_call_init(struct sc_call *c, const struct kcr_pod *pod, const char *path, long timeout_ms,
                 size_t body_cap, struct kcr_err *err)
{
    *c = (struct sc_call){.out_fd = -1};
    buf_init(&c->body, body_cap);
    pthread_once(&init_once, init_global);
    if (curl_init_once(err) < 0)
        return -1;
    if (!pod->base_url)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "pod '%s' has no sidecar address", pod->id);
    c->h = curl_easy_init();
    if (!c->h)
        return kcr_err_set(err, ENOMEM, KCR_ERR_INTERNAL, "curl_easy_init");
    _cleanup_free_ char *url = xasprintf("%s%s", pod->base_url, path);
    CURL *h = c->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (pod->unix_socket)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, pod->unix_socket);
    /* Threads: no SIGALRM-based DNS timeouts. */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* Never route pod traffic through a proxy from the environment, never
     * follow a redirect the sidecar might send, speak plain HTTP only. */
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < CONNECT_MS ? timeout_ms : CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    /* Bodies go out at once: waiting for "100 Continue" only adds latency. */
    c->headers = curl_slist_append(c->headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    return 0;
}

/* A short, printable excerpt of an error body (the sidecar's {"error": ...}
 * or raw text) for messages. */
static void error_excerpt(const struct kcr_buf *b, char *out, size_t size)
{
    out[0] = '\0';
    if (!b->data || b->len == 0)
        return;
    json_auto_t *j = json_loadb(b->data, b->len, 0, NULL);
    const char *s = NULL;
    if (json_is_object(j)) {
        static const char *const keys[] = {"error", "detail", "message"};
        for (size_t i = 0; i < ARRAY_SIZE(keys) && !s; i++)
            s = json_string_value(json_object_get(j, keys[i]));
    }
    if (!s)
        s = b->data;
    size_t w = 0;
    for (size_t i = 0; s[i] && w + 1 < size && w < 160; i++)
        out[w++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[w] = '\0';
}

static enum kcr_err_kind kind_of_status(long status)
{
    switch (status) {
    case 400:
    case 422:
        return KCR_ERR_INVALID;
    case 404:
        return KCR_ERR_NOT_FOUND;
    case 413:
        return KCR_ERR_LIMIT;
    case 504:
        return KCR_ERR_TIMEOUT;
    default:
        return KCR_ERR_UNAVAILABLE;
    }
}

/* Runs the request; 0 when it completed with a 2xx status. */
int sc_call_perform(struct sc_call *c, const char *what, struct kcr_err *err)
{
    CURLcode rc = curl_easy_perform(c->h);
    if (c->over_cap)
        return kcr_err_set(err, 0, KCR_ERR_LIMIT, "sidecar %s: reply exceeds %zu bytes", what,
                           c->out_fd >= 0 && is_2xx(status_of(c)) ? (size_t)c->max : c->body.cap);
    if (c->write_errno)
        return kcr_err_set(err, c->write_errno, KCR_ERR_INTERNAL, "sidecar %s: write", what);
    if (rc != CURLE_OK) {
        enum kcr_err_kind kind =
            rc == CURLE_OPERATION_TIMEDOUT ? KCR_ERR_TIMEOUT : KCR_ERR_UNAVAILABLE;
        return kcr_err_set(err, 0, kind, "sidecar %s: %s", what,
                           c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
    }
    long status = status_of(c);
    if (!is_2xx(status)) {
        char excerpt[200];
        error_excerpt(&c->body, excerpt, sizeof(excerpt));
        return kcr_err_set(err, 0, kind_of_status(status), "sidecar %s: HTTP %ld%s%s", what, status,
                           excerpt[0] ? ": " : "", excerpt);
    }
    return 0;
}

/* The reply as a JSON object (JSON_ALLOW_NUL: program output may hold NULs). */
json_t *sc_call_json(struct sc_call *c, const char *what, struct kcr_err *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(c->body.data ? c->body.data : "", c->body.len, JSON_ALLOW_NUL, &jerr);
    if (!j) {
        kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "sidecar %s: bad JSON: %s", what, jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "sidecar %s: reply is not an object", what);
        return NULL;
    }
    return j;
}

/* "/files/" + each component of name percent-escaped, '/' kept. */
static char *file_path(CURL *h, const char *name)
{
    struct kcr_buf b;
    buf_init(&b, 0);
    buf_append(&b, "/files/", 7);
    const char *p = name;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char *esc = curl_easy_escape(h, p, (int)len);
        if (esc)
            buf_append(&b, esc, strlen(esc));
        curl_free(esc);
        if (!slash)
            break;
        buf_append(&b, "/", 1);
        p = slash + 1;
    }
    return buf_take(&b, NULL);
}

/*** /ready ***/

int sidecar_client_ready(const struct kcr_pod *pod, int timeout_ms, struct kcr_err *err)
{
    struct sc_call c;
    int r =
        sc_call_init(&c, pod, "/ready", timeout_ms > 0 ? timeout_ms : 1000, SMALL_BODY_CAP, err);
    if (r == 0)
        r = sc_call_perform(&c, "/ready", err);
    sc_call_done(&c);
    if (r < 0 && err)
        err->kind = KCR_ERR_UNAVAILABLE;
    return r;
}

/*** /files upload ***/

struct upload {
    int fd;
    uint64_t size, off;
    bool seekable;
};

static size_t upload_read_cb(char *out, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t want = size * n;
    if (want > u->size - u->off)
        want = (size_t)(u->size - u->off);
    if (want == 0)
        return 0;
    ssize_t r;
    do
        r = u->seekable ? pread(u->fd, out, want, (off_t)u->off) : read(u->fd, out, want);
    while (r < 0 && errno == EINTR);
    if (r <= 0) /* the file shrank or failed: abort rather than send short */
        return CURL_READFUNC_ABORT;
    u->off += (uint64_t)r;
    return (size_t)r;
}

static int upload_seek_cb(void *ud, curl_off_t offset, int origin)
{
    struct upload *u = ud;
    if (!u->seekable || origin != SEEK_SET || offset < 0 || (uint64_t)offset > u->size)
        return CURL_SEEKFUNC_CANTSEEK;
    u->off = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

int sidecar_client_put_file(const struct kcr_pod *pod, const char *name, int fd, uint64_t size,
                            struct kcr_err *err)
{
    if (!names_is_safe_path(name, NAME_DEPTH))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "unsafe file name for pod");
    if (size > (uint64_t)INT64_MAX)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "file '%s' too large", name);
    /* pread from offset 0 when fd allows it, so the caller's offset does not matter. */
    struct upload u = {.fd = fd, .size = size};
    char probe;
    u.seekable = pread(fd, &probe, 0, 0) == 0;
    struct sc_call c;
    int r = sc_call_init(&c, pod, "/files", PUT_TIMEOUT_MS, SMALL_BODY_CAP, err);
    curl_mime *mime = NULL;
    if (r == 0) {
        mime = curl_mime_init(c.h);
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, "files");
        curl_mime_filename(part, name);
        curl_mime_type(part, "application/octet-stream");
        curl_mime_data_cb(part, (curl_off_t)size, upload_read_cb, upload_seek_cb, NULL, &u);
        curl_easy_setopt(c.h, CURLOPT_MIMEPOST, mime);
        r = sc_call_perform(&c, "upload", err);
    }
    sc_call_done(&c);
    curl_mime_free(mime);
    return r < 0 ? kcr_err_wrap(err, "put '%s'", name) : 0;
}

/*** /execute ***/

json_t *sc_exec_body(const struct kcr_exec_req *req, struct kcr_err *err)
{
    json_auto_t *body = json_object();
    json_t *code = json_string(req->code ? req->code : "");
    if (!code) {
        kcr_err_set(err, 0, KCR_ERR_INVALID, "code is not valid UTF-8");
        return NULL;
    }
    json_object_set_new(body, "code", code);
    json_object_set_new(body, "timeout", json_integer(req->timeout_s));
    json_object_set_new(body, "working_dir",
                        json_string(req->working_dir ? req->working_dir : KCR_WORKDIR));
    if (req->nargs > 0) {
        json_t *args = json_array();
        json_object_set_new(body, "args", args);
        for (size_t i = 0; i < req->nargs; i++) {
            json_t *a = json_string(req->args[i] ? req->args[i] : "");
            if (!a) {
                kcr_err_set(err, 0, KCR_ERR_INVALID, "argument %zu is not valid UTF-8", i);
                return NULL;
            }
            json_array_append_new(args, a);
        }
    }
    if (req->stdin_data) {
        json_t *in = json_stringn(req->stdin_data, req->stdin_len);
        if (!in) {
            kcr_err_set(err, 0, KCR_ERR_INVALID, "stdin is not valid UTF-8");
            return NULL;
        }
        json_object_set_new(body, "stdin", in);
    }
    /* Sent only when wanted: an answer without it stays as small as ever. */
    if (req->list_files)
        json_object_set_new(body, "list_files", json_true());
    return TAKE_PTR(body);
}

/* Copies a JSON string (which may hold NULs) out. */
static char *dup_string(json_t *s, size_t *ret_len)
{
    size_t len = json_string_length(s);
    char *p = xmalloc(len + 1);
    memcpy(p, json_string_value(s), len);
    p[len] = '\0';
    *ret_len = len;
    return p;
}

static json_t *not_null(json_t *v)
{
    return json_is_null(v) ? NULL : v;
}

/* The listing an answer carries ("listing", as GET /files?recursive=1's
 * body, and "listing_ms"), if it has a good one. Anything else (absent: a
 * sidecar that predates list_files; "listing_error"; a malformed one) leaves
 * res->listed false, and the caller asks GET /files: the run's result stands. */
static void take_listing(json_t *j, struct kcr_exec_result *res)
{
    json_t *l = json_object_get(j, "listing");
    if (!json_is_object(l))
        return;
    double t = time_mono_ms_f();
    if (sc_parse_listing(l, "/execute", &res->files, NULL) < 0)
        return;
    res->listed = true;
    /* The sidecar's own figure, for the stages' log only: kept if sane. */
    json_t *ms = json_object_get(j, "listing_ms");
    double walk = json_is_number(ms) ? json_number_value(ms) : 0;
    res->list_ms = (walk > 0 && walk < 1e6 ? walk : 0) + (time_mono_ms_f() - t);
}

int sc_parse_exec(json_t *j, struct kcr_exec_result *res, struct kcr_err *err)
{
    json_t *exit_code = json_object_get(j, "exit_code");
    json_t *out = json_object_get(j, "stdout");
    json_t *errs = json_object_get(j, "stderr");
    json_t *timed_out = json_object_get(j, "timed_out");
    /* Optional fields: absent and null both mean "not reported". */
    json_t *time_ms = not_null(json_object_get(j, "execution_time_ms"));
    json_t *oom = not_null(json_object_get(j, "oom_killed"));
    json_t *sig = not_null(json_object_get(j, "signal"));
    if (!json_is_integer(exit_code) || !json_is_string(out) || !json_is_string(errs) ||
        !json_is_boolean(timed_out))
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                           "sidecar /execute: exit_code, stdout, stderr or timed_out missing or "
                           "of the wrong type");
    /* Optional fields must still have the right type when present. */
    if ((time_ms && !json_is_number(time_ms)) || (oom && !json_is_boolean(oom)) ||
        (sig && !json_is_integer(sig)))
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                           "sidecar /execute: execution_time_ms, oom_killed or signal has the "
                           "wrong type");
    json_int_t code = json_integer_value(exit_code);
    json_int_t signo = sig ? json_integer_value(sig) : 0;
    if (code < -1 || code > 255 || signo < 0 || signo > 64)
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                           "sidecar /execute: exit_code or signal out of range");
    res->exit_code = (int)code;
    res->signal = (int)signo;
    res->timed_out = json_is_true(timed_out);
    res->oom_killed = oom && json_is_true(oom);
    double ms = time_ms ? json_number_value(time_ms) : 0;
    res->execution_time_ms = ms > 0 && ms < 1e12 ? (long)ms : 0;
    res->stdout_data = dup_string(out, &res->stdout_len);
    res->stderr_data = dup_string(errs, &res->stderr_len);
    take_listing(j, res);
    return 0;
}

int sidecar_client_execute(const struct kcr_pod *pod, const struct kcr_exec_req *req,
                           struct kcr_exec_result *res, struct kcr_err *err)
{
    *res = (struct kcr_exec_result){0};
    if (req->timeout_s <= 0 || req->timeout_s > 86400)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "timeout %d s out of range", req->timeout_s);
    json_auto_t *body = sc_exec_body(req, err);
    if (!body)
        return -1;
    _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return kcr_err_set(err, ENOMEM, KCR_ERR_INTERNAL, "encode /execute body");
    struct sc_call c;
    int r = sc_call_init(&c, pod, "/execute", req->timeout_s * 1000L + EXEC_MARGIN_MS,
                         sc_exec_body_cap() + (req->list_files ? SC_LIST_BODY_CAP : 0), err);
    if (r == 0) {
        c.headers = curl_slist_append(c.headers, "Content-Type: application/json");
        curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
        curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
        r = sc_call_perform(&c, "/execute", err);
        /* No request header bytes went out: the connection itself failed. */
        long sent = 0;
        res->sent = curl_easy_getinfo(c.h, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK || sent > 0;
    }
    if (r == 0) {
        json_auto_t *j = sc_call_json(&c, "/execute", err);
        r = j ? sc_parse_exec(j, res, err) : -1;
    }
    sc_call_done(&c);
    return r;
}

void sidecar_client_result_done(struct kcr_exec_result *res)
{
    if (!res)
        return;
    free(res->stdout_data);
    free(res->stderr_data);
    sidecar_client_files_done(&res->files);
    *res = (struct kcr_exec_result){0};
}

/*** /files listing ***/

/* Appends one listing entry; entries with bad types or unsafe names are
 * skipped (never fetched), which is what the caller would do with them. */
static void add_entry(struct kcr_pod_files *files, json_t *e)
{
    json_t *name = json_object_get(e, "name");
    json_t *size = json_object_get(e, "size");
    json_t *mtime = json_object_get(e, "mtime_ns");
    if (!json_is_string(name) || !json_is_integer(size) || json_integer_value(size) < 0 ||
        (mtime && !json_is_integer(mtime)))
        return;
    const char *n = json_string_value(name);
    if (strlen(n) != json_string_length(name) || !names_is_safe_path(n, NAME_DEPTH))
        return;
    struct kcr_pod_file *f = &files->items[files->count++];
    f->name = xstrdup(n);
    f->size = (uint64_t)json_integer_value(size);
    f->mtime_ns = mtime ? (int64_t)json_integer_value(mtime) : 0;
}

int sc_parse_listing(json_t *j, const char *what, struct kcr_pod_files *ret, struct kcr_err *err)
{
    *ret = (struct kcr_pod_files){0};
    json_t *arr = json_object_get(j, "files");
    json_t *trunc = json_object_get(j, "truncated");
    if (!json_is_array(arr) || (trunc && !json_is_boolean(trunc)))
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "sidecar %s: bad listing", what);
    size_t n = json_array_size(arr);
    ret->truncated = trunc && json_is_true(trunc);
    if (n > LIST_MAX_FILES) {
        n = LIST_MAX_FILES;
        ret->truncated = true;
    }
    ret->items = n ? xcalloc(n, sizeof(*ret->items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        if (json_is_object(e))
            add_entry(ret, e);
    }
    return 0;
}

int sidecar_client_list_files(const struct kcr_pod *pod, struct kcr_pod_files *ret,
                              struct kcr_err *err)
{
    *ret = (struct kcr_pod_files){0};
    struct sc_call c;
    int r = sc_call_init(&c, pod, "/files?recursive=1", LIST_TIMEOUT_MS, SC_LIST_BODY_CAP, err);
    if (r == 0)
        r = sc_call_perform(&c, "/files", err);
    json_auto_t *j = r == 0 ? sc_call_json(&c, "/files", err) : NULL;
    sc_call_done(&c);
    return j ? sc_parse_listing(j, "/files", ret, err) : -1;
}

void sidecar_client_files_done(struct kcr_pod_files *files)
{
    if (!files)
        return;
    for (size_t i = 0; i < files->count; i++)
        free(files->items[i].name);
    free(files->items);
    *files = (struct kcr_pod_files){0};
}

/*** /files/{name} download ***/

int sidecar_client_get_file(const struct kcr_pod *pod, const char *name, int out_fd, uint64_t max,
                            char ret_sha256[65], struct kcr_err *err)
{
    if (!names_is_safe_path(name, NAME_DEPTH))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "unsafe file name from pod");
    struct sc_call c;
    /* The path needs the handle for escaping, so build it in two steps. */
    int r = sc_call_init(&c, pod, "", GET_TIMEOUT_MS, SMALL_BODY_CAP, err);
    if (r == 0) {
        _cleanup_free_ char *path = file_path(c.h, name);
        _cleanup_free_ char *url = xasprintf("%s%s?max=%" PRIu64, pod->base_url, path, max);
        curl_easy_setopt(c.h, CURLOPT_URL, url);
        c.out_fd = out_fd;
        c.max = max;
        curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, stream_cb);
        /* Fewer, larger writes than curl's 16 KiB (a 1.4 MB state: ~1 ms less). */
        curl_easy_setopt(c.h, CURLOPT_BUFFERSIZE, DOWNLOAD_BUFFER);
        if (ret_sha256 && !(c.digest = digest_sha256_new()))
            r = kcr_err_set(err, ENOMEM, KCR_ERR_INTERNAL, "sha256");
    }
    if (r == 0)
        r = sc_call_perform(&c, "download", err);
    if (r == 0 && ret_sha256)
        digest_sha256_final_hex(c.digest, ret_sha256);
    digest_sha256_free(c.digest);
    sc_call_done(&c);
    return r < 0 ? kcr_err_wrap(err, "get '%s'", name) : 0;
}

long sidecar_client_output_bytes(long chars)
{
    const long lo = 1024, hi = 64L << 20;
    if (chars >= (hi - 4) / 4)
        return hi;
    long bytes = chars * 4 + 4;
    return bytes < lo ? lo : bytes;
}
