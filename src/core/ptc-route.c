#include "core/ptc-route.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/digest.h"
#include "common/lang.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/time.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A holder that is gone (a dead pod's IP drops SYNs) is known within this. */
#define CONNECT_TIMEOUT_MS 3000
/* Past the program's own time: files stored, the answer written. */
#define STEP_MARGIN_S 60
/* A cancel stops a program through its sidecar: bounded, and quick. */
#define CANCEL_TIMEOUT_S 30

/*** Keys and records ***/

/* Domain-separated hashes: a token and a request id never share a key, and a
 * request id is only ever its owner's. */
static void token_key(const char *token, char out[65])
{
    _cleanup_free_ char *s = xasprintf("ptc-token\n%s", token);
    digest_sha256_hex(s, strlen(s), out);
}

static bool request_key(const char *owner, const char *request_id, char out[65])
{
    if (!request_id || !*request_id)
        return false;
    _cleanup_free_ char *s = xasprintf("ptc-request\n%s\n%s", owner, request_id);
    digest_sha256_hex(s, strlen(s), out);
    return true;
}

/* The longest one step of a run may take on its holder (forwarded
 * continuations wait that long): MAX_EXECUTION_TIME times the larger
 * multiplier of the two languages, plus a margin. */
static long step_budget_s(const struct kcr_core *c)
{
    double mp = lang_time_mult(lang_find("py")), mb = lang_time_mult(lang_find("bash"));
    double s = c->cfg->max_exec_time_s * (mp > mb ? mp : mb);
    long whole = (long)s + ((double)(long)s < s);
    if (whole > KCR_MAX_EXEC_SECONDS)
        whole = KCR_MAX_EXEC_SECONDS;
    return whole + STEP_MARGIN_S;
}

static void put(struct kcr_core *c, const char *key, const char *owner, int64_t expires_ms)
{
    struct kcr_cont_meta r = {.created_ms = time_wall_ms(), .expires_ms = expires_ms};
    snprintf(r.key, sizeof(r.key), "%s", key);
    snprintf(r.owner, sizeof(r.owner), "%s", owner);
    snprintf(r.replica, sizeof(r.replica), "%s", c->cfg->replica_url);
    struct kcr_err e = {0};
    if (c->meta->ops->cont_put(c->meta, &r, &e) < 0)
        log_msg(KCR_LOG_WARN, NULL,
                "ptc: continuation record not written (other replicas answer 404): %s", e.msg);
}

/* Removes key's record while it names replica (NULL: whichever). */
static void drop(struct kcr_core *c, const char *key, const char *replica)
{
    struct kcr_err e = {0};
    if (c->meta->ops->cont_delete(c->meta, key, replica, &e) < 0)
        log_msg(KCR_LOG_WARN, NULL, "ptc: continuation record not deleted: %s", e.msg);
}

void ptc_route_paused(struct kcr_core *c, const char *owner, const char *token,
                      const char *request_id, int64_t expires_wall_ms)
{
    if (!c->cfg->replica_url)
        return;
    char key[65];
    token_key(token, key);
    put(c, key, owner, expires_wall_ms);
    if (request_key(owner, request_id, key))
        put(c, key, owner, expires_wall_ms + step_budget_s(c) * 1000);
}

void ptc_route_running(struct kcr_core *c, const char *owner, const char *request_id)
{
    char key[65];
    if (c->cfg->replica_url && request_key(owner, request_id, key))
        put(c, key, owner, time_wall_ms() + step_budget_s(c) * 1000);
}

void ptc_route_token_gone(struct kcr_core *c, const char *token)
{
    if (!c->cfg->replica_url)
        return;
    char key[65];
    token_key(token, key);
    drop(c, key, NULL);
}

void ptc_route_ended(struct kcr_core *c, const char *owner, const char *request_id)
{
    char key[65];
    if (c->cfg->replica_url && request_key(owner, request_id, key))
        drop(c, key, c->cfg->replica_url);
}

/*** Forwarding ***/

struct sink {
    struct kcr_buf b;
    size_t max;
    struct kcr_ptc_relayed *ret;
};

static size_t body_cb(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    (void)size; /* always 1 */
    if (s->b.len + n > s->max)
        return 0; /* curl fails the transfer (CURLE_WRITE_ERROR) */
    buf_append(&s->b, data, n);
    return n;
}

/* Copies the value of header line h into out when it is name. */
static void header_value(const char *h, size_t n, const char *name, char *out, size_t size)
{
    size_t len = strlen(name);
    if (n <= len || strncasecmp(h, name, len) || h[len] != ':')
        return;
    const char *v = h + len + 1;
    size_t vl = n - len - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    snprintf(out, size, "%.*s", (int)(vl < size ? vl : size - 1), v);
}

