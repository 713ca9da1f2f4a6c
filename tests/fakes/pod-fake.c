/* pod-fake — fake backend and fake sidecar for unit tests (see pod-fake.h). */
#include "fakes/pod-fake.h"

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HEADER_CAP (64u << 10)
#define BODY_CAP   (64u << 20)

/*** Fake sidecar ***/

struct pod_fake_sidecar {
    char dir[64];
    char path[108];
    int listen_fd;
    int stop_pipe[2];
    pthread_t thread;
    pod_fake_handler handler;
    void *userdata;
    atomic_uint requests;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Reads until want bytes are in b (or EOF/error). Returns false on EOF/error. */
static bool read_more(int fd, struct kcr_buf *b)
{
    char tmp[16384];
    ssize_t n;
    do
        n = read(fd, tmp, sizeof(tmp));
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;
    return buf_append(b, tmp, (size_t)n) == (size_t)n;
}

static void serve_one(struct pod_fake_sidecar *s, int fd)
{
    struct kcr_buf b;
    buf_init(&b, HEADER_CAP + BODY_CAP);
    char *end = NULL;
    while (!(end = b.data ? strstr(b.data, "\r\n\r\n") : NULL))
        if (b.len > HEADER_CAP || !read_more(fd, &b))
            goto out;
    size_t hlen = (size_t)(end - b.data) + 4;
    size_t clen = 0;
    const char *cl = strcasestr(b.data, "\r\nContent-Length:");
    if (cl && cl < end)
        clen = strtoul(cl + 17, NULL, 10);
    while (b.len < hlen + clen)
        if (!read_more(fd, &b))
            goto out;
    struct pod_fake_request req = {0};
    if (sscanf(b.data, "%15s %1023s", req.method, req.path) != 2)
        goto out;
    req.headers = xstrndup(b.data, hlen);
    req.body = xmalloc(clen + 1);
    memcpy(req.body, b.data + hlen, clen);
    req.body[clen] = '\0';
    req.body_len = clen;
    s->handler(&req, fd, s->userdata);
    free(req.headers);
    free(req.body);
    atomic_fetch_add(&s->requests, 1);
out:
    buf_done(&b);
}

static void *serve(void *arg)
{
    struct pod_fake_sidecar *s = arg;
    for (;;) {
        struct pollfd p[2] = {{s->listen_fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        _cleanup_close_ int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            serve_one(s, fd);
    }
    return NULL;
}

struct pod_fake_sidecar *pod_fake_sidecar_new(pod_fake_handler handler, void *userdata,
                                              struct kcr_err *err)
{
    struct pod_fake_sidecar *s = xcalloc(1, sizeof(*s));
    s->handler = handler;
    s->userdata = userdata;
    s->listen_fd = s->stop_pipe[0] = s->stop_pipe[1] = -1;
    snprintf(s->dir, sizeof(s->dir), "/tmp/kcr-fake-XXXXXX");
    if (!mkdtemp(s->dir)) {
        kcr_err_set(err, errno, KCR_ERR_INTERNAL, "mkdtemp");
        free(s);
        return NULL;
    }
    snprintf(s->path, sizeof(s->path), "%s/sidecar.sock", s->dir);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, s->path, strlen(s->path) + 1);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(s->listen_fd, 128) < 0 || pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
        kcr_err_set(err, errno, KCR_ERR_INTERNAL, "fake sidecar socket '%s'", s->path);
        return pod_fake_sidecar_free(s);
    }
    if (pthread_create(&s->thread, NULL, serve, s) != 0) {
        kcr_err_set(err, 0, KCR_ERR_INTERNAL, "pthread_create");
        s->stop_pipe[1] = safe_close(s->stop_pipe[1]);
        return pod_fake_sidecar_free(s);
    }
    return s;
}

const char *pod_fake_sidecar_path(const struct pod_fake_sidecar *s)
{
    return s->path;
}

unsigned pod_fake_sidecar_requests(struct pod_fake_sidecar *s)
{
    return atomic_load(&s->requests);
}

struct pod_fake_sidecar *pod_fake_sidecar_free(struct pod_fake_sidecar *s)
{
    if (!s)
        return NULL;
    if (s->stop_pipe[1] >= 0) {
        (void)!write(s->stop_pipe[1], "x", 1);
        pthread_join(s->thread, NULL);
    }
    safe_close(s->listen_fd);
    safe_close(s->stop_pipe[0]);
    safe_close(s->stop_pipe[1]);
    unlink(s->path);
    rmdir(s->dir);
    free(s);
    return NULL;
}

void pod_fake_reply(int fd, int status, const char *content_type, const void *body, size_t len)
{
    _cleanup_free_ char *head =
        xasprintf("HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Connection: close\r\n\r\n",
                  status, content_type ? content_type : "application/json", len);
    if (pod_fake_send(fd, head, strlen(head)) == 0 && len)
        (void)pod_fake_send(fd, body, len);
}

void pod_fake_reply_json(int fd, int status, json_t *j)
{
    _cleanup_free_ char *s = json_dumps(j, JSON_COMPACT);
    pod_fake_reply(fd, status, NULL, s, strlen(s));
    json_decref(j);
}

int pod_fake_send(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        /* MSG_NOSIGNAL: a client that hung up must not SIGPIPE the test. */
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*** Fake backend ***/

struct fake_backend {
    struct kcr_pod_backend super;
    struct pod_fake_sidecar *sidecar;
    pthread_mutex_t mu;
    struct pod_fake_stats stats;
    atomic_int delay_ms;
    atomic_bool fail;
    atomic_int ready_status;
    atomic_uint seq;
    unsigned dead_pods;       /* under mu */
    pod_fake_handler handler; /* under mu */
    void *handler_data;
    char dead_path[108]; /* a socket path nothing listens on */
};

static void fake_handler(const struct pod_fake_request *req, int fd, void *userdata)
{
    struct fake_backend *fb = userdata;
    if (!strcmp(req->method, "GET") && !strcmp(req->path, "/ready")) {
        int st = atomic_load(&fb->ready_status);
        pod_fake_reply(fd, st, NULL, st == 200 ? "{\"ready\":true}" : "{\"ready\":false}",
                       st == 200 ? 14 : 15);
        return;
    }
    pthread_mutex_lock(&fb->mu);
    pod_fake_handler h = fb->handler;
    void *data = fb->handler_data;
    pthread_mutex_unlock(&fb->mu);
    if (h)
        h(req, fd, data);
    else
        pod_fake_reply(fd, 404, NULL, "{\"error\":\"not found\"}", 21);
}

static struct kcr_pod *fake_create(struct kcr_pod_backend *be, const struct kcr_lang *lang,
                                   struct kcr_err *err)
{
    struct fake_backend *fb = (struct fake_backend *)be;
    int delay = atomic_load(&fb->delay_ms);
    if (delay > 0)
        sleep_ms(delay);
    if (atomic_load(&fb->fail)) {
        pthread_mutex_lock(&fb->mu);
        fb->stats.failures++;
        pthread_mutex_unlock(&fb->mu);
        kcr_err_set(err, ENOENT, KCR_ERR_UNAVAILABLE, "fake: runtime missing for '%s'", lang->code);
        return NULL;
    }
    struct kcr_pod *pod = xcalloc(1, sizeof(*pod));
    snprintf(pod->id, sizeof(pod->id), "fake-%s-%u", lang->code, atomic_fetch_add(&fb->seq, 1));
    pod->lang = lang;
    pod->base_url = xstrdup("http://localhost");
    pthread_mutex_lock(&fb->mu);
    bool dead = fb->dead_pods > 0;
    if (dead)
        fb->dead_pods--;
    pod->unix_socket = xstrdup(dead ? fb->dead_path : pod_fake_sidecar_path(fb->sidecar));
    fb->stats.creates++;
    fb->stats.live++;
    pthread_mutex_unlock(&fb->mu);
    return pod;
}

/* Lite pods: py only, like the local backend's. */
static bool fake_has_lite(struct kcr_pod_backend *be, const struct kcr_lang *lang)
{
    (void)be;
    return !strcmp(lang->code, "py");
}

static struct kcr_pod *fake_create_lite(struct kcr_pod_backend *be, const struct kcr_lang *lang,
                                        struct kcr_err *err)
{
    struct kcr_pod *pod = fake_create(be, lang, err);
    if (pod)
        pod->lite = true;
    return pod;
}

static void fake_destroy(struct kcr_pod_backend *be, struct kcr_pod *pod)
{
    struct fake_backend *fb = (struct fake_backend *)be;
    if (!pod)
        return;
    pthread_mutex_lock(&fb->mu);
    fb->stats.destroys++;
    fb->stats.live--;
    pthread_mutex_unlock(&fb->mu);
    free(pod->unix_socket);
    free(pod->base_url);
    free(pod);
}

static json_t *fake_health(struct kcr_pod_backend *be)
{
    (void)be;
    return json_pack("{s:s, s:s}", "status", "healthy", "backend", "fake");
}

static void fake_free(struct kcr_pod_backend *be)
{
    struct fake_backend *fb = (struct fake_backend *)be;
    if (!fb)
        return;
    pod_fake_sidecar_free(fb->sidecar);
    pthread_mutex_destroy(&fb->mu);
    free(fb);
}

static const struct kcr_pod_ops fake_ops = {
    .name = "fake",
    .create = fake_create,
    .has_lite = fake_has_lite,
    .create_lite = fake_create_lite,
    .destroy = fake_destroy,
    .health = fake_health,
    .free = fake_free,
};

struct kcr_pod_backend *pod_fake_new(struct kcr_err *err)
{
    struct fake_backend *fb = xcalloc(1, sizeof(*fb));
    fb->super.ops = &fake_ops;
    pthread_mutex_init(&fb->mu, NULL);
    atomic_init(&fb->ready_status, 200);
    fb->sidecar = pod_fake_sidecar_new(fake_handler, fb, err);
    if (!fb->sidecar) {
        fake_free(&fb->super);
        return NULL;
    }
    /* Next to the live socket, in the sidecar's private directory. */
    snprintf(fb->dead_path, sizeof(fb->dead_path), "%s/dead.sock", fb->sidecar->dir);
    return &fb->super;
}

void pod_fake_set_create_delay(struct kcr_pod_backend *be, int ms)
{
    atomic_store(&((struct fake_backend *)be)->delay_ms, ms);
}

void pod_fake_set_fail(struct kcr_pod_backend *be, bool fail)
{
    atomic_store(&((struct fake_backend *)be)->fail, fail);
}

void pod_fake_set_ready_status(struct kcr_pod_backend *be, int status)
{
    atomic_store(&((struct fake_backend *)be)->ready_status, status);
}

void pod_fake_set_handler(struct kcr_pod_backend *be, pod_fake_handler handler, void *userdata)
{
    struct fake_backend *fb = (struct fake_backend *)be;
    pthread_mutex_lock(&fb->mu);
    fb->handler = handler;
    fb->handler_data = userdata;
    pthread_mutex_unlock(&fb->mu);
}

void pod_fake_set_dead_pods(struct kcr_pod_backend *be, unsigned n)
{
    struct fake_backend *fb = (struct fake_backend *)be;
    pthread_mutex_lock(&fb->mu);
    fb->dead_pods = n;
    pthread_mutex_unlock(&fb->mu);
}

void pod_fake_get_stats(struct kcr_pod_backend *be, struct pod_fake_stats *ret)
{
    struct fake_backend *fb = (struct fake_backend *)be;
    pthread_mutex_lock(&fb->mu);
    *ret = fb->stats;
    pthread_mutex_unlock(&fb->mu);
}
