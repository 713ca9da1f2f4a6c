/* Unit tests for k8s-client against an in-process HTTP responder on loopback
 * (a FAKE server that replays scripted replies; no Kubernetes): retries on 429
 * (Retry-After) and 5xx, no retry on 409, 404 handling, body caps, bearer
 * token from a file, watch lines, and 410 Gone both as HTTP status and as an
 * ERROR event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "pod/k8s-client.h"

#define MAX_REPLIES 8

struct reply {
    int status;
    const char *headers; /* extra header lines, each ending in \r\n */
    const char *body;    /* NULL = big_body */
};

struct responder {
    int fd;
    int port;
    pthread_t t;
    struct reply replies[MAX_REPLIES];
    int nreplies, served;
    char last_request[8192];
};

static char *big_body; /* 2 MiB JSON string, over the client's 1 MiB object cap */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void *responder_main(void *arg)
{
    struct responder *r = arg;
    while (r->served < r->nreplies) {
        int c = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            return NULL;
        size_t len = 0;
        r->last_request[0] = '\0';
        while (len < sizeof(r->last_request) - 1) {
            ssize_t n = read(c, r->last_request + len, sizeof(r->last_request) - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            r->last_request[len] = '\0';
            char *end = strstr(r->last_request, "\r\n\r\n");
            const char *cl = strcasestr(r->last_request, "Content-Length:");
            size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
            if (end && len >= (size_t)(end + 4 - r->last_request) + want)
                break;
        }
        const struct reply *rep = &r->replies[r->served++];
        const char *body = rep->body ? rep->body : big_body;
        char head[512];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
                         "Connection: close\r\n\r\n",
                         rep->status, rep->headers ? rep->headers : "");
        write_all(c, head, (size_t)n);
        write_all(c, body, strlen(body));
        close(c);
    }
    return NULL;
}

static struct responder *responder_start(const struct reply *replies, int n)
{
    struct responder *r = calloc(1, sizeof(*r));
    memcpy(r->replies, replies, (size_t)n * sizeof(*replies));
    r->nreplies = n;
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(r->fd, 8), 0);
    socklen_t al = sizeof(a);
    getsockname(r->fd, (struct sockaddr *)&a, &al);
    r->port = ntohs(a.sin_port);
    pthread_create(&r->t, NULL, responder_main, r);
    return r;
}

static void responder_stop(struct responder *r)
{
    shutdown(r->fd, SHUT_RDWR);
    pthread_join(r->t, NULL);
    close(r->fd);
    free(r);
}

static struct k8s_client *client_for(struct responder *r, const char *token_file)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", r->port);
    struct k8s_client_config cfg = {.api_url = url,
                                    .namespace = "ns1",
                                    .token = "static-token",
                                    .token_file = (char *)token_file};
    struct kcr_err err = {0};
    struct k8s_client *c = k8s_client_new(&cfg, &err);
    assert_non_null(c);
    return c;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_retry_after_429_and_5xx(void **state)
{
    (void)state;
    const struct reply replies[] = {
        {429, "Retry-After: 1\r\n", "{\"kind\":\"Status\",\"message\":\"slow down\"}"},
        {503, NULL, "{}"},
        {200, NULL, "{\"metadata\":{\"name\":\"p1\"}}"},
    };
    struct responder *r = responder_start(replies, 3);
    struct k8s_client *c = client_for(r, NULL);
    struct kcr_err err = {0};
    json_t *pod = NULL;
    double t0 = now_s();
    assert_int_equal(k8s_pod_get(c, "p1", &pod, &err), 0);
    assert_true(now_s() - t0 >= 1.0); /* Retry-After was honoured */
    assert_int_equal(r->served, 3);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")), "p1");
    assert_non_null(strstr(r->last_request, "GET /api/v1/namespaces/ns1/pods/p1 HTTP/1.1"));
    assert_non_null(strstr(r->last_request, "Authorization: Bearer static-token"));
    json_decref(pod);
    k8s_client_free(c);
    responder_stop(r);
}

static void test_conflict_is_not_retried(void **state)
{
    (void)state;
    const struct reply replies[] = {{409, NULL, "{\"message\":\"the object has been modified\"}"}};
    struct responder *r = responder_start(replies, 1);
    struct k8s_client *c = client_for(r, NULL);
    struct kcr_err err = {0};
    json_auto_t *patch = json_pack("{s:{s:s}}", "metadata", "resourceVersion", "7");
    assert_int_equal(k8s_pod_patch(c, "p1", patch, NULL, &err), K8S_CONFLICT);
    assert_int_equal(r->served, 1);
    assert_non_null(
        strstr(r->last_request, "PATCH /api/v1/namespaces/ns1/pods/p1?fieldValidation=Strict "));
    assert_non_null(strstr(r->last_request, "application/merge-patch+json"));
    assert_non_null(strstr(r->last_request, "\"resourceVersion\":\"7\""));
    k8s_client_free(c);
    responder_stop(r);
}