static size_t header_cb(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    (void)size;
    header_value(data, n, "Content-Type", s->ret->content_type, sizeof(s->ret->content_type));
    header_value(data, n, "Retry-After", s->ret->retry_after, sizeof(s->ret->retry_after));
    header_value(data, n, "RateLimit-Limit", s->ret->rate_limit, sizeof(s->ret->rate_limit));
    header_value(data, n, "RateLimit-Remaining", s->ret->rate_remaining,
                 sizeof(s->ret->rate_remaining));
    header_value(data, n, "RateLimit-Reset", s->ret->rate_reset, sizeof(s->ret->rate_reset));
    return n;
}

/* A record's URL once more through libcurl's parser: http or https, nothing
 * else, whatever the store holds. */
static bool replica_url_ok(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https"));
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

/* Sends f to replica; *ret_gone tells a failure to connect at all (the
 * replica is gone) from one mid-way. */
static int forward(struct kcr_core *c, const char *replica, const struct kcr_ptc_forward *f,
                   long timeout_s, struct kcr_ptc_relayed *ret, bool *ret_gone, struct kcr_err *err)
{
    *ret_gone = false;
    if (!replica_url_ok(replica)) {
        *ret_gone = true;
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "continuation record names no http(s) URL");
    }
    CURL *h = curl_easy_init();
    if (!h)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "curl_easy_init");
    _cleanup_free_ char *url = xasprintf("%s%s", replica, f->path);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    hl = curl_slist_append(hl, KCR_PTC_FORWARDED_HEADER ": 1");
    hl = curl_slist_append(hl, "Expect:");
    for (size_t i = 0; i < f->nheaders; i++)
        hl = curl_slist_append(hl, f->headers[i]);
    struct sink s = {.max = 12 * c->cfg->max_output_chars + (4u << 20), .ret = ret};
    buf_init(&s.b, 0);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, f->body ? f->body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->body_len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    /* Threads: no SIGALRM; replicas are reached directly, never through a
     * proxy from the environment, and a redirect is never followed. */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
    CURLcode rc = curl_easy_perform(h);
    curl_off_t connected = 0;
    (void)curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
    if (rc == CURLE_OK)
        (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    if (rc != CURLE_OK) {
        buf_done(&s.b);
        *ret_gone = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                    (rc == CURLE_OPERATION_TIMEDOUT && connected == 0);
        return kcr_err_set(err, 0, *ret_gone ? KCR_ERR_NOT_FOUND : KCR_ERR_UNAVAILABLE,
                           "the replica holding the run (%s) did not answer: %s", replica,
                           errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    ret->body = buf_take(&s.b, &ret->len);
    return 0;
}

int ptc_route_relay(struct kcr_core *c, const struct kcr_principal *who,
                    enum kcr_ptc_route_kind kind, const char *id, const struct kcr_ptc_forward *f,
                    struct kcr_ptc_relayed *ret, struct kcr_err *err)
{
    *ret = (struct kcr_ptc_relayed){0};
    char key[65];
    bool keyed = kind == KCR_PTC_ROUTE_TOKEN ? (token_key(id, key), true)
                                             : who && request_key(who->id, id, key);
    if (!c->cfg->replica_url || !who || !keyed)
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "no replica holds this run");
    struct kcr_cont_meta r;
    if (c->meta->ops->cont_get(c->meta, key, time_wall_ms(), &r, err) < 0)
        return -1;
    /* Another principal's run is one that does not exist. */
    if (strcmp(r.owner, who->id))
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "no replica holds this run");
    /* This replica's own record of a run it no longer holds: it restarted. */
    if (!strcmp(r.replica, c->cfg->replica_url)) {
        drop(c, key, r.replica);
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "no replica holds this run");
    }
    long timeout_s = kind == KCR_PTC_ROUTE_TOKEN ? step_budget_s(c) : CANCEL_TIMEOUT_S;
    /* Before sending, so that the holder does not refuse the request for a
     * count that is ours. (Should the holder not answer, the request goes
     * uncounted: it was not served.) */
    struct kcr_err rerr = {0};
    if (f->rate && ratelimit_undo(c, who, f->rate, &rerr) < 0)
        log_msg(KCR_LOG_WARN, NULL, "ptc: rate count not taken back: %s", rerr.msg);
    bool gone = false;
    if (forward(c, r.replica, f, timeout_s, ret, &gone, err) == 0)
        return 0;
    if (gone) /* the run died with its replica */
        drop(c, key, r.replica);
    return -1;
}

void ptc_route_relayed_done(struct kcr_ptc_relayed *r)
{
    free(r->body);
    r->body = NULL;
}
