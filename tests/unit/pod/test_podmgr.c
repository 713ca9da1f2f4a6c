/* Unit tests for the kcr side of the pod manager protocol: the configuration
 * message (podmgr-config.c) round-trips and rejects what kcr never sends,
 * and concurrent calls (podmgr-client.c) each get their own answer when the
 * manager answers out of order, and all fail cleanly when it goes away. The
 * manager here is a forked child on a real socketpair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pod/pod-local.h"
#include "pod/podmgr-internal.h"

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_config_round_trip(void **state)
{
    (void)state;
    struct kcr_pod_local_config in = {
        .run_dir = "/run/kcr",
        .runtime_dir = "/opt/kcr/runtime",
        .sidecar_bin = "/opt/kcr/kcr-sidecar",
        .nsexec_bin = "/opt/kcr/kcr-nsexec",
        .podmgr_bin = "/opt/kcr/kcr-podmgr",
        .cgroup_parent = "kcr-x",
        .memory_mb = 768,
        .pids_max = 99,
        .cpu_millis = 1500,
        .tmp_mb = 64,
        .data_mb = 128,
        .ready_ms = 4321,
        .rootless = false,
        .client_gid = 4242,
        .output_bytes = 1 << 20,
        .forkserver = true,
        .preload_py = "numpy,json",
        .preload_py_lite = "json,re",
        .forkserver_lib = "/opt/kcr/kcr-forkserver.so",
        .forkserver_wait_ms = 777,
    };
    int sv[2];
    pair(sv);
    struct kcr_err e = {0};
    assert_int_equal(podmgr_config_send(sv[0], &in, &e), 0);
    struct kcr_pod_local_config out;
    assert_int_equal(podmgr_config_recv(sv[1], &out, &e), 0);
    assert_string_equal(out.run_dir, in.run_dir);
    assert_string_equal(out.runtime_dir, in.runtime_dir);
    assert_string_equal(out.sidecar_bin, in.sidecar_bin);
    assert_string_equal(out.nsexec_bin, in.nsexec_bin);
    assert_string_equal(out.cgroup_parent, in.cgroup_parent);
    assert_string_equal(out.preload_py, in.preload_py);
    assert_string_equal(out.preload_py_lite, in.preload_py_lite);
    assert_string_equal(out.forkserver_lib, in.forkserver_lib);
    assert_null(out.podmgr_bin); /* kcr's business, not the manager's */
    assert_int_equal(out.memory_mb, 768);
    assert_int_equal(out.pids_max, 99);
    assert_int_equal(out.cpu_millis, 1500);
    assert_int_equal(out.tmp_mb, 64);
    assert_int_equal(out.data_mb, 128);
    assert_int_equal(out.ready_ms, 4321);
    assert_false(out.rootless);
    assert_int_equal(out.client_gid, 4242);
    assert_int_equal(out.output_bytes, 1 << 20);
    assert_true(out.forkserver);
    assert_int_equal(out.forkserver_wait_ms, 777);
    pod_local_config_done(&out);
    close(sv[0]);
    close(sv[1]);
}

static void expect_refused(const char *msg, size_t len, const char *why)
{
    int sv[2];
    pair(sv);
    assert_int_equal(send(sv[0], msg, len, 0), (ssize_t)len);
    struct kcr_pod_local_config out;
    struct kcr_err e = {0};
    assert_int_equal(podmgr_config_recv(sv[1], &out, &e), -1);
    if (!strstr(e.msg, why))
        fail_msg("'%s' does not say '%s'", e.msg, why);
    close(sv[0]);
    close(sv[1]);
}

static void test_config_refuses_what_kcr_never_sends(void **state)
{
    (void)state;
    expect_refused("not json", 8, "configuration:");
    expect_refused("{\"run_dir\": \"/x\"}", 17, "configuration:"); /* fields missing */
    /* Longer than any configuration: refused before parsing. */
    char *big = malloc(70000);
    memset(big, ' ', 70000);
    big[0] = '{';
    big[69999] = '}';
    expect_refused(big, 70000, "too long");
    free(big);
    int sv[2];
    pair(sv);
    close(sv[0]);
    struct kcr_pod_local_config out;
    struct kcr_err e = {0};
    assert_int_equal(podmgr_config_recv(sv[1], &out, &e), -1);
    assert_non_null(strstr(e.msg, "no configuration"));
    close(sv[1]);
}

