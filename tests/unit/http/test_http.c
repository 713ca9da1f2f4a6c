/* Unit tests for src/http: a real server on a loopback port (and a unix
 * socket), driven by libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "http/http.h"

static struct kcr_http_resp *h_echo_param(struct kcr_http_req *req, void *ctx)
{
    (void)ctx;
    const char *q = http_req_query(req, "q");
    return http_resp_json(200, json_pack("{s:s,s:s,s:s?}", "path", http_req_path(req), "param",
                                         http_req_param(req, 0), "q", q));
}

static struct kcr_http_resp *h_body(struct kcr_http_req *req, void *ctx)
{
    (void)ctx;
    const struct kcr_buf *b = http_req_body(req);
    return http_resp_json(200, json_pack("{s:I}", "len", (json_int_t)b->len));
}

static struct kcr_http_resp *h_upload(struct kcr_http_req *req, void *ctx)
{
    (void)ctx;
    json_t *parts = json_array();
    for (size_t i = 0; i < http_req_nparts(req); i++) {
        struct kcr_http_part *p = http_req_part(req, i);
        char head[16] = {0};
        ssize_t n = read(p->fd, head, sizeof(head) - 1);
        json_array_append_new(parts, json_pack("{s:s,s:s,s:I,s:s#}", "field", p->field, "filename",
                                               p->filename, "size", (json_int_t)p->size, "head",
                                               head, (int)(n > 0 ? n : 0)));
    }
    const char *eid = http_req_field(req, "entity_id");
    return http_resp_json(200, json_pack("{s:o,s:s?}", "parts", parts, "entity_id", eid));
}

/* GET /after: its after-callback blocks until the test writes to after_go,
 * then sets after_ran. */
static int after_go[2] = {-1, -1};
static int after_ran;

static void after_fn(void *arg)
{
    /* Bounded: run too early, it must make the test fail, not hang it. */
    struct pollfd p = {.fd = after_go[0], .events = POLLIN};
    char b;
    if (poll(&p, 1, 2000) == 1 && read(after_go[0], &b, 1) == 1)
        __atomic_store_n(&after_ran, *(int *)arg, __ATOMIC_SEQ_CST);
    else
        __atomic_store_n(&after_ran, -1, __ATOMIC_SEQ_CST);
    free(arg);
}

static struct kcr_http_resp *h_after(struct kcr_http_req *req, void *ctx)
{
    (void)ctx;
    int *v = xcalloc(1, sizeof(*v));
    *v = 42;
    http_req_after(req, after_fn, v);
    return http_resp_json(200, json_pack("{s:b}", "ok", 1));
}

static struct kcr_http_resp *before_auth(struct kcr_http_req *req,
                                         const struct kcr_http_route *route, void *ctx)
{
    (void)route;
    (void)ctx;
    const char *key = http_req_header(req, "X-API-KEY");
    if (key && !strcmp(key, "bad"))
        return http_resp_json(401, json_pack("{s:s}", "error", "Invalid API key"));
    return NULL;
}

static void finish_headers(struct kcr_http_req *req, struct kcr_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    http_resp_header(resp, "X-Content-Type-Options", "nosniff");
}

/* GET /pipe/full and /pipe/short: a pipe (not seekable, like a blob streamed
 * from S3) announced as PIPE_SIZE bytes; a thread writes all of them, or
 * only 1000 and closes. */
#define PIPE_SIZE 300000

struct pipe_writer {
    int fd;
    size_t n;
};

