/* Unit tests for pod/sidecar-client.c against a fake sidecar (a real HTTP
 * server on a unix socket, fakes/pod-fake.h) that sends what a hostile sidecar
 * might: oversized bodies, bad JSON, wrong types, unsafe names, error
 * statuses, and replies that never come. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/lang.h"
#include "common/xalloc.h"
#include "fakes/pod-fake.h"
#include "pod/sidecar-client.h"
#include "common/digest.h"

#define MAX_OUTPUT 1000 /* MAX_OUTPUT_SIZE for this test: execute replies cap at ~12 KiB */

/* What the fake sidecar answers; set by each test. */
enum mode {
    M_READY,
    M_EXEC_OK,
    M_EXEC_LISTED,
    M_EXEC_LIST_ERROR,
    M_EXEC_LIST_BAD,
    M_EXEC_BAD_TYPES,
    M_EXEC_NOT_JSON,
    M_EXEC_FLOOD,
    M_HANG,
    M_LIST,
    M_LIST_HUGE,
    M_FILE,
    M_STATUS,
    M_UPLOAD,
};

struct fixture {
    struct pod_fake_sidecar *sc;
    struct kcr_pod pod;
    enum mode mode;
    int status;
    /* Last request, copied by the handler. */
    char method[16];
    char path[1024];
    char *body;
    size_t body_len;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A listing as a hostile sidecar may send it: two good entries, the rest
 * unsafe or of the wrong type. */
#define LISTING                                                                                    \
    "{\"files\":["                                                                                 \
    "{\"name\":\"out.png\",\"size\":10,\"mtime_ns\":5},"                                           \
    "{\"name\":\"plots/a b.csv\",\"size\":0,\"mtime_ns\":6},"                                      \
    "{\"name\":\"../etc/shadow\",\"size\":1,\"mtime_ns\":1},"                                      \
    "{\"name\":\"/etc/passwd\",\"size\":1,\"mtime_ns\":1},"                                        \
    "{\"name\":\".hidden\",\"size\":1,\"mtime_ns\":1},"                                            \
    "{\"name\":\"a//b\",\"size\":1,\"mtime_ns\":1},"                                               \
    "{\"name\":\"nul\\u0000x\",\"size\":1,\"mtime_ns\":1},"                                        \
    "{\"name\":\"neg\",\"size\":-1,\"mtime_ns\":1},"                                               \
    "{\"name\":7,\"size\":1,\"mtime_ns\":1},"                                                      \
    "\"junk\""                                                                                     \
    "],\"truncated\":true}"

#define EXEC_RESULT                                                                                \
    "\"exit_code\":3,\"stdout\":\"a\\u0000b\",\"stderr\":\"err\\n\",\"execution_time_ms\":12,"     \
    "\"timed_out\":false,\"oom_killed\":true,\"signal\":null"

static void reply_str(int fd, int status, const char *s)
{
    pod_fake_reply(fd, status, NULL, s, strlen(s));
}

static void handler(const struct pod_fake_request *req, int fd, void *ud)
{
    struct fixture *f = ud;
    snprintf(f->method, sizeof(f->method), "%s", req->method);
    snprintf(f->path, sizeof(f->path), "%s", req->path);
    free(f->body);
    f->body = xmalloc(req->body_len + 1);
    memcpy(f->body, req->body, req->body_len + 1);
    f->body_len = req->body_len;
    switch (f->mode) {
    case M_READY:
        return reply_str(fd, f->status, "{\"ready\":true}");
    case M_EXEC_OK:
        return reply_str(fd, 200, "{" EXEC_RESULT "}");
    case M_EXEC_LISTED:
        return reply_str(fd, 200, "{" EXEC_RESULT ",\"listing\":" LISTING ",\"listing_ms\":2.5}");
    case M_EXEC_LIST_ERROR:
        return reply_str(fd, 200,
                         "{" EXEC_RESULT ",\"listing_error\":\"working directory unavailable\"}");
    case M_EXEC_LIST_BAD:
        return reply_str(fd, 200, "{" EXEC_RESULT ",\"listing\":{\"files\":\"x\"}}");
    case M_EXEC_BAD_TYPES:
        return reply_str(fd, 200,
                         "{\"exit_code\":\"0\",\"stdout\":\"\",\"stderr\":\"\","
                         "\"timed_out\":false}");
    case M_EXEC_NOT_JSON:
        return reply_str(fd, 200, "<html>hello</html>");
    case M_EXEC_FLOOD: {
        /* Claims 64 MiB and sends until the client hangs up. */
        const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 67108864\r\n\r\n{\"stdout\":\"";
        (void)pod_fake_send(fd, head, strlen(head));
        static char chunk[65536];
        memset(chunk, 'x', sizeof(chunk));
        for (int i = 0; i < 1024; i++)
            if (pod_fake_send(fd, chunk, sizeof(chunk)) < 0)
                break;
        return;
    }
    case M_HANG: {
        /* Never answers; returns when the client gives up and closes. */
        struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
        (void)poll(&p, 1, 10000);
        return;
    }
    case M_LIST:
        return reply_str(fd, 200, LISTING);
    case M_LIST_HUGE: {
        /* 5 MiB of listing: over the client's 4 MiB cap. */
        size_t n = 5u << 20;
        char *big = xmalloc(n + 64);
        int w = sprintf(big, "{\"files\":[],\"pad\":\"");
        memset(big + w, 'p', n);
        strcpy(big + w + n, "\"}");
        pod_fake_reply(fd, 200, NULL, big, strlen(big));
        free(big);
        return;
    }
    case M_FILE:
        return pod_fake_reply(fd, 200, "application/octet-stream", "0123456789abcdef", 16);
    case M_STATUS:
        return reply_str(fd, f->status, "{\"error\":\"nope \\u0007\"}");
    case M_UPLOAD:
        return reply_str(fd, 200, "{\"uploaded\":1}");
    }
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct kcr_err err = {0};
    f->sc = pod_fake_sidecar_new(handler, f, &err);
    assert_non_null(f->sc);
    snprintf(f->pod.id, sizeof(f->pod.id), "test");
    f->pod.lang = lang_find("py");
    f->pod.unix_socket = (char *)pod_fake_sidecar_path(f->sc);
    f->pod.base_url = "http://localhost";
    f->status = 200;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pod_fake_sidecar_free(f->sc);
    free(f->body);
    free(f);
    return 0;
}

static void test_ready(void **state)
{
    struct fixture *f = *state;
    struct kcr_err err = {0};
    f->mode = M_READY;
    assert_int_equal(sidecar_client_ready(&f->pod, 1000, &err), 0);
    assert_string_equal(f->method, "GET");
    assert_string_equal(f->path, "/ready");
    f->status = 503;
    assert_int_equal(sidecar_client_ready(&f->pod, 1000, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);

    struct kcr_pod gone = f->pod;
    gone.unix_socket = "/nonexistent/kcr-test.sock";
    assert_int_equal(sidecar_client_ready(&gone, 1000, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
}

static void test_ready_timeout(void **state)
{
    struct fixture *f = *state;
    struct kcr_err err = {0};
    f->mode = M_HANG;
    long long t0 = now_ms();
    assert_int_equal(sidecar_client_ready(&f->pod, 300, &err), -1);
    long long took = now_ms() - t0;
    assert_true(took >= 250 && took < 2000);
}

static void test_execute_request_and_result(void **state)
{
    struct fixture *f = *state;
    struct kcr_err err = {0};
    f->mode = M_EXEC_OK;
    const char *args[] = {"one", "two words"};
    struct kcr_exec_req req = {.code = "print('hi')",
                               .args = args,
                               .nargs = 2,
                               .stdin_data = "in\n",
                               .stdin_len = 3,
                               .timeout_s = 5,
                               .working_dir = "/mnt/data"};
    struct kcr_exec_result res;
    assert_int_equal(sidecar_client_execute(&f->pod, &req, &res, &err), 0);
    assert_string_equal(f->method, "POST");
    assert_string_equal(f->path, "/execute");
    json_t *sent = json_loadb(f->body, f->body_len, 0, NULL);
    assert_non_null(sent);
    assert_string_equal(json_string_value(json_object_get(sent, "code")), "print('hi')");
    assert_int_equal(json_integer_value(json_object_get(sent, "timeout")), 5);
    assert_string_equal(json_string_value(json_object_get(sent, "working_dir")), "/mnt/data");
    assert_string_equal(json_string_value(json_array_get(json_object_get(sent, "args"), 1)),
                        "two words");
    assert_string_equal(json_string_value(json_object_get(sent, "stdin")), "in\n");
    json_decref(sent);

    assert_int_equal(res.exit_code, 3);
    assert_int_equal(res.stdout_len, 3); /* NUL kept */
    assert_memory_equal(res.stdout_data, "a\0b", 3);
    assert_string_equal(res.stderr_data, "err\n");
    assert_int_equal(res.execution_time_ms, 12);
    assert_false(res.timed_out);
    assert_true(res.oom_killed);
    assert_false(res.listed);
    sidecar_client_result_done(&res);
    assert_null(res.stdout_data);
}

/* Only the two safe, well-typed entries of LISTING survive. */
static void assert_listing(const struct kcr_pod_files *files)
{
    assert_int_equal(files->count, 2);
    assert_string_equal(files->items[0].name, "out.png");
    assert_int_equal(files->items[0].size, 10);
    assert_int_equal(files->items[0].mtime_ns, 5);
    assert_string_equal(files->items[1].name, "plots/a b.csv");
    assert_true(files->truncated);
}

/* list_files: asked in the body only when wanted; the answer's listing goes
 * through the checks of GET /files; an answer without a good one (an older
 * sidecar, listing_error, a malformed listing) is still the run's result,
 * with listed false so that the caller lists by GET. */
static void test_execute_with_listing(void **state)
{
    struct fixture *f = *state;
    struct kcr_err err = {0};
    struct kcr_exec_req req = {.code = "x", .timeout_s = 2, .list_files = true};
    struct kcr_exec_result res;

    f->mode = M_EXEC_LISTED;
    assert_int_equal(sidecar_client_execute(&f->pod, &req, &res, &err), 0);
    json_t *sent = json_loadb(f->body, f->body_len, 0, NULL);
    assert_true(json_is_true(json_object_get(sent, "list_files")));
    json_decref(sent);
    assert_int_equal(res.exit_code, 3);
    assert_true(res.listed);
    assert_listing(&res.files);
    assert_true(res.list_ms >= 2.5 && res.list_ms < 1000);
    sidecar_client_result_done(&res);
    assert_null(res.files.items);

    enum mode without[] = {M_EXEC_OK, M_EXEC_LIST_ERROR, M_EXEC_LIST_BAD};
    for (size_t i = 0; i < sizeof(without) / sizeof(*without); i++) {
        f->mode = without[i];
        assert_int_equal(sidecar_client_execute(&f->pod, &req, &res, &err), 0);
        assert_int_equal(res.exit_code, 3);
        assert_string_equal(res.stderr_data, "err\n");
        assert_false(res.listed);
        assert_int_equal(res.files.count, 0);
        sidecar_client_result_done(&res);
    }

    /* Not asked: not sent (an answer then stays as it always was). */
    req.list_files = false;
    f->mode = M_EXEC_OK;
    assert_int_equal(sidecar_client_execute(&f->pod, &req, &res, &err), 0);
    sent = json_loadb(f->body, f->body_len, 0, NULL);
    assert_null(json_object_get(sent, "list_files"));
    json_decref(sent);
    sidecar_client_result_done(&res);
}

static void test_execute_rejects_bad_replies(void **state)
{
    struct fixture *f = *state;
    struct kcr_err err = {0};
    struct kcr_exec_req req = {.code = "x", .timeout_s = 2};
    struct kcr_exec_result res;

    f->mode = M_EXEC_BAD_TYPES;
    assert_int_equal(sidecar_client_execute(&f->pod, &req, &res, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    assert_null(res.stdout_data);

    f->mode = M_EXEC_NOT_JSON;
    assert_int_equal(sidecar_client_execute(&f->pod, &req, &res, &err), -1);
    assert_non_null(strstr(err.msg, "bad JSON"));

    /* 64 MiB announced: the client stops reading at its cap (12x MAX_OUTPUT_SIZE + 64 KiB). */
    f->mode = M_EXEC_FLOOD;
    long long t0 = now_ms();
    assert_int_equal(sidecar_client_execute(&f->pod, &req, &res, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_LIMIT);
    assert_true(now_ms() - t0 < 5000);

    f->mode = M_STATUS;
    f->status = 500;
    assert_int_equal(sidecar_client_execute(&f->pod, &req, &res, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "HTTP 500: nope ?")); /* control byte scrubbed */
    assert_true(res.sent); /* it reached the sidecar: the program may have run */
    f->status = 400;
    assert_int_equal(sidecar_client_execute(&f->pod, &req, &res, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_INVALID);

    /* Invalid requests never reach the sidecar. */
    unsigned before = pod_fake_sidecar_requests(f->sc);
    struct kcr_exec_req bad = {.code = "\xff\xfe", .timeout_s = 2};
    assert_int_equal(sidecar_client_execute(&f->pod, &bad, &res, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    bad = (struct kcr_exec_req){.code = "x", .timeout_s = 0};
    assert_int_equal(sidecar_client_execute(&f->pod, &bad, &res, &err), -1);
    assert_int_equal(pod_fake_sidecar_requests(f->sc), before);

    /* A dead sidecar (no socket): nothing sent, so a fresh pod may run it. */
    struct kcr_pod gone = f->pod;
    gone.unix_socket = "/nonexistent/kcr-test/sidecar.sock";
    assert_int_equal(sidecar_client_execute(&gone, &req, &res, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    assert_false(res.sent);
}

static void test_list_files(void **state)
{
    struct fixture *f = *state;
    struct kcr_err err = {0};
    struct kcr_pod_files files;
    f->mode = M_LIST;
    assert_int_equal(sidecar_client_list_files(&f->pod, &files, &err), 0);
    assert_string_equal(f->path, "/files?recursive=1");
    assert_listing(&files);
    sidecar_client_files_done(&files);
    assert_int_equal(files.count, 0);

    f->mode = M_LIST_HUGE;
    assert_int_equal(sidecar_client_list_files(&f->pod, &files, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_LIMIT);
}

static int memfd(void)
{
    int fd = memfd_create("out", MFD_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static void test_get_file(void **state)
{
    struct fixture *f = *state;
    struct kcr_err err = {0};
    int fd = memfd();
    f->mode = M_FILE;
    char sha[65];
    assert_int_equal(sidecar_client_get_file(&f->pod, "plots/a b%.png", fd, 100, sha, &err), 0);
    assert_string_equal(f->path, "/files/plots/a%20b%25.png?max=100");
    char got[32] = {0};
    assert_int_equal(pread(fd, got, sizeof(got), 0), 16);
    assert_string_equal(got, "0123456789abcdef");
    /* The hash taken on the way is the bytes' sha256. */
    char want[65];
    digest_sha256_hex(got, 16, want);
    assert_string_equal(sha, want);

    /* Past max: the stream is cut, the error is a limit. */
    int fd2 = memfd();
    assert_int_equal(sidecar_client_get_file(&f->pod, "big.bin", fd2, 10, NULL, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_LIMIT);
    assert_true(lseek(fd2, 0, SEEK_END) <= 10);

    /* Error statuses: the error body never lands in the output file. */
    int fd3 = memfd();
    f->mode = M_STATUS;
    f->status = 404;
    assert_int_equal(sidecar_client_get_file(&f->pod, "missing.txt", fd3, 100, NULL, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    f->status = 413;
    assert_int_equal(sidecar_client_get_file(&f->pod, "huge.txt", fd3, 100, sha, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_LIMIT);
    assert_int_equal(lseek(fd3, 0, SEEK_END), 0);

    /* Unsafe names are refused before any request. */
    unsigned before = pod_fake_sidecar_requests(f->sc);
    static const char *const bad[] = {"../x", "/etc/shadow", "a/../../b", ".env", "", "a//b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sidecar_client_get_file(&f->pod, bad[i], fd3, 100, NULL, &err), -1);
        assert_int_equal(err.kind, KCR_ERR_INVALID);
    }
    assert_int_equal(pod_fake_sidecar_requests(f->sc), before);
    close(fd);
    close(fd2);
    close(fd3);
}

static void test_put_file(void **state)
{
    struct fixture *f = *state;
    struct kcr_err err = {0};
    f->mode = M_UPLOAD;
    int fd = memfd();
    char data[5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7);
    assert_int_equal(fs_write_all(fd, data, sizeof(data)), 0);
    /* The offset is at the end: the client still sends from byte 0. */
    assert_int_equal(sidecar_client_put_file(&f->pod, "dir/x.bin", fd, sizeof(data), &err), 0);
    assert_string_equal(f->method, "POST");
    assert_string_equal(f->path, "/files");
    const char *disp = "name=\"files\"; filename=\"dir/x.bin\"";
    assert_non_null(memmem(f->body, f->body_len, disp, strlen(disp)));
    assert_non_null(memmem(f->body, f->body_len, data, sizeof(data)));

    /* A file shorter than announced fails rather than sending short. */
    assert_int_equal(sidecar_client_put_file(&f->pod, "short.bin", fd, sizeof(data) + 100, &err),
                     -1);

    unsigned before = pod_fake_sidecar_requests(f->sc);
    assert_int_equal(sidecar_client_put_file(&f->pod, "../escape", fd, 1, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    assert_int_equal(pod_fake_sidecar_requests(f->sc), before);
    close(fd);
}

int main(void)
{
    /* Read once by the client on its first call. */
    setenv("MAX_OUTPUT_SIZE", "1000", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_request_and_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_rejects_bad_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_with_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
