/* Unit tests for store/blob-s3*.c against a real S3-compatible server:
 * s3rver (npm, pinned in tests/s3/package-lock.json), started on a free
 * loopback port by tests/helpers/s3rver.sh. Round trips, multipart commits
 * (threshold lowered through S3_MULTIPART_THRESHOLD_MB), replacement, failed
 * uploads that leave the old bytes, removal, listing, the bucket made at
 * open, a stopped server (SIGSTOP) failing within the timeout, wrong
 * credentials, streams closed early by their reader, unsafe keys. Skipped, naming
 * s3rver and npm, when node or npm is missing.
 *
 * s3rver checks no SigV4 signature, so s3rver.sh puts the strict verifier
 * tests/helpers/sigv4-proxy.py in front of it: every request here must be
 * signed exactly as AWS S3 wants, with its body's real sha256, and the last
 * test reads the proxy's log to see that nothing else was refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/time.h"
#include "fakes/tmpdir.h"
#include "store/blob-s3.h"

#define BUCKET "kcr-test"
#define HELPER "tests/helpers/s3rver.sh"

static char dir[TMPDIR_SIZE];
static char endpoint[64];
static pid_t server_pid;
static bool have_server;

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0)
        return -1;
    close(s);
    return ntohs(a.sin_port);
}

/* 0 started, 77 no node/npm, else failed. */
static int server_start(void)
{
    int port = free_port();
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s start %d %s %s >/dev/null", HELPER, port, dir, BUCKET);
    int st = system(cmd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    char path[128], buf[32] = {0};
    snprintf(path, sizeof(path), "%s/s3rver.pid", dir);
    FILE *f = fopen(path, "re");
    if (!f || !fgets(buf, sizeof(buf), f))
        return 1;
    fclose(f);
    server_pid = (pid_t)atoi(buf);
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", port);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    tmpdir_new(dir, "blob-s3");
    if (access(HELPER, X_OK) < 0) {
        fprintf(stderr, "test_blob_s3: %s not found (run from the repository)\n", HELPER);
        return 0;
    }
    int r = server_start();
    if (r == 77)
        fprintf(stderr, "test_blob_s3: skipped: s3rver needs node and npm\n");
    else if (r != 0)
        fprintf(stderr, "test_blob_s3: s3rver (npm) did not start (%d)\n", r);
    have_server = r == 0;
    return r == 0 || r == 77 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "%s stop %s", HELPER, dir);
    if (have_server)
        if (system(cmd) != 0)
            fprintf(stderr, "test_blob_s3: stopping s3rver failed\n");
    tmpdir_remove(dir);
    return 0;
}

static struct kcr_blob *open_with(const char *bucket, const char *access, const char *secret,
                                  long timeout_ms, struct kcr_err *err)
{
    char spool[128];
    snprintf(spool, sizeof(spool), "%s/spool", dir);
    struct kcr_s3_config cfg = {.endpoint = endpoint,
                                .secure = false,
                                .access_key = access,
                                .secret_key = secret,
                                .bucket = bucket,
                                .region = "us-east-1",
                                .spool_dir = spool,
                                .timeout_ms = timeout_ms};
    return blob_s3_open(&cfg, err);
}

static struct kcr_blob *open_as(const char *bucket, const char *access, long timeout_ms,
                                struct kcr_err *err)
{
    return open_with(bucket, access, "S3RVER", timeout_ms, err);
}

static struct kcr_blob *open_blob(void)
{
    if (!have_server)
        skip();
    struct kcr_err err = {0};
    struct kcr_blob *b = open_as(BUCKET, "S3RVER", 5000, &err);
    if (!b)
        fail_msg("blob_s3_open: %s", err.msg);
    return b;
}