static void *pipe_write(void *arg)
{
    struct pipe_writer *w = arg;
    char chunk[4096];
    for (size_t off = 0; off < w->n;) {
        size_t k = w->n - off < sizeof(chunk) ? w->n - off : sizeof(chunk);
        for (size_t i = 0; i < k; i++)
            chunk[i] = (char)('a' + (off + i) % 26);
        ssize_t r = write(w->fd, chunk, k);
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    close(w->fd);
    free(w);
    return NULL;
}

static struct kcr_http_resp *h_pipe(struct kcr_http_req *req, void *ctx)
{
    (void)ctx;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return http_resp_empty(500);
    struct pipe_writer *w = xcalloc(1, sizeof(*w));
    w->fd = p[1];
    w->n = !strcmp(http_req_param(req, 0), "full") ? PIPE_SIZE : 1000;
    pthread_t t;
    pthread_create(&t, NULL, pipe_write, w);
    pthread_detach(t);
    return http_resp_fd(200, "application/octet-stream", p[0], PIPE_SIZE);
}

static const struct kcr_http_route routes[] = {
    {"GET", "/pipe/{}", KCR_HTTP_BODY_NONE, h_pipe},
    {"GET", "/files/{}", KCR_HTTP_BODY_NONE, h_echo_param},
    {"GET", "/raw/{*}", KCR_HTTP_BODY_NONE, h_echo_param},
    {"POST", "/body", KCR_HTTP_BODY_BUFFER, h_body},
    {"POST", "/upload", KCR_HTTP_BODY_MULTIPART, h_upload},
    {"GET", "/after", KCR_HTTP_BODY_NONE, h_after},
};

static struct kcr_http_config cfg = {
    .host = "127.0.0.1",
    .routes = routes,
    .nroutes = ARRAY_SIZE(routes),
    .strip_prefix = "/v1",
    .limits = {.max_body = 1000, .max_part_size = 2000, .max_parts = 3},
    .hooks = {.before = before_auth, .finish = finish_headers},
    .quiet = true,
};

struct reply {
    long status;
    struct kcr_buf body;
    struct kcr_buf headers;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf_append(&((struct reply *)ud)->body, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    buf_append(&((struct reply *)ud)->headers, p, size * n);
    return size * n;
}

static struct kcr_http_server *srv;
static char base[64];

static void request(CURL *c, const char *path, struct reply *r)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base, path);
    buf_init(&r->body, 0);
    buf_init(&r->headers, 0);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    CURLcode rc = curl_easy_perform(c);
    assert_int_equal(rc, CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (!r->body.data)
        buf_append(&r->body, "", 0);
    if (!r->headers.data)
        buf_append(&r->headers, "", 0);
}

static void reply_done(struct reply *r)
{
    buf_done(&r->body);
    buf_done(&r->headers);
}

/* r answered status, with in_body in its body (NULL: any body); frees r. */
static void reply_expect(struct reply *r, long status, const char *in_body)
{
    assert_int_equal(r->status, status);
    if (in_body)
        assert_non_null(strstr(r->body.data, in_body));
    reply_done(r);
}

static int setup(void **state)
{
    (void)state;
    struct kcr_err err;
    srv = http_server_start(&cfg, &err);
    if (!srv) {
        fprintf(stderr, "start: %s\n", err.msg);
        return -1;
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", http_server_port(srv));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    srv = http_server_stop(srv);
    return 0;
}

static void test_route_params_and_prefix(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct reply r;
    request(c, "/v1/files/a%20b.txt?q=x%2By+z", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"param\":\"a b.txt\""));
    assert_non_null(strstr(r.body.data, "\"q\":\"x+y z\""));
    assert_non_null(strstr(r.headers.data, "X-Content-Type-Options: nosniff"));
    assert_non_null(strstr(r.headers.data, "X-Request-ID: "));
    reply_done(&r);

    request(c, "/raw/sub/dir/f.png", &r);
    reply_expect(&r, 200, "\"param\":\"sub/dir/f.png\"");
    curl_easy_cleanup(c);
}

/* The client has its answer while the after-callback still waits: it runs
 * once the response is out, and it does run. */
static void test_after_runs_once_answered(void **state)
{
    (void)state;
    assert_int_equal(pipe(after_go), 0);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    struct reply r;
    request(c, "/after", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(__atomic_load_n(&after_ran, __ATOMIC_SEQ_CST), 0);
    assert_int_equal(write(after_go[1], "1", 1), 1);
    for (int i = 0; i < 500 && !__atomic_load_n(&after_ran, __ATOMIC_SEQ_CST); i++)
        usleep(10000);
    assert_int_equal(after_ran, 42);
    reply_done(&r);
    curl_easy_cleanup(c);
    close(after_go[0]);
    close(after_go[1]);
}

static void test_errors(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct reply r;
    request(c, "/nope", &r);
    reply_expect(&r, 404, "Not Found");

    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    request(c, "/files/x", &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.headers.data, "Allow: GET"));
    reply_done(&r);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);

    /* A NUL byte in a path segment never reaches a handler. */
    request(c, "/files/a%00b", &r);
    reply_expect(&r, 400, NULL);

    request(c, "/files/a%zz", &r);
    reply_expect(&r, 400, NULL);

    struct curl_slist *h = curl_slist_append(NULL, "x-api-key: bad");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    request(c, "/nope", &r);
    reply_expect(&r, 401, NULL); /* the before hook runs ahead of 404 */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void test_fd_response_not_seekable(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct reply r;
    request(c, "/pipe/full", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, PIPE_SIZE);
    for (size_t i = 0; i < PIPE_SIZE; i++)
        if (r.body.data[i] != (char)('a' + i % 26))
            fail_msg("byte %zu", i);
    assert_non_null(strstr(r.headers.data, "Content-Length: 300000"));
    reply_done(&r);
    /* The pipe ends early: the connection is closed before the announced
     * length, so the client sees an incomplete body, not a short one. */
    char url[128];
    snprintf(url, sizeof(url), "%s/pipe/short", base);
    buf_init(&r.body, 0);
    buf_init(&r.headers, 0);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    CURLcode rc = curl_easy_perform(c);
    assert_int_not_equal(rc, CURLE_OK);
    assert_true(r.body.len < PIPE_SIZE);
    reply_done(&r);
    curl_easy_cleanup(c);
}

static void test_body_limits(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct reply r;
    char small[500];
    memset(small, 'a', sizeof(small));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, small);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)sizeof(small));
    request(c, "/body", &r);
    reply_expect(&r, 200, "\"len\":500");

    char big[5000];
    memset(big, 'b', sizeof(big));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, big);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)sizeof(big));
    request(c, "/body", &r);
    reply_expect(&r, 413, NULL);
    curl_easy_cleanup(c);
}

