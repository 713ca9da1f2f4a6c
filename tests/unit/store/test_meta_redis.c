/* Unit tests for store/meta-redis.c against a real redis-server started here
 * on a free loopback port (--save '' --appendonly no, in a temporary
 * directory): the metadata contract of meta-cases.h, as the sqlite store
 * passes it, each case under its own key prefix; then two instances as two
 * replicas, racing counters and creations, key prefix isolation, a paused
 * (SIGSTOP) and a restarted server, wrong settings, corrupt records written
 * behind the store's back, and TLS with a CA made by the openssl CLI.
 * Skipped, naming redis-server, when it is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/time.h"
#include "fakes/tmpdir.h"
#include "store/meta-redis.h"

#include "meta-cases.h"

static char dir[TMPDIR_SIZE];
static bool have_redis;
static pid_t server = -1;
static int port;
static char prefix[64];
static int case_no;

/*** The server ***/

static bool on_path(const char *name)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int p)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)p),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* redis-server with args (NULL-terminated) after the common ones, its output
 * in dir/<name>.log; waits until p accepts. -1 when it exited instead. */
static pid_t start_server(const char *name, int p, const char *const *args)
{
    const char *argv[40] = {
        "redis-server", "--bind", "127.0.0.1", "--save",      "",  "--appendonly",
        "no",           "--dir",  dir,         "--daemonize", "no"};
    int n = 11;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", p);
    bool tls = false;
    for (int i = 0; args && args[i]; i++)
        tls |= strcmp(args[i], "--tls-port") == 0;
    if (!tls) {
        argv[n++] = "--port";
        argv[n++] = portstr;
    }
    for (int i = 0; args && args[i]; i++)
        argv[n++] = args[i];
    char log[128];
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        if (port_open(p))
            return pid;
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return -1;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void stop_server(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGCONT);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static int group_setup(void **state)
{
    (void)state;
    tmpdir_new(dir, "redis");
    have_redis = on_path("redis-server");
    if (!have_redis)
        return 0;
    port = free_port();
    server = start_server("main", port, NULL);
    assert_true(server > 0);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    stop_server(server);
    tmpdir_remove(dir);
    return 0;
}

static void require_redis(void)
{
    if (!have_redis) {
        print_message("redis-server is not installed (deps/test.txt): skipped\n");
        skip();
    }
}

/* Each case on an empty store: its own key prefix on the one server. */
static int setup(void **state)
{
    (void)state;
    snprintf(prefix, sizeof(prefix), "kcr-test-%d-%d:", (int)getpid(), ++case_no);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return 0;
}

static struct kcr_redis_config base_config(void)
{
    return (struct kcr_redis_config){.host = "127.0.0.1",
                                     .port = port,
                                     .key_prefix = prefix,
                                     .tls_verify = true,
                                     .socket_timeout_ms = 2000,
                                     .max_connections = 4};
}

static struct kcr_meta *open_cfg(const struct kcr_redis_config *cfg)
{
    struct kcr_err err = {0};
    struct kcr_meta *m = meta_redis_open(cfg, &err);
    if (!m)
        fail_msg("meta_redis_open: %s", err.msg);
    return m;
}

static struct kcr_meta *open_meta(void)
{
    require_redis();
    struct kcr_redis_config cfg = base_config();
    return open_cfg(&cfg);
}

/*** Replicas and races ***/

/* What one instance writes the other reads, updates and deletes. */
static void test_two_replicas(void **state)
{
    (void)state;
    struct kcr_meta *a = open_meta(), *b = open_meta();
    struct kcr_session s = mk_session("SessionR0123456789abc", "key:a", "ent", 10, 0);
    assert_int_equal(a->ops->session_create(a, &s, NULL), 0);
    struct kcr_file_meta f = mk_file(s.id, "FileR0123456789abcdef", "r.txt", 5, 11);
    assert_int_equal(a->ops->file_put(a, &f, NULL), 0);
    struct kcr_key_meta k = {.hash = "ff", .prefix = "sk-f", .name = "f", .enabled = true};
    assert_int_equal(a->ops->key_add(a, &k, NULL), 0);

    char id[KCR_ID_LEN + 1];
    assert_int_equal(b->ops->session_by_entity(b, "key:a", "ent", 20, id, NULL), 0);
    assert_string_equal(id, s.id);
    struct kcr_file_meta g;
    assert_int_equal(b->ops->file_get(b, s.id, f.id, &g, NULL), 0);
    assert_string_equal(g.name, "r.txt");
    assert_int_equal(b->ops->key_set_enabled(b, "ff", false, NULL), 0);
    struct kcr_key_meta gk;
    assert_int_equal(a->ops->key_get(a, "ff", &gk, NULL), 0);
    assert_false(gk.enabled);
    assert_int_equal(b->ops->session_delete(b, s.id, NULL), 0);
    struct kcr_err err = {0};
    assert_int_equal(a->ops->file_get(a, s.id, f.id, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    meta_free(a);
    meta_free(b);
}

#define RACERS 6
#define HITS   100

struct racer {
    struct kcr_meta *m;
    int64_t counts[HITS];
    int ok, errors;
};

static void *race_hits(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < HITS; i++)
        if (r->m->ops->rate_hit(r->m, "exec|key:r", 60000, 180000, &r->counts[i], NULL) < 0)
            r->errors++;
    return NULL;
}

/* Threads on two instances hitting one counter each get their own count:
 * together exactly 1..RACERS*HITS. */
static void test_rate_race_distinct(void **state)
{
    (void)state;
    struct kcr_meta *a = open_meta(), *b = open_meta();
    static struct racer r[RACERS];
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){.m = i % 2 ? a : b};
        assert_int_equal(pthread_create(&t[i], NULL, race_hits, &r[i]), 0);
    }
    static bool seen[RACERS * HITS + 1];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].errors, 0);
        for (int j = 0; j < HITS; j++) {
            int64_t c = r[i].counts[j];
            assert_true(c >= 1 && c <= RACERS * HITS);
            assert_false(seen[c]);
            seen[c] = true;
        }
    }
    meta_free(a);
    meta_free(b);
}