/* The fake manager: collects n requests, then answers them last first,
 * each with its argument as the pod id; then waits for kcr to hang up. */
static void fake_manager(int fd, int n)
{
    struct podmgr_req reqs[8];
    for (int i = 0; i < n; i++)
        if (recv(fd, &reqs[i], sizeof(reqs[i]), 0) != (ssize_t)sizeof(reqs[i]))
            _exit(3);
    for (int i = n; i-- > 0;) {
        struct podmgr_resp resp = {.tag = reqs[i].tag};
        snprintf(resp.id, sizeof(resp.id), "%s", reqs[i].arg);
        if (!strcmp(reqs[i].arg, "bad")) {
            resp.status = -1;
            resp.kind = KCR_ERR_INVALID;
            snprintf(resp.msg, sizeof(resp.msg), "no such thing");
        }
        if (send(fd, &resp, sizeof(resp), 0) != (ssize_t)sizeof(resp))
            _exit(4);
    }
    char c;
    (void)recv(fd, &c, 1, 0);
    _exit(0);
}

struct caller {
    struct podmgr_client *c;
    char arg[16];
    int r;
    struct podmgr_resp resp;
    struct kcr_err err;
};

static void *call_thread(void *p)
{
    struct caller *k = p;
    k->r = podmgr_call(k->c, PODMGR_CREATE, 0, k->arg, &k->resp, &k->err);
    return NULL;
}

static struct podmgr_client *client_with(void (*manager)(int, int), int n)
{
    int sv[2];
    pair(sv);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        manager(sv[1], n);
    }
    close(sv[1]);
    return podmgr_client_new(sv[0], pid);
}

static void test_concurrent_calls_get_their_own_answers(void **state)
{
    (void)state;
    enum { N = 4 };
    struct podmgr_client *c = client_with(fake_manager, N);
    struct caller k[N];
    pthread_t t[N];
    const char *args[N] = {"py", "js", "bad", "r"};
    for (int i = 0; i < N; i++) {
        k[i] = (struct caller){.c = c};
        snprintf(k[i].arg, sizeof(k[i].arg), "%s", args[i]);
        assert_int_equal(pthread_create(&t[i], NULL, call_thread, &k[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        if (!strcmp(args[i], "bad")) {
            assert_int_equal(k[i].r, -1);
            assert_int_equal(k[i].err.kind, KCR_ERR_INVALID);
            assert_string_equal(k[i].err.msg, "no such thing");
        } else {
            assert_int_equal(k[i].r, 0);
            assert_string_equal(k[i].resp.id, args[i]);
        }
    }
    assert_true(podmgr_alive(c));
    assert_null(podmgr_stop(c));
}

/* Takes the requests and exits without a word. */
static void vanishing_manager(int fd, int n)
{
    struct podmgr_req req;
    for (int i = 0; i < n; i++)
        (void)recv(fd, &req, sizeof(req), 0);
    _exit(0);
}

static void test_calls_fail_when_the_manager_goes(void **state)
{
    (void)state;
    enum { N = 3 };
    struct podmgr_client *c = client_with(vanishing_manager, N);
    struct caller k[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        k[i] = (struct caller){.c = c};
        snprintf(k[i].arg, sizeof(k[i].arg), "py");
        assert_int_equal(pthread_create(&t[i], NULL, call_thread, &k[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(k[i].r, -1);
        assert_int_equal(k[i].err.kind, KCR_ERR_UNAVAILABLE);
    }
    /* And so does every later call, at once. */
    struct podmgr_resp resp;
    struct kcr_err e = {0};
    assert_int_equal(podmgr_call(c, PODMGR_DESTROY, 0, "x", &resp, &e), -1);
    assert_int_equal(e.kind, KCR_ERR_UNAVAILABLE);
    assert_non_null(strstr(e.msg, "no reply")); /* not some earlier call's errno */
    assert_null(podmgr_stop(c));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_round_trip),
        cmocka_unit_test(test_config_refuses_what_kcr_never_sends),
        cmocka_unit_test(test_concurrent_calls_get_their_own_answers),
        cmocka_unit_test(test_calls_fail_when_the_manager_goes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