struct chunk_src {
    const char *data;
    size_t len, off;
};

static size_t read_chunks(char *buf, size_t size, size_t n, void *ud)
{
    struct chunk_src *s = ud;
    size_t want = size * n;
    if (want > 7)
        want = 7; /* tiny chunks: boundaries get split across reads */
    if (want > s->len - s->off)
        want = s->len - s->off;
    memcpy(buf, s->data + s->off, want);
    s->off += want;
    return want;
}

static void post_multipart_chunked(CURL *c, const char *body, struct reply *r)
{
    struct chunk_src src = {body, strlen(body), 0};
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Content-Type: multipart/form-data; boundary=XyZ");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_chunks);
    curl_easy_setopt(c, CURLOPT_READDATA, &src);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    request(c, "/upload", r);
    curl_slist_free_all(h);
}

static void test_multipart_chunked(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct reply r;
    const char *body =
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"entity_id\"\r\n\r\n"
        "agent_1\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"d\xc3\xa4ta.csv\"\r\n"
        "Content-Type: text/csv\r\n\r\n"
        "a,b\n1,2\n\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"files\"; filename=\"empty.txt\"\r\n"
        "\r\n"
        "\r\n"
        "--XyZ--\r\n";
    post_multipart_chunked(c, body, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"entity_id\":\"agent_1\""));
    assert_non_null(strstr(r.body.data, "\"filename\":\"d\\u00E4ta.csv\""));
    assert_non_null(strstr(r.body.data, "\"size\":8"));
    assert_non_null(strstr(r.body.data, "\"head\":\"a,b\\n1,2\\n\""));
    reply_done(&r);
    curl_easy_cleanup(c);
}

static void test_multipart_limits(void **state)
{
    (void)state;
    CURL *c = curl_easy_init();
    struct reply r;
    struct kcr_buf b;
    buf_init(&b, 0);
    buf_printf(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                   "filename=\"big.bin\"\r\n\r\n");
    for (int i = 0; i < 300; i++)
        buf_printf(&b, "0123456789");
    buf_printf(&b, "\r\n--XyZ--\r\n");
    post_multipart_chunked(c, b.data, &r);
    reply_expect(&r, 413, "big.bin exceeds maximum size");
    buf_done(&b);

    buf_init(&b, 0);
    for (int i = 0; i < 4; i++)
        buf_printf(&b,
                   "--XyZ\r\nContent-Disposition: form-data; name=\"files\"; "
                   "filename=\"f%d\"\r\n\r\nx\r\n",
                   i);
    buf_printf(&b, "--XyZ--\r\n");
    post_multipart_chunked(c, b.data, &r);
    reply_expect(&r, 413, "Maximum 3 files");
    buf_done(&b);
    curl_easy_cleanup(c);
}

static void test_unix_socket(void **state)
{
    (void)state;
    char dir[] = "/tmp/kcr-http-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *path = xasprintf("%s/s.sock", dir);
    struct kcr_http_config ucfg = cfg;
    ucfg.unix_path = path;
    struct kcr_err err;
    struct kcr_http_server *us = http_server_start(&ucfg, &err);
    assert_non_null(us);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, path);
    struct reply r;
    char saved[64];
    strcpy(saved, base);
    strcpy(base, "http://localhost");
    request(c, "/files/x.txt", &r);
    strcpy(base, saved);
    reply_expect(&r, 200, "\"param\":\"x.txt\"");
    curl_easy_cleanup(c);
    http_server_stop(us);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_params_and_prefix),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_fd_response_not_seekable),
        cmocka_unit_test(test_after_runs_once_answered),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_multipart_chunked),
        cmocka_unit_test(test_multipart_limits),
        cmocka_unit_test(test_unix_socket),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