/* Reads all of fd; returns the count, and the bytes in *ret (malloc'd). */
static size_t read_all(int fd, char **ret)
{
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (;;) {
        if (len == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    *ret = buf;
    return len;
}

static void expect_blob(struct kcr_blob *b, const char *key, const void *want, size_t len)
{
    uint64_t size = 0;
    struct kcr_err err = {0};
    int fd = b->ops->open(b, key, &size, &err);
    if (fd < 0)
        fail_msg("open '%s': %s", key, err.msg);
    assert_int_equal(size, len);
    char *got;
    assert_int_equal(read_all(fd, &got), len);
    assert_memory_equal(got, want, len);
    free(got);
    close(fd);
}

static void expect_missing(struct kcr_blob *b, const char *key)
{
    struct kcr_err err = {0};
    assert_int_equal(b->ops->open(b, key, NULL, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
}

/* A file of len pseudo-random bytes (seeded), as an unnamed spool file. */
static int pattern_file(struct kcr_blob *b, size_t len, unsigned seed, char **ret)
{
    char *p = malloc(len);
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (char)(seed >> 16);
    }
    int fd = b->ops->tmpfile(b, NULL);
    assert_true(fd >= 0);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, p + off, len - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    *ret = p;
    return fd;
}

static void test_put_open_remove(void **state)
{
    (void)state;
    struct kcr_blob *b = open_blob();
    assert_string_equal(b->ops->name, "s3");
    assert_int_equal(b->ops->ping(b, NULL), 0);
    assert_int_equal(b->ops->put(b, "SessA/File1", "hello", 5, NULL), 0);
    expect_blob(b, "SessA/File1", "hello", 5);
    assert_int_equal(b->ops->put(b, "SessA/Empty", "", 0, NULL), 0);
    expect_blob(b, "SessA/Empty", "", 0);
    /* Names with bytes that need encoding in the URL and the signature. */
    assert_int_equal(b->ops->put(b, "SessA/a b+c%d=é", "x", 1, NULL), 0);
    expect_blob(b, "SessA/a b+c%d=é", "x", 1);
    expect_missing(b, "SessA/missing");
    assert_int_equal(b->ops->remove(b, "SessA/File1", NULL), 0);
    assert_int_equal(b->ops->remove(b, "SessA/File1", NULL), 0); /* missing is fine */
    expect_missing(b, "SessA/File1");
    blob_free(b);
}

static void test_commit_single_and_multipart(void **state)
{
    (void)state;
    setenv("S3_MULTIPART_THRESHOLD_MB", "1", 1);
    setenv("S3_MULTIPART_PART_MB", "5", 1);
    struct kcr_blob *b = open_blob();
    unsetenv("S3_MULTIPART_THRESHOLD_MB");
    unsetenv("S3_MULTIPART_PART_MB");
    /* Above the threshold: parts of 5, 5 and 2 MiB + 123 bytes. */
    size_t big = (12u << 20) + 123;
    char *want;
    int fd = pattern_file(b, big, 7, &want);
    struct kcr_err err = {0};
    if (b->ops->commit(b, "SessM/Big", fd, &err) < 0)
        fail_msg("multipart commit: %s", err.msg);
    close(fd);
    expect_blob(b, "SessM/Big", want, big);
    free(want);
    /* Replaced by a small single PUT. */
    fd = pattern_file(b, 1000, 9, &want);
    assert_int_equal(b->ops->commit(b, "SessM/Big", fd, NULL), 0);
    close(fd);
    expect_blob(b, "SessM/Big", want, 1000);
    /* From a non-seekable fd: another blob's stream (spooled first). */
    uint64_t size = 0;
    int in = b->ops->open(b, "SessM/Big", &size, NULL);
    assert_true(in >= 0);
    assert_int_equal(b->ops->commit(b, "SessM/Copy", in, NULL), 0);
    close(in);
    expect_blob(b, "SessM/Copy", want, 1000);
    free(want);
    blob_free(b);
}

struct stopper {
    int delay_ms;
};

static void *stop_later(void *arg)
{
    struct stopper *s = arg;
    struct timespec ts = {0, (long)s->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    kill(server_pid, SIGSTOP);
    return NULL;
}

static void test_failed_upload_keeps_old(void **state)
{
    (void)state;
    setenv("S3_MULTIPART_THRESHOLD_MB", "1", 1);
    setenv("S3_MULTIPART_PART_MB", "5", 1);
    if (!have_server)
        skip();
    struct kcr_err err = {0};
    struct kcr_blob *b = open_as(BUCKET, "S3RVER", 1500, &err);
    unsetenv("S3_MULTIPART_THRESHOLD_MB");
    unsetenv("S3_MULTIPART_PART_MB");
    assert_non_null(b);
    assert_int_equal(b->ops->put(b, "SessF/Doc", "old bytes", 9, NULL), 0);
    /* A source that cannot be read: nothing is sent. */
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(b->ops->commit(b, "SessF/Doc", p[1], &err), -1);
    close(p[0]);
    close(p[1]);
    expect_blob(b, "SessF/Doc", "old bytes", 9);
    /* The server stops in the middle of a multipart upload. */
    size_t big = 24u << 20;
    char *want;
    int fd = pattern_file(b, big, 3, &want);
    struct stopper st = {.delay_ms = 40};
    pthread_t t;
    pthread_create(&t, NULL, stop_later, &st);
    int64_t t0 = time_mono_ms();
    int r = b->ops->commit(b, "SessF/Doc", fd, &err);
    int64_t took = time_mono_ms() - t0;
    pthread_join(t, NULL);
    kill(server_pid, SIGCONT);
    close(fd);
    if (r == 0) {
        /* Done before the stop (a fast machine): all the new bytes. */
        print_message("commit finished before the stop (%lld ms)\n", (long long)took);
        expect_blob(b, "SessF/Doc", want, big);
    } else {
        assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
        expect_blob(b, "SessF/Doc", "old bytes", 9);
    }
    free(want);
    blob_free(b);
}

static int count_key(const char *key, int64_t mtime_ms, void *ctx)
{
    int *n = ctx;
    int64_t now = time_wall_ms();
    assert_true(mtime_ms > now - 600000 && mtime_ms < now + 600000);
    assert_non_null(strchr(key, '/'));
    (*n)++;
    return 0;
}

static void test_remove_dir_and_list(void **state)
{
    (void)state;
    struct kcr_blob *b = open_blob();
    char key[64];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "SessD/f%d", i);
        assert_int_equal(b->ops->put(b, key, "d", 1, NULL), 0);
    }
    assert_int_equal(b->ops->put(b, "SessD2/keep", "k", 1, NULL), 0);
    int n = 0;
    assert_int_equal(b->ops->list(b, "SessD", count_key, &n, NULL), 0);
    assert_int_equal(n, 5);
    assert_int_equal(b->ops->remove_dir(b, "SessD", NULL), 0);
    assert_int_equal(b->ops->remove_dir(b, "SessD", NULL), 0); /* missing is fine */
    expect_missing(b, "SessD/f0");
    expect_missing(b, "SessD/f4");
    n = 0;
    assert_int_equal(b->ops->list(b, "SessD", count_key, &n, NULL), 0);
    assert_int_equal(n, 0);
    expect_blob(b, "SessD2/keep", "k", 1);
    n = 0;
    assert_int_equal(b->ops->list(b, NULL, count_key, &n, NULL), 0);
    assert_true(n >= 1);
    blob_free(b);
}

/* Names needing encoding, in the path and in list's prefix= and (past 1000
 * objects, s3rver's page) continuation-token= queries: the verifier refuses
 * any of them not canonically encoded and signed. names_is_safe allows every
 * byte but '/', a leading '.' and "..". */
static const char ODD_DIR[] = "Sess K+=&?#%é~";

static void test_odd_names_and_pages(void **state)
{
    (void)state;
    struct kcr_blob *b = open_blob();
    static const char *const names[] = {"a b",
                                        "a+b",
                                        "a=b",
                                        "é",
                                        "\xe2\x82\xac\xf0\x9f\x98\x80",
                                        "q?x=1&y=2#z",
                                        "%41%2F",
                                        "!$'()*,;:@[]",
                                        "~-_.x",
                                        "tab\tand\nline",
                                        "plus+ space = eq"};
    char key[256];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(key, sizeof(key), "%s/%s", ODD_DIR, names[i]);
        if (b->ops->put(b, key, names[i], strlen(names[i]), NULL) < 0)
            fail_msg("put '%s'", key);
        expect_blob(b, key, names[i], strlen(names[i]));
    }
    /* More than a page: the listing follows s3rver's continuation token. */
    enum { MANY = 1003 };
    for (int i = 0; i < MANY; i++) {
        snprintf(key, sizeof(key), "%s/p%04d", ODD_DIR, i);
        assert_int_equal(b->ops->put(b, key, "", 0, NULL), 0);
    }
    int n = 0;
    struct kcr_err lerr = {0};
    if (b->ops->list(b, ODD_DIR, count_key, &n, &lerr) < 0)
        fail_msg("list: %s", lerr.msg);
    assert_int_equal(n, MANY + (int)(sizeof(names) / sizeof(names[0])));
    assert_int_equal(b->ops->remove_dir(b, ODD_DIR, NULL), 0);
    n = 0;
    assert_int_equal(b->ops->list(b, ODD_DIR, count_key, &n, NULL), 0);
    assert_int_equal(n, 0);
    blob_free(b);
}

static void test_bucket_created_at_open(void **state)
{
    (void)state;
    if (!have_server)
        skip();
    char bucket[64];
    snprintf(bucket, sizeof(bucket), "kcr-auto-%d", (int)getpid());
    struct kcr_err err = {0};
    struct kcr_blob *b = open_as(bucket, "S3RVER", 5000, &err);
    if (!b)
        fail_msg("open with a new bucket: %s", err.msg);
    assert_int_equal(b->ops->put(b, "S/x", "y", 1, NULL), 0);
    expect_blob(b, "S/x", "y", 1);
    blob_free(b);
    /* Opening again finds it. */
    b = open_as(bucket, "S3RVER", 5000, &err);
    assert_non_null(b);
    expect_blob(b, "S/x", "y", 1);
    blob_free(b);
}

static void test_stopped_server_unavailable(void **state)
{
    (void)state;
    if (!have_server)
        skip();
    struct kcr_err err = {0};
    struct kcr_blob *b = open_as(BUCKET, "S3RVER", 1000, &err);
    assert_non_null(b);
    assert_int_equal(b->ops->put(b, "SessU/a", "before", 6, NULL), 0);
    kill(server_pid, SIGSTOP);
    int64_t t0 = time_mono_ms();
    assert_int_equal(b->ops->put(b, "SessU/a", "after", 5, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    int64_t t1 = time_mono_ms();
    assert_int_equal(b->ops->open(b, "SessU/a", NULL, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    int64_t t2 = time_mono_ms();
    assert_int_equal(b->ops->ping(b, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    int64_t t3 = time_mono_ms();
    kill(server_pid, SIGCONT);
    print_message("put %lld ms, open %lld ms, ping %lld ms (timeout 1000)\n", (long long)(t1 - t0),
                  (long long)(t2 - t1), (long long)(t3 - t2));
    /* The timeout plus curl's one-second low-speed granularity and slack. */
    assert_true(t1 - t0 < 3500);
    assert_true(t2 - t1 < 3500);
    assert_true(t3 - t2 < 3500);
    /* Recovery. The put that timed out was not acknowledged, yet its request
     * may still reach the server once it runs again; s3rver then stores
     * what it read of the aborted body (its filesystem store writes as it
     * reads; AWS and MinIO refuse a body short of its Content-Length and
     * x-amz-content-sha256). So only recovery is checked here: the whole-or-
     * nothing property is test_failed_upload_keeps_old's, on a multipart.
     * The resumed server first works off what queued up while it was
     * stopped: on a loaded machine one ping of the 1 s timeout may still
     * miss (seen in CI), so recovery is bounded at 15 s, not one try. */
    int rc = -1;
    for (int64_t until = time_mono_ms() + 15000; rc != 0 && time_mono_ms() < until;)
        rc = b->ops->ping(b, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(b->ops->put(b, "SessU/a", "again", 5, NULL), 0);
    expect_blob(b, "SessU/a", "again", 5);
    blob_free(b);
}

/* s3rver 3.7.1 checks the access key but not SigV4 signatures (its
 * authentication.js: "Signature version 4 calculation is unimplemented"), so
 * bad credentials are a wrong key here; AWS and MinIO answer a wrong secret
 * with the same 403. */
static void test_wrong_credentials(void **state)
{
    (void)state;
    if (!have_server)
        skip();
    struct kcr_err err = {0};
    struct kcr_blob *b = open_as(BUCKET, "NOT-A-KEY", 5000, &err);
    assert_null(b);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "access denied"));
}

/* The secret s3rver never checks: the verifying proxy refuses the HEAD of
 * the bucket at open, as AWS and MinIO would. */
static void test_wrong_secret(void **state)
{
    (void)state;
    if (!have_server)
        skip();
    struct kcr_err err = {0};
    struct kcr_blob *b = open_with(BUCKET, "S3RVER", "NOT-THE-SECRET", 5000, &err);
    assert_null(b);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "access denied (403"));
}

static void test_stream_closed_early(void **state)
{
    (void)state;
    struct kcr_blob *b = open_blob();
    char *want;
    size_t len = 6u << 20;
    int fd = pattern_file(b, len, 5, &want);
    assert_int_equal(b->ops->commit(b, "SessS/Big", fd, NULL), 0);
    close(fd);
    for (int i = 0; i < 5; i++) {
        uint64_t size = 0;
        int in = b->ops->open(b, "SessS/Big", &size, NULL);
        assert_true(in >= 0);
        assert_int_equal(size, len);
        char buf[100];
        if (i % 2)
            assert_int_equal(read(in, buf, sizeof(buf)), (ssize_t)sizeof(buf));
        close(in);
    }
    /* The threads stop on EPIPE: freeing (which waits for them) is quick,
     * not the 5 s timeout of a reader that would never read. */
    int64_t t0 = time_mono_ms();
    blob_free(b);
    assert_true(time_mono_ms() - t0 < 4000);
    free(want);
}

static void test_unsafe_keys(void **state)
{
    (void)state;
    struct kcr_blob *b = open_blob();
    static const char *const bad[] = {"../x",  "a/../b", "a/.hidden", "noslash",
                                      "a/b/c", "/a/b",   "a/",        ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kcr_err err = {0};
        assert_int_equal(b->ops->put(b, bad[i], "x", 1, &err), -1);
        assert_int_equal(err.kind, KCR_ERR_INVALID);
        assert_int_equal(b->ops->open(b, bad[i], NULL, &err), -1);
        assert_int_equal(err.kind, KCR_ERR_INVALID);
        assert_int_equal(b->ops->remove(b, bad[i], &err), -1);
        assert_int_equal(b->ops->commit(b, bad[i], 0, &err), -1);
    }
    struct kcr_err err = {0};
    assert_int_equal(b->ops->remove_dir(b, "..", &err), -1);
    assert_int_equal(b->ops->list(b, "a/b", count_key, NULL, &err), -1);
    blob_free(b);
}

/* The proxy refused nothing but the wrong credentials' HEADs (any other
 * refusal, e.g. of an abort whose failure kcr ignores, is a signing bug) and
 * did verify requests. */
static void test_proxy_refused_only_bad_credentials(void **state)
{
    (void)state;
    if (!have_server)
        skip();
    char path[128], line[8192];
    snprintf(path, sizeof(path), "%s/sigv4-proxy.log", dir);
    FILE *f = fopen(path, "re");
    if (!f)
        skip(); /* S3_NO_SIGV4_PROXY=1 */
    int ok = 0, refused = 0, bad = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, " ok "))
            ok++;
        if (!strstr(line, " REJECT "))
            continue;
        if (strstr(line, "REJECT GET /: 403 AccessDenied: no Authorization") ||
            strstr(line, "REJECT HEAD /" BUCKET ": 403 InvalidAccessKeyId") ||
            strstr(line, "REJECT HEAD /" BUCKET ": 403 SignatureDoesNotMatch")) {
            refused++;
        } else {
            bad++;
            print_message("refused: %s", line);
        }
    }
    fclose(f);
    print_message("proxy: %d requests verified, %d refused as expected\n", ok, refused);
    assert_int_equal(bad, 0);
    assert_true(ok > 1000);
    assert_int_equal(refused, 3); /* the start's probe, wrong key, wrong secret */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_open_remove),
        cmocka_unit_test(test_commit_single_and_multipart),
        cmocka_unit_test(test_failed_upload_keeps_old),
        cmocka_unit_test(test_remove_dir_and_list),
        cmocka_unit_test(test_odd_names_and_pages),
        cmocka_unit_test(test_bucket_created_at_open),
        cmocka_unit_test(test_stopped_server_unavailable),
        cmocka_unit_test(test_wrong_credentials),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_stream_closed_early),
        cmocka_unit_test(test_unsafe_keys),
        cmocka_unit_test(test_proxy_refused_only_bad_credentials),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