/* A delete guarded by resourceVersion sends DeleteOptions.preconditions; a
 * 409 (the pod changed since) is K8S_CONFLICT, not retried, not a failure. */
static void test_delete_with_precondition(void **state)
{
    (void)state;
    const struct reply replies[] = {{409, NULL, "{\"message\":\"Precondition failed\"}"},
                                    {200, NULL, "{}"}};
    struct responder *r = responder_start(replies, 2);
    struct k8s_client *c = client_for(r, NULL);
    struct kcr_err err = {0};
    assert_int_equal(k8s_pod_delete_if(c, "p1", 0, "41", &err), K8S_CONFLICT);
    assert_int_equal(r->served, 1);
    assert_non_null(
        strstr(r->last_request, "DELETE /api/v1/namespaces/ns1/pods/p1?gracePeriodSeconds=0"));
    assert_non_null(strstr(r->last_request, "\"kind\":\"DeleteOptions\""));
    assert_non_null(strstr(r->last_request, "\"preconditions\":{\"resourceVersion\":\"41\"}"));
    assert_int_equal(k8s_pod_delete_if(c, "p1", 0, "42", &err), 0);
    k8s_client_free(c);
    responder_stop(r);
}

static void test_not_found(void **state)
{
    (void)state;
    const struct reply replies[] = {{404, NULL, "{\"message\":\"pods \\\"x\\\" not found\"}"},
                                    {404, NULL, "{}"}};
    struct responder *r = responder_start(replies, 2);
    struct k8s_client *c = client_for(r, NULL);
    struct kcr_err err = {0};
    json_t *pod = NULL;
    assert_int_equal(k8s_pod_get(c, "x", &pod, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "not found"));
    /* Deleting a pod that is already gone is a success. */
    assert_int_equal(k8s_pod_delete(c, "x", 0, &err), 0);
    assert_non_null(
        strstr(r->last_request, "DELETE /api/v1/namespaces/ns1/pods/x?gracePeriodSeconds=0"));
    k8s_client_free(c);
    responder_stop(r);
}

