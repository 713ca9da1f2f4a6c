/* blob-s3-http — one signed S3 request with libcurl.
 *
 * libcurl signs with SigV4 (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3"). curl
 * 7.88 takes a caller's x-amz-content-sha256 header as the payload hash of
 * the canonical request (http_aws_sigv4.c, parse_content_sha_hdr), else it
 * hashes CURLOPT_POSTFIELDS, which is empty for a read-callback upload: so
 * every request carries the header, with the real sha256 of its body. 7.88
 * also signs the path and query as given, without re-encoding or sorting
 * them: callers pass them already canonical (s3_uri_encode, sorted names). */
#include "store/blob-s3-internal.h"
#include "common/cleanup.h"
#include "common/digest.h"
#include "common/names.h"
#include "common/time.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*** Handles ***/

/* A handle from the idle list (keeping its connection), or a new one. */
static CURL *handle_get(struct blob_s3 *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->nidle > 0)
        h = s->idle[--s->nidle];
    pthread_mutex_unlock(&s->lock);
    return h ? h : curl_easy_init();
}

static void handle_put(struct blob_s3 *s, CURL *h)
{
    curl_easy_reset(h);
    pthread_mutex_lock(&s->lock);
    if (s->nidle < S3_HANDLES_IDLE) {
        s->idle[s->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (h)
        curl_easy_cleanup(h);
}

/*** Callbacks ***/

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct s3_call *c = arg;
    size_t len = size * n;
    if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* A status line: a new header block (after a 100 Continue too). */
        const char *sp = memchr(p, ' ', len);
        c->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        c->have_length = false;
        c->etag[0] = '\0';
        return len;
    }
    if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        if (c->status >= 200 && c->on_headers)
            c->on_headers(c, c->ctx);
        return len;
    }
    char line[256];
    size_t l = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
    memcpy(line, p, l);
    line[l] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    const char *v = strchr(line, ':');
    if (!v)
        return len;
    v += strspn(v + 1, " \t") + 1;
    if (!strncasecmp(line, "content-length:", 15)) {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        c->have_length = !errno && end != v && *end == '\0';
        c->length = x;
    } else if (!strncasecmp(line, "etag:", 5)) {
        snprintf(c->etag, sizeof(c->etag), "%s", v);
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct s3_call *c = arg;
    size_t len = size * n;
    if (c->sink && c->status >= 200 && c->status < 300) {
        if (!c->sink(p, len, c->ctx)) {
            c->sink_stopped = true;
            return 0; /* CURLE_WRITE_ERROR: the transfer stops */
        }
        return len;
    }
    size_t max = c->reply_max ? c->reply_max : S3_REPLY_MAX;
    size_t room = max - c->body_len;
    size_t take = len < room ? len : room;
    if (take < len)
        c->truncated = true;
    if (take > 0) {
        c->body = xrealloc(c->body, c->body_len + take + 1);
        memcpy(c->body + c->body_len, p, take);
        c->body_len += take;
        c->body[c->body_len] = '\0';
    }
    return len; /* the rest of an over-long reply is dropped, not an error */
}

/* The upload body: flen bytes of fd from off, read with pread. */
static size_t on_read(char *p, size_t size, size_t n, void *arg)
{
    struct s3_call *c = arg;
    uint64_t left = c->flen - c->sent;
    size_t want = size * n < left ? size * n : (size_t)left;
    if (want == 0)
        return 0;
    ssize_t r;
    do
        r = pread(c->fd, p, want, (off_t)(c->off + c->sent));
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return CURL_READFUNC_ABORT; /* an error, or the file shrank */
    c->sent += (uint64_t)r;
    return (size_t)r;
}

/* No progress (a byte either way) for timeout_ms aborts the transfer. curl's
 * own low-speed limit averages over a 5 s window, so a stall after a small
 * body was seen only 5 s late; libcurl calls this about once a second even
 * when nothing moves. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct s3_call *c = arg;
    (void)dltotal;
    (void)ultotal;
    int64_t now = time_mono_ms();
    uint64_t moved = (uint64_t)dlnow + (uint64_t)ulnow;
    if (moved != c->moved || c->progress_ms == 0) {
        c->moved = moved;
        c->progress_ms = now;
        return 0;
    }
    if (now - c->progress_ms < c->timeout_ms)
        return 0;
    c->stalled = true;
    return 1; /* CURLE_ABORTED_BY_CALLBACK */
}

/*** Requests ***/

bool s3_uri_encode(const char *s, bool keep_slash, char *out, size_t outsz)
{
    size_t w = strlen(out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p) || (keep_slash && *p == '/');
        if (w + (plain ? 1 : 3) >= outsz)
            return false;
        if (plain)
            out[w++] = (char)*p;
        else
            w += (size_t)snprintf(out + w, 4, "%%%02X", *p);
    }
    out[w] = '\0';
    return true;
}