static void *race_create(void *arg)
{
    struct racer *r = arg;
    struct kcr_session s = mk_session("SessionW0123456789abc", "key:a", "ent", 10, 0);
    struct kcr_err err = {0};
    if (r->m->ops->session_create(r->m, &s, &err) == 0)
        r->ok++;
    else if (err.kind != KCR_ERR_INVALID)
        r->errors++;
    return NULL;
}

/* Replicas racing to create one session: exactly one wins, the others are
 * told it exists; the entity then finds it. */
static void test_session_create_race(void **state)
{
    (void)state;
    struct kcr_meta *a = open_meta(), *b = open_meta();
    static struct racer r[RACERS];
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){.m = i % 2 ? a : b};
        assert_int_equal(pthread_create(&t[i], NULL, race_create, &r[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].errors, 0);
        ok += r[i].ok;
    }
    assert_int_equal(ok, 1);
    char id[KCR_ID_LEN + 1];
    assert_int_equal(a->ops->session_by_entity(a, "key:a", "ent", 20, id, NULL), 0);
    assert_string_equal(id, "SessionW0123456789abc");
    meta_free(a);
    meta_free(b);
}

/* Two prefixes on one server never see each other's records. */
static void test_prefix_isolation(void **state)
{
    (void)state;
    struct kcr_meta *a = open_meta();
    char other[80];
    snprintf(other, sizeof(other), "%sother:", prefix);
    struct kcr_redis_config cfg = base_config();
    cfg.key_prefix = other;
    struct kcr_meta *b = open_cfg(&cfg);
    struct kcr_session s = mk_session("SessionP0123456789abc", "key:a", "ent", 10, 0);
    assert_int_equal(a->ops->session_create(a, &s, NULL), 0);
    /* The same id under the other prefix is another session. */
    assert_int_equal(b->ops->session_create(b, &s, NULL), 0);
    struct kcr_key_meta k = {.hash = "aa", .prefix = "sk-a", .name = "a", .enabled = true};
    assert_int_equal(a->ops->key_add(a, &k, NULL), 0);
    struct kcr_err err = {0};
    struct kcr_key_meta gk;
    assert_int_equal(b->ops->key_get(b, "aa", &gk, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    int64_t n = 0;
    assert_int_equal(a->ops->rate_hit(a, "x", 60000, 120000, &n, NULL), 0);
    assert_int_equal(b->ops->rate_hit(b, "x", 60000, 120000, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(b->ops->session_delete(b, s.id, NULL), 0);
    struct kcr_session g;
    assert_int_equal(a->ops->session_get(a, s.id, 20, &g, NULL), 0);
    meta_free(a);
    meta_free(b);
}

/*** Faults ***/

/* A paused server: calls fail with UNAVAILABLE within the timeout (plus
 * slack), never hang, and after the first at once; once it runs again calls
 * succeed within a second and what was acknowledged before is there. */
static void test_paused_server(void **state)
{
    (void)state;
    require_redis();
    struct kcr_redis_config cfg = base_config();
    cfg.socket_timeout_ms = 300;
    cfg.max_connections = 2;
    struct kcr_meta *m = open_cfg(&cfg);
    struct kcr_session s = mk_session("SessionS0123456789abc", "key:a", "ent", 10, 0);
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    assert_int_equal(kill(server, SIGSTOP), 0);
    for (int i = 0; i < 3; i++) {
        struct kcr_err err = {0};
        int64_t t0 = time_mono_ms();
        struct kcr_session g;
        assert_int_equal(m->ops->session_get(m, s.id, 20, &g, &err), -1);
        int64_t took = time_mono_ms() - t0;
        assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
        assert_true(took < 300 + 700);
        /* After one call ran out the timeout, the next ones fail at once: a
         * request of several calls answers within one timeout. */
        if (i > 0)
            assert_true(took < 250);
    }
    /* A new instance cannot start against it either, within the timeout. */
    struct kcr_err err = {0};
    int64_t t0 = time_mono_ms();
    assert_null(meta_redis_open(&cfg, &err));
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    assert_true(time_mono_ms() - t0 < 300 + 700);
    assert_int_equal(kill(server, SIGCONT), 0);
    /* Recovery by itself, once the short fail-fast window has passed. */
    struct kcr_session g;
    int rc = -1;
    for (int i = 0; i < 60 && rc < 0; i++) {
        rc = m->ops->session_get(m, s.id, 20, &g, NULL);
        if (rc < 0)
            usleep(50 * 1000);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(g.entity_id, "ent");
    assert_int_equal(m->ops->ping(m, NULL), 0);
    meta_free(m);
}

/* A server killed: calls fail with UNAVAILABLE; restarted on its port, the
 * same instance reconnects by itself. */
static void test_restarted_server(void **state)
{
    (void)state;
    require_redis();
    struct kcr_redis_config cfg = base_config();
    cfg.socket_timeout_ms = 500;
    struct kcr_meta *m = open_cfg(&cfg);
    assert_int_equal(m->ops->ping(m, NULL), 0);
    stop_server(server);
    server = -1;
    struct kcr_err err = {0};
    assert_int_equal(m->ops->ping(m, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    server = start_server("main", port, NULL);
    assert_true(server > 0);
    assert_int_equal(m->ops->ping(m, NULL), 0);
    int64_t n = 0;
    assert_int_equal(m->ops->rate_hit(m, "after", 60000, 120000, &n, NULL), 0);
    assert_int_equal(n, 1);
    meta_free(m);
}

/* Wrong settings fail at open: a wrong or missing password and a db the
 * server does not have with INVALID, a closed port with UNAVAILABLE. */
static void test_wrong_settings(void **state)
{
    (void)state;
    require_redis();
    int p = free_port();
    const char *const args[] = {"--requirepass", "s3cret", NULL};
    pid_t pw = start_server("auth", p, args);
    assert_true(pw > 0);
    struct kcr_redis_config cfg = base_config();
    cfg.port = p;
    struct kcr_err err = {0};
    assert_null(meta_redis_open(&cfg, &err));
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    cfg.password = "wrong";
    assert_null(meta_redis_open(&cfg, &err));
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "AUTH"));
    cfg.password = "s3cret";
    struct kcr_meta *m = open_cfg(&cfg);
    assert_int_equal(m->ops->ping(m, NULL), 0);
    meta_free(m);
    cfg.username = "default";
    m = open_cfg(&cfg);
    meta_free(m);
    stop_server(pw);

    cfg = base_config();
    cfg.db = 99;
    assert_null(meta_redis_open(&cfg, &err));
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "SELECT"));
    cfg.db = 3;
    m = open_cfg(&cfg);
    meta_free(m);
    cfg = base_config();
    cfg.port = free_port();
    assert_null(meta_redis_open(&cfg, &err));
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    /* A name, resolved in the lookup's own thread (::1 may come first and
     * be refused: the next address is tried). */
    cfg = base_config();
    cfg.host = "localhost";
    m = open_cfg(&cfg);
    assert_int_equal(m->ops->ping(m, NULL), 0);
    meta_free(m);
}

/* In a child with network and mount namespaces of its own: a name server on
 * 127.0.0.1 that never answers (a bound UDP socket nobody reads) and a
 * resolv.conf naming it, whose bounds (4 s a try, two tries) are far past
 * REDIS_SOCKET_TIMEOUT. Exit status 0: the open failed as a resolve error
 * within the timeout; 77: the namespaces cannot be made here. */
static int slow_resolver_child(void)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return 77;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return 77;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return 77;
    struct sockaddr_in ns = {
        .sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s, (struct sockaddr *)&ns, sizeof(ns)) < 0)
        return 77;
    char conf[TMPDIR_SIZE + 32];
    snprintf(conf, sizeof(conf), "%s/resolv.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return 77;
    fputs("nameserver 127.0.0.1\noptions timeout:4 attempts:2\n", f);
    fclose(f);
    if (mount(conf, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
        return 77;
    struct kcr_redis_config cfg = base_config();
    cfg.host = "redis.kcr-resolver-test";
    cfg.socket_timeout_ms = 1000;
    struct kcr_err err = {0};
    int64_t t0 = time_mono_ms();
    struct kcr_meta *m = meta_redis_open(&cfg, &err);
    int64_t took = time_mono_ms() - t0;
    if (m)
        return 1;
    if (err.kind != KCR_ERR_UNAVAILABLE || !strstr(err.msg, "resolve"))
        return 2;
    return took < 2500 ? 0 : 3;
}

static void test_resolver_bounded_by_socket_timeout(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(slow_resolver_child());
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77) {
        print_message("skipped: no network/mount namespace here\n");
        skip();
    }
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* One command sent on a plain socket, behind the store's back: the reply
 * is read and dropped. */
static void raw_command(int argc, const char *const *argv, const size_t *lens)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    FILE *f = fdopen(fd, "r+");
    fprintf(f, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        fprintf(f, "$%zu\r\n", lens[i]);
        fwrite(argv[i], 1, lens[i], f);
        fputs("\r\n", f);
    }
    fflush(f);
    char line[256];
    assert_non_null(fgets(line, sizeof(line), f));
    assert_true(line[0] != '-');
    fclose(f);
}

static void raw_hset(const char *key, const char *field, const char *value, size_t len)
{
    const char *argv[] = {"HSET", key, field, value};
    size_t lens[] = {4, strlen(key), strlen(field), len};
    raw_command(4, argv, lens);
}

/* Records corrupted behind the store's back (a field longer than its
 * buffer, larger than any string may be, a number that is not one, a NUL)
 * fail with UNAVAILABLE, never overflow or crash. */
static void test_corrupt_records(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct kcr_session s = mk_session("SessionC0123456789abc", "key:a", "ent", 10, 0);
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    char key[160];
    snprintf(key, sizeof(key), "%ss:%s", prefix, s.id);
    size_t big = 2u << 20;
    char *v = malloc(big);
    memset(v, 'x', big);
    struct kcr_err err = {0};
    struct kcr_session g;
    raw_hset(key, "entity", v, 48); /* the buffer is 48 with its NUL */
    assert_int_equal(m->ops->session_get(m, s.id, 20, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    raw_hset(key, "entity", v, big); /* over the reply bounds */
    assert_int_equal(m->ops->session_get(m, s.id, 20, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    raw_hset(key, "entity", "ent", 3);
    assert_int_equal(m->ops->session_get(m, s.id, 20, &g, NULL), 0);
    raw_hset(key, "created", "12x", 3);
    assert_int_equal(m->ops->session_get(m, s.id, 20, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    raw_hset(key, "created", "10", 2);
    raw_hset(key, "user", "a\0b", 3);
    assert_int_equal(m->ops->session_get(m, s.id, 20, &g, &err), -1);
    raw_hset(key, "user", "", 0);
    assert_int_equal(m->ops->session_get(m, s.id, 20, &g, NULL), 0);

    struct kcr_file_meta f = mk_file(s.id, "FileC0123456789abcdef", "c", 1, 1);
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
    snprintf(key, sizeof(key), "%sf:%zu:%s%s", prefix, strlen(s.id), s.id, f.id);
    raw_hset(key, "name", v, 4096);
    struct kcr_file_meta gf;
    assert_int_equal(m->ops->file_get(m, s.id, f.id, &gf, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    struct kcr_file_meta *list = NULL;
    size_t n = 0;
    assert_int_equal(m->ops->file_list(m, s.id, &list, &n, &err), -1);
    assert_null(list);
    raw_hset(key, "name", v, 4095);
    assert_int_equal(m->ops->file_get(m, s.id, f.id, &gf, NULL), 0);
    assert_int_equal(strlen(gf.name), 4095);
    free(v);
    /* The connection that read the oversized reply was replaced. */
    assert_int_equal(m->ops->ping(m, NULL), 0);
    meta_free(m);
}

/* A continuation record expires as a Redis key at its own expiry (not a day
 * later, as sessions do: nothing sweeps after it), and a replica field past
 * its buffer is corruption, not an overflow. */
static void test_continuation_expires_in_redis(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    int64_t now = time_wall_ms();
    struct kcr_cont_meta c = mk_cont("k1", "key:a", "http://10.0.0.5:8000", now, now + 200);
    assert_int_equal(m->ops->cont_put(m, &c, NULL), 0);
    struct kcr_cont_meta g;
    struct kcr_err err = {0};
    assert_int_equal(m->ops->cont_get(m, "k1", 0, &g, NULL), 0);
    usleep(500 * 1000);
    assert_int_equal(m->ops->cont_get(m, "k1", 0, &g, &err), -1); /* Redis dropped it */
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);

    c = mk_cont("k2", "key:a", "http://10.0.0.5:8000", now, now + 60000);
    assert_int_equal(m->ops->cont_put(m, &c, NULL), 0);
    char key[160], v[KCR_REPLICA_URL_MAX + 1];
    snprintf(key, sizeof(key), "%sc:k2", prefix);
    memset(v, 'x', sizeof(v));
    raw_hset(key, "replica", v, sizeof(v));
    assert_int_equal(m->ops->cont_get(m, "k2", now, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    meta_free(m);
}

/* A fake server on a loopback port that answers whatever it reads with
 * reply, on one connection. */
struct hostile {
    int lfd, port;
    const char *reply;
};

static void *hostile_serve(void *arg)
{
    struct hostile *h = arg;
    int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
    char buf[4096];
    while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
        if (send(fd, h->reply, strlen(h->reply), MSG_NOSIGNAL) < 0)
            break;
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* Replies that announce more than the bounds (an array of 2^31 elements, a
 * string of 2 GB, nesting past hiredis's depth) fail with UNAVAILABLE
 * within the timeout, without allocating what they announce. */
static void test_hostile_replies(void **state)
{
    (void)state;
    static const char *const replies[] = {"*2000000000\r\n", "$2000000000\r\n",
                                          "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n",
                                          "+OK\r\n:x\r\n", "garbage\r\n"};
    for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
        struct hostile h = {.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
                            .reply = replies[i]};
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        assert_int_equal(bind(h.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(h.lfd, 4), 0);
        assert_int_equal(getsockname(h.lfd, (struct sockaddr *)&a, &len), 0);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, hostile_serve, &h), 0);
        struct kcr_redis_config cfg = {.host = "127.0.0.1",
                                       .port = ntohs(a.sin_port),
                                       .socket_timeout_ms = 300,
                                       .max_connections = 1};
        struct kcr_err err = {0};
        int64_t t0 = time_mono_ms();
        assert_null(meta_redis_open(&cfg, &err));
        assert_true(time_mono_ms() - t0 < 1000);
        if (err.kind != KCR_ERR_UNAVAILABLE && err.kind != KCR_ERR_INVALID)
            fail_msg("reply %zu: %s", i, err.msg);
        pthread_join(t, NULL);
        close(h.lfd);
    }
}

/*** TLS ***/

static void sh(const char *cmd)
{
    char full[2048];
    snprintf(full, sizeof(full), "cd %s && (%s) >>openssl.log 2>&1", dir, cmd);
    if (system(full) != 0)
        fail_msg("failed: %s (see %s/openssl.log)", cmd, dir);
}

/* A CA, a server certificate for 127.0.0.1 and localhost signed by it, and
 * another CA that signed nothing of this server. */
static void make_certs(void)
{
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kcr-test-ca "
       "-keyout ca.key -out ca.pem");
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kcr-other-ca "
       "-keyout other.key -out other.pem");
    sh("openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key "
       "-out server.csr");
    sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
       "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
       "-extfile san.ext -out server.pem");
    sh("openssl req -newkey rsa:2048 -nodes -subj /CN=kcr-client -keyout client.key "
       "-out client.csr && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
       "-CAcreateserial -days 2 -out client.pem");
}

/* A server that wants client certificates: refused without one, served with
 * the one its CA signed. */
static void tls_client_cert(const char *cert, const char *key, const char *ca)
{
    int p = free_port();
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", p);
    const char *const args[] = {"--port",
                                "0",
                                "--tls-port",
                                portstr,
                                "--tls-cert-file",
                                cert,
                                "--tls-key-file",
                                key,
                                "--tls-ca-cert-file",
                                ca,
                                "--tls-auth-clients",
                                "yes",
                                NULL};
    pid_t srv = start_server("tls-clients", p, args);
    assert_true(srv > 0);
    struct kcr_redis_config cfg = base_config();
    cfg.port = p;
    cfg.tls = true;
    cfg.tls_ca = ca;
    struct kcr_err err = {0};
    assert_null(meta_redis_open(&cfg, &err));
    char ccert[128], ckey[128];
    snprintf(ccert, sizeof(ccert), "%s/client.pem", dir);
    snprintf(ckey, sizeof(ckey), "%s/client.key", dir);
    cfg.tls_cert = ccert;
    assert_null(meta_redis_open(&cfg, &err)); /* a cert needs its key */
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    cfg.tls_key = ckey;
    struct kcr_meta *m = open_cfg(&cfg);
    assert_int_equal(m->ops->ping(m, NULL), 0);
    meta_free(m);
    stop_server(srv);
}

static void test_tls(void **state)
{
    (void)state;
    require_redis();
    if (!on_path("openssl"))
        skip();
    make_certs();
    int p = free_port();
    char portstr[16], cert[128], key[128], ca[128], other[128];
    snprintf(portstr, sizeof(portstr), "%d", p);
    snprintf(cert, sizeof(cert), "%s/server.pem", dir);
    snprintf(key, sizeof(key), "%s/server.key", dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(other, sizeof(other), "%s/other.pem", dir);
    const char *const args[] = {"--port",
                                "0",
                                "--tls-port",
                                portstr,
                                "--tls-cert-file",
                                cert,
                                "--tls-key-file",
                                key,
                                "--tls-ca-cert-file",
                                ca,
                                "--tls-auth-clients",
                                "no",
                                NULL};
    pid_t tls = start_server("tls", p, args);
    if (tls < 0) {
        print_message("redis-server without TLS support: skipped\n");
        skip();
    }
    struct kcr_redis_config cfg = base_config();
    cfg.port = p;
    cfg.tls = true;
    cfg.tls_ca = ca;
    struct kcr_meta *m = open_cfg(&cfg);
    struct kcr_session s = mk_session("SessionT0123456789abc", "key:a", "ent", 10, 0);
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    struct kcr_session g;
    assert_int_equal(m->ops->session_get(m, s.id, 20, &g, NULL), 0);
    meta_free(m);
    cfg.host = "localhost"; /* checked against the DNS name */
    m = open_cfg(&cfg);
    assert_int_equal(m->ops->ping(m, NULL), 0);
    meta_free(m);

    struct kcr_err err = {0};
    cfg.tls_ca = other;
    assert_null(meta_redis_open(&cfg, &err));
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "certificate"));
    cfg.tls_verify = false; /* REDIS_SSL_CERT_REQS=none */
    m = open_cfg(&cfg);
    meta_free(m);
    /* Plain text to a TLS port gets no answer it can use. */
    cfg = base_config();
    cfg.port = p;
    cfg.socket_timeout_ms = 300;
    assert_null(meta_redis_open(&cfg, &err));
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    stop_server(tls);
    tls_client_cert(cert, key, ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        META_CASES(setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_replicas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_race_distinct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_create_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_continuation_expires_in_redis, setup, teardown),
        cmocka_unit_test(test_hostile_replies),
        cmocka_unit_test_setup_teardown(test_wrong_settings, setup, teardown),
        cmocka_unit_test(test_resolver_bounded_by_socket_timeout),
        cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paused_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restarted_server, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