static void test_body_cap_and_token_file(void **state)
{
    (void)state;
    char path[] = "/tmp/kcr-k8s-token-XXXXXX";
    int fd = mkstemp(path);
    write_all(fd, "rotated-token\n", 14);
    close(fd);
    const struct reply replies[] = {{200, NULL, NULL}};
    struct responder *r = responder_start(replies, 1);
    struct k8s_client *c = client_for(r, path);
    struct kcr_err err = {0};
    json_t *pod = NULL;
    assert_int_equal(k8s_pod_get(c, "big", &pod, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_LIMIT);
    assert_null(pod);
    /* The file's token wins over the static one (bound tokens rotate). */
    assert_non_null(strstr(r->last_request, "Authorization: Bearer rotated-token\r\n"));
    unlink(path);
    k8s_client_free(c);
    responder_stop(r);
}

struct seen {
    int added, modified;
    char last_rv[32];
};

static int on_event(const char *type, json_t *obj, void *ud)
{
    struct seen *s = ud;
    if (!strcmp(type, "ADDED"))
        s->added++;
    if (!strcmp(type, "MODIFIED"))
        s->modified++;
    snprintf(
        s->last_rv, sizeof(s->last_rv), "%s",
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion")));
    return 0;
}

static void test_watch_lines_and_gone(void **state)
{
    (void)state;
    const struct reply replies[] = {
        {200, NULL,
         "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}"
         "\n"
         "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":"
         "\"6\"}}}"
         "\n"},
        {200, NULL,
         "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}"
         "\n"},
        {410, NULL, "{\"kind\":\"Status\",\"code\":410}"},
    };
    struct responder *r = responder_start(replies, 3);
    struct k8s_client *c = client_for(r, NULL);
    struct kcr_err err = {0};
    struct seen s = {0};
    atomic_bool stop = false;
    assert_int_equal(k8s_pod_watch(c, "a=b,c!=d", "4", 5, on_event, &s, &stop, &err), 0);
    assert_int_equal(s.added, 1);
    assert_int_equal(s.modified, 1);
    assert_string_equal(s.last_rv, "6");
    assert_non_null(strstr(r->last_request, "watch=1"));
    assert_non_null(strstr(r->last_request, "resourceVersion=4"));
    assert_non_null(strstr(r->last_request, "labelSelector=a%3Db%2Cc%21%3Dd"));
    assert_int_equal(k8s_pod_watch(c, NULL, "1", 5, on_event, &s, &stop, &err), K8S_GONE);
    assert_int_equal(k8s_pod_watch(c, NULL, "1", 5, on_event, &s, &stop, &err), K8S_GONE);
    k8s_client_free(c);
    responder_stop(r);
}

static void test_config_from_env(void **state)
{
    (void)state;
    struct k8s_client_config cfg;
    struct kcr_err err = {0};
    unsetenv("KUBERNETES_SERVICE_HOST");
    setenv("K8S_API_URL", "ftp://x", 1);
    assert_int_equal(k8s_client_config_from_env(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "K8S_API_URL"));
    unsetenv("K8S_API_URL");
    assert_int_equal(k8s_client_config_from_env(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "K8S_API_URL"));
    setenv("K8S_API_URL", "http://127.0.0.1:8001", 1);
    setenv("K8S_NAMESPACE", "exec", 1);
    assert_int_equal(k8s_client_config_from_env(&cfg, &err), 0);
    assert_string_equal(cfg.namespace, "exec");
    assert_null(cfg.token);
    k8s_client_config_done(&cfg);
    unsetenv("K8S_API_URL");
    unsetenv("K8S_NAMESPACE");
}

/* In a child with a private mount namespace, a tmpfs over /run (so
 * /var/run/secrets) holds a service account, as the kubelet provides one. */
static int in_cluster_child(void)
{
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", "/run", "tmpfs", 0, "size=1m") < 0)
        return 77; /* no mount namespace here */
    const char *dirs[] = {"/run/secrets", "/run/secrets/kubernetes.io",
                          "/run/secrets/kubernetes.io/serviceaccount"};
    for (size_t i = 0; i < 3; i++)
        if (mkdir(dirs[i], 0755) < 0)
            return 10;
    const char *sa = "/var/run/secrets/kubernetes.io/serviceaccount";
    char path[128];
    const char *files[][2] = {{"token", "tok-123"}, {"ca.crt", "-----"}, {"namespace", "exec-ns"}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", sa, files[i][0]);
        FILE *f = fopen(path, "we");
        if (!f || fputs(files[i][1], f) < 0 || fclose(f) != 0)
            return 11;
    }
    unsetenv("K8S_API_URL");
    unsetenv("K8S_NAMESPACE");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    struct k8s_client_config cfg;
    struct kcr_err err = {0};
    if (k8s_client_config_from_env(&cfg, &err) < 0)
        return 12;
    int bad = strcmp(cfg.api_url, "https://10.96.0.1:6443") ||
              strcmp(cfg.token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token") ||
              strcmp(cfg.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt") ||
              strcmp(cfg.namespace, "exec-ns") || cfg.insecure;
    k8s_client_config_done(&cfg);
    if (bad)
        return 13;
    /* An IPv6 service address gets brackets; K8S_NAMESPACE wins over the file. */
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("K8S_NAMESPACE", "other", 1);
    if (k8s_client_config_from_env(&cfg, &err) < 0)
        return 14;
    bad = strcmp(cfg.api_url, "https://[fd00::1]:6443") || strcmp(cfg.namespace, "other");
    k8s_client_config_done(&cfg);
    if (bad)
        return 15;
    /* Without a readable token: a clear error naming the file. */
    snprintf(path, sizeof(path), "%s/token", sa);
    if (unlink(path) < 0 || k8s_client_config_from_env(&cfg, &err) == 0 ||
        !strstr(err.msg, "serviceaccount/token"))
        return 16;
    return 0;
}

static void test_in_cluster_config(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    pid_t pid = fork();
    if (pid == 0)
        _exit(in_cluster_child());
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        skip();
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    /* The responder writes to clients that hung up on purpose (body caps). */
    signal(SIGPIPE, SIG_IGN);
    big_body = malloc((2u << 20) + 3);
    big_body[0] = '"';
    memset(big_body + 1, 'x', 2u << 20);
    big_body[(2u << 20) + 1] = '"';
    big_body[(2u << 20) + 2] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after_429_and_5xx),
        cmocka_unit_test(test_conflict_is_not_retried),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_delete_with_precondition),
        cmocka_unit_test(test_body_cap_and_token_file),
        cmocka_unit_test(test_watch_lines_and_gone),
        cmocka_unit_test(test_config_from_env),
        cmocka_unit_test(test_in_cluster_config),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(big_body);
    return rc;
}