int s3_check_key(const char *key, struct kcr_err *err)
{
    const char *slash = key ? strchr(key, '/') : NULL;
    char dir[KCR_NAME_MAX + 1];
    if (!slash || (size_t)(slash - key) > KCR_NAME_MAX)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "bad blob key '%s'", key ? key : "");
    memcpy(dir, key, (size_t)(slash - key));
    dir[slash - key] = '\0';
    if (!names_is_safe(dir) || !names_is_safe(slash + 1))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "bad blob key '%s'", key);
    return 0;
}

/* The payload hash of c's body (hex). */
static int body_sha256(const struct s3_call *c, char out[65], struct kcr_err *err)
{
    if (c->fd < 0) {
        digest_sha256_hex(c->data ? c->data : "", c->len, out);
        return 0;
    }
    int r = digest_sha256_range(c->fd, c->off, c->flen, out);
    if (r < 0)
        return kcr_err_set(err, -r, KCR_ERR_INTERNAL, "read the bytes to upload");
    return 0;
}

static void set_common(struct blob_s3 *s, CURL *h, struct s3_call *c)
{
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret_key);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
    /* No request waits past timeout_ms without progress: connecting, or
     * not a byte moved for that long (a stopped server). */
    c->timeout_ms = s->timeout_ms;
    c->progress_ms = 0;
    c->stalled = false;
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
}

static void set_body(CURL *h, struct s3_call *c)
{
    if (!strcmp(c->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (c->fd >= 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->flen);
        if (strcmp(c->method, "PUT"))
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    } else if (!strcmp(c->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->data ? c->data : "");
        if (strcmp(c->method, "POST"))
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    }
}

int s3_call_run(struct blob_s3 *s, struct s3_call *c, struct kcr_err *err)
{
    char sha[65];
    if (body_sha256(c, sha, err) < 0)
        return -1;
    char url[4096];
    snprintf(url, sizeof(url), "%s/", s->base);
    if ((c->key && !s3_uri_encode(c->key, true, url, sizeof(url))) ||
        strlen(url) + (c->query ? strlen(c->query) : 0) + 2 > sizeof(url))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "s3 url too long");
    if (!c->key)
        url[strlen(url) - 1] = '\0'; /* the bucket: no trailing slash */
    if (c->query) {
        strcat(url, "?");
        strcat(url, c->query);
    }
    char hsha[100], hct[160];
    snprintf(hsha, sizeof(hsha), "x-amz-content-sha256: %s", sha);
    struct curl_slist *hdrs = curl_slist_append(NULL, hsha);
    if (c->content_type) {
        snprintf(hct, sizeof(hct), "Content-Type: %s", c->content_type);
        hdrs = curl_slist_append(hdrs, hct);
    }
    CURL *h = handle_get(s);
    if (!h || !hdrs) {
        curl_slist_free_all(hdrs);
        if (h)
            curl_easy_cleanup(h);
        return kcr_err_set(err, ENOMEM, KCR_ERR_INTERNAL, "curl handle");
    }
    c->status = 0;
    c->sent = 0;
    set_common(s, h, c);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    set_body(h, c);
    CURLcode rc = curl_easy_perform(h);
    handle_put(s, h);
    curl_slist_free_all(hdrs);
    if (rc == CURLE_OK)
        return 0;
    if (rc == CURLE_WRITE_ERROR && c->sink_stopped)
        return kcr_err_set(err, EPIPE, KCR_ERR_UNAVAILABLE, "s3 %s '%s': reader gone", c->method,
                           c->key ? c->key : s->bucket);
    return kcr_err_set(
        err, 0, KCR_ERR_UNAVAILABLE, "s3 %s '%s': %s", c->method, c->key ? c->key : s->bucket,
        rc == CURLE_OPERATION_TIMEDOUT || c->stalled ? "no progress within the timeout"
                                                     : curl_easy_strerror(rc));
}

void s3_call_done(struct s3_call *c)
{
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
}

int s3_call_check(const struct s3_call *c, const char *what, struct kcr_err *err)
{
    if (c->status >= 200 && c->status < 300)
        return 0;
    _cleanup_free_ char *code = c->body ? s3_xml_text(c->body, c->body_len, "Code") : NULL;
    const char *cd = code ? code : "no error code";
    if (c->status == 404)
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "s3 %s: not found (%s)", what, cd);
    if (c->status == 403)
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                           "s3 %s: access denied (403 %s): check MINIO_ACCESS_KEY and "
                           "MINIO_SECRET_KEY",
                           what, cd);
    return kcr_err_set(err, 0, c->status >= 500 ? KCR_ERR_UNAVAILABLE : KCR_ERR_INTERNAL,
                       "s3 %s: status %ld (%s)", what, c->status, cd);
}
