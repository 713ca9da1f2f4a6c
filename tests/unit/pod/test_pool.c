/* Unit tests for pod/pool.c on the fake backend (fakes/pod-fake.h): warm
 * filling, acquire/release accounting, contention, on-demand creation,
 * back-off when creation fails, health-check replacement, and freeing with
 * creations in flight. Health checks go over a real unix socket to the fake
 * sidecar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/lang.h"
#include "common/time.h"
#include "fakes/pod-fake.h"
#include "pod/pool.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int lang_index(const char *code)
{
    size_t n;
    const struct kcr_lang *all = lang_all(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(all[i].code, code))
            return (int)i;
    fail_msg("no language %s", code);
    return -1;
}

static struct kcr_pod_backend *fake(void)
{
    struct kcr_err err = {0};
    struct kcr_pod_backend *be = pod_fake_new(&err);
    assert_non_null(be);
    return be;
}

static struct pod_fake_stats stats(struct kcr_pod_backend *be)
{
    struct pod_fake_stats s;
    pod_fake_get_stats(be, &s);
    return s;
}

/* Waits up to ms for the fake's counters to satisfy pred. */
static bool wait_for(struct kcr_pod_backend *be, bool (*pred)(const struct pod_fake_stats *, int),
                     int arg, int ms)
{
    long long end = now_ms() + ms;
    do {
        struct pod_fake_stats s = stats(be);
        if (pred(&s, arg))
            return true;
        sleep_ms(10);
    } while (now_ms() < end);
    return false;
}

static bool creates_at_least(const struct pod_fake_stats *s, int n)
{
    return s->creates >= (unsigned)n;
}

static bool live_is(const struct pod_fake_stats *s, int n)
{
    return s->live == n;
}

static bool destroys_at_least(const struct pod_fake_stats *s, int n)
{
    return s->destroys >= (unsigned)n;
}

static int stat_of(struct kcr_pool *pool, const char *code, const char *key)
{
    json_t *o = pool_stats(pool);
    int v = (int)json_integer_value(json_object_get(json_object_get(o, code), key));
    json_decref(o);
    return v;
}

static int lite_stat_of(struct kcr_pool *pool, const char *code, const char *key)
{
    json_t *o = pool_stats(pool);
    json_t *lite = json_object_get(json_object_get(o, code), "lite");
    int v = lite ? (int)json_integer_value(json_object_get(lite, key)) : -1;
    json_decref(o);
    return v;
}

static struct kcr_pool_config config(int py, int js)
{
    struct kcr_pool_config cfg = {.acquire_wait_ms = 2000, .health_every_s = 30};
    cfg.size[lang_index("py")] = py;
    cfg.size[lang_index("js")] = js;
    return cfg;
}

/*** Tests ***/

static void test_config_from_env(void **state)
{
    (void)state;
    struct kcr_pool_config cfg;
    struct kcr_err err = {0};
    unsetenv("POD_POOL_PY");
    unsetenv("POD_POOL_JS");
    setenv("POD_POOL_F90", "3", 1);
    assert_int_equal(pool_config_from_env(&cfg, &err), 0);
    assert_int_equal(cfg.size[lang_index("py")], 2);
    assert_int_equal(cfg.size[lang_index("js")], 1);
    assert_int_equal(cfg.size[lang_index("go")], 0);
    assert_int_equal(cfg.size[lang_index("f90")], 3);
    assert_int_equal(cfg.lite_size[lang_index("py")], 2);
    assert_int_equal(cfg.lite_size[lang_index("js")], 0);
    assert_int_equal(cfg.acquire_wait_ms, 2000);
    setenv("POD_POOL_PY_LITE", "5", 1);
    assert_int_equal(pool_config_from_env(&cfg, &err), 0);
    assert_int_equal(cfg.lite_size[lang_index("py")], 5);
    assert_int_equal(cfg.size[lang_index("py")], 2);
    setenv("POD_POOL_PY_LITE", "-1", 1);
    assert_int_equal(pool_config_from_env(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "POD_POOL_PY_LITE"));
    unsetenv("POD_POOL_PY_LITE");
    setenv("POD_POOL_PY", "lots", 1);
    assert_int_equal(pool_config_from_env(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "POD_POOL_PY"));
    setenv("POD_POOL_PY", "0", 1);
    assert_int_equal(pool_config_from_env(&cfg, &err), 0);
    assert_int_equal(cfg.size[lang_index("py")], 0);
    unsetenv("POD_POOL_PY");
    unsetenv("POD_POOL_F90");
}

static void test_warm_fill_and_replenish(void **state)
{
    (void)state;
    struct kcr_pod_backend *be = fake();
    struct kcr_pool_config cfg = config(2, 1);
    struct kcr_err err = {0};
    struct kcr_pool *pool = pool_new(be, &cfg, &err);
    assert_non_null(pool);
    assert_true(wait_for(be, creates_at_least, 3, 3000));
    sleep_ms(200); /* nothing beyond the targets */
    assert_int_equal(stats(be).creates, 3);
    assert_int_equal(stat_of(pool, "py", "warm"), 2);
    assert_int_equal(stat_of(pool, "js", "warm"), 1);
    assert_int_equal(stat_of(pool, "go", "target"), 0);

    long long t0 = now_ms();
    struct kcr_pod *pod = pool_acquire(pool, lang_find("py"), false, &err);
    assert_non_null(pod);
    assert_true(now_ms() - t0 < 100); /* warm: no waiting */
    assert_ptr_equal(pod->lang, lang_find("py"));
    assert_int_equal(stat_of(pool, "py", "in_use"), 1);
    assert_true(wait_for(be, creates_at_least, 4, 3000)); /* replenished while in use */
    pool_release(pool, pod);
    assert_true(wait_for(be, destroys_at_least, 1, 3000)); /* single use */
    assert_true(wait_for(be, live_is, 3, 3000));
    assert_int_equal(stat_of(pool, "py", "in_use"), 0);
    pool = pool_free(pool);
    assert_null(pool);
    struct pod_fake_stats s = stats(be);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.creates, s.destroys);
    be->ops->free(be);
}

static void test_on_demand(void **state)
{
    (void)state;
    struct kcr_pod_backend *be = fake();
    struct kcr_pool_config cfg = config(0, 0);
    struct kcr_err err = {0};
    struct kcr_pool *pool = pool_new(be, &cfg, &err);
    sleep_ms(100);
    assert_int_equal(stats(be).creates, 0);
    long long t0 = now_ms();
    struct kcr_pod *pod = pool_acquire(pool, lang_find("c"), false, &err);
    assert_non_null(pod);
    assert_true(now_ms() - t0 < 500); /* no 2 s wait when nothing is warm-pooled */
    assert_int_equal(stats(be).creates, 1);
    pool_release(pool, pod);
    assert_true(wait_for(be, destroys_at_least, 1, 2000));
    sleep_ms(100);
    assert_int_equal(stats(be).creates, 1); /* target 0: no replenishment */
    pool_free(pool);
    be->ops->free(be);
}

struct contention {
    struct kcr_pool *pool;
    int ok, failed;
    pthread_mutex_t mu;
};

static void *contend(void *arg)
{
    struct contention *c = arg;
    for (int i = 0; i < 10; i++) {
        struct kcr_err err = {0};
        struct kcr_pod *pod = pool_acquire(c->pool, lang_find("py"), false, &err);
        pthread_mutex_lock(&c->mu);
        if (pod)
            c->ok++;
        else
            c->failed++;
        pthread_mutex_unlock(&c->mu);
        sleep_ms(2);
        pool_release(c->pool, pod);
    }
    return NULL;
}

static void test_contention(void **state)
{
    (void)state;
    struct kcr_pod_backend *be = fake();
    pod_fake_set_create_delay(be, 15);
    struct kcr_pool_config cfg = config(2, 0);
    cfg.acquire_wait_ms = 100;
    struct kcr_err err = {0};
    struct contention c = {.pool = pool_new(be, &cfg, &err)};
    pthread_mutex_init(&c.mu, NULL);
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, contend, &c), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(c.ok, 80);
    assert_int_equal(c.failed, 0);
    assert_int_equal(stat_of(c.pool, "py", "in_use"), 0);
    /* Every pod handed out is a distinct pod: at least 80 were created. */
    assert_true(stats(be).creates >= 80);
    pool_free(c.pool);
    struct pod_fake_stats s = stats(be);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.creates, s.destroys);
    pthread_mutex_destroy(&c.mu);
    be->ops->free(be);
}

static void *acquire_one(void *arg)
{
    struct contention *c = arg;
    struct kcr_err err = {0};
    struct kcr_pod *pod = pool_acquire(c->pool, lang_find("py"), false, &err);
    pthread_mutex_lock(&c->mu);
    pod ? c->ok++ : c->failed++;
    pthread_mutex_unlock(&c->mu);
    pool_release(c->pool, pod);
    return NULL;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Callers waiting for a warm pod sleep until one comes: they used to wake
 * each other with every broadcast and spin (a futex ping-pong that took ~40%
 * of the CPU with more clients than warm pods). The fake's creations sleep,
 * so the whole wait costs this process next to no CPU. */
static void test_waiters_sleep(void **state)
{
    (void)state;
    struct kcr_pod_backend *be = fake();
    struct kcr_pool_config cfg = config(1, 0);
    cfg.acquire_wait_ms = 5000;
    struct kcr_err err = {0};
    struct contention c = {.pool = pool_new(be, &cfg, &err)};
    pthread_mutex_init(&c.mu, NULL);
    for (int i = 0; i < 200 && stat_of(c.pool, "py", "warm") < 1; i++)
        sleep_ms(10);
    pod_fake_set_create_delay(be, 400);
    double wall0 = (double)time_mono_ms(), cpu0 = cpu_ms();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, acquire_one, &c), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    double wall = (double)time_mono_ms() - wall0, cpu = cpu_ms() - cpu0;
    assert_int_equal(c.ok, 4);
    /* Three of the four waited for pods created one by one or in parallel:
     * at least one creation delay. */
    assert_true(wall >= 400);
    if (cpu > wall * 0.25)
        fail_msg("waiters used %.0f ms of CPU in %.0f ms of waiting", cpu, wall);
    pool_free(c.pool);
    pthread_mutex_destroy(&c.mu);
    be->ops->free(be);
}

static void test_failing_backend_backs_off(void **state)
{
    (void)state;
    struct kcr_pod_backend *be = fake();
    pod_fake_set_fail(be, true);
    struct kcr_pool_config cfg = config(2, 1);
    struct kcr_err err = {0};
    struct kcr_pool *pool = pool_new(be, &cfg, &err);
    sleep_ms(2000);
    /* Without back-off, 4 workers would fail thousands of times in 2 s.
     * With 0.5 s doubling per language: a handful per language. */
    unsigned failures = stats(be).failures;
    assert_true(failures >= 2);
    assert_true(failures <= 14);
    assert_true(stat_of(pool, "py", "failures") >= 1);

    /* In back-off, acquire does not wait: the on-demand create reports the cause. */
    long long t0 = now_ms();
    assert_null(pool_acquire(pool, lang_find("py"), false, &err));
    assert_true(now_ms() - t0 < 500);
    assert_non_null(strstr(err.msg, "runtime missing"));

    /* The runtime comes back: an on-demand create works and resets the back-off,
     * after which the pool fills again. */
    pod_fake_set_fail(be, false);
    struct kcr_pod *pod = pool_acquire(pool, lang_find("py"), false, &err);
    assert_non_null(pod);
    pool_release(pool, pod);
    assert_true(wait_for(be, live_is, 3, 3000));
    pool_free(pool);
    assert_int_equal(stats(be).live, 0);
    be->ops->free(be);
}

static void test_health_check_replaces(void **state)
{
    (void)state;
    struct kcr_pod_backend *be = fake();
    struct kcr_pool_config cfg = config(2, 0);
    cfg.health_every_s = 1;
    struct kcr_err err = {0};
    struct kcr_pool *pool = pool_new(be, &cfg, &err);
    assert_true(wait_for(be, creates_at_least, 2, 2000));
    sleep_ms(1300);
    assert_int_equal(stats(be).destroys, 0); /* healthy pods stay */
    pod_fake_set_ready_status(be, 503);
    assert_true(wait_for(be, destroys_at_least, 2, 3000));
    pod_fake_set_ready_status(be, 200);
    assert_true(wait_for(be, creates_at_least, 4, 3000));
    assert_true(wait_for(be, live_is, 2, 3000));
    pool_free(pool);
    assert_int_equal(stats(be).live, 0);
    be->ops->free(be);
}

static void test_free_with_pods_in_flight(void **state)
{
    (void)state;
    struct kcr_pod_backend *be = fake();
    pod_fake_set_create_delay(be, 300);
    struct kcr_pool_config cfg = config(2, 1);
    struct kcr_err err = {0};
    struct kcr_pool *pool = pool_new(be, &cfg, &err);
    sleep_ms(50); /* creations are now in flight */
    pool_free(pool);
    struct pod_fake_stats s = stats(be);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.creates, s.destroys);

    /* Released pods still waiting for the reaper are destroyed by free. */
    pod_fake_set_create_delay(be, 0);
    pool = pool_new(be, &cfg, &err);
    struct kcr_pod *pods[5];
    for (int i = 0; i < 5; i++)
        assert_non_null(pods[i] = pool_acquire(pool, lang_find("go"), false, &err));
    for (int i = 0; i < 5; i++)
        pool_release(pool, pods[i]);
    pool_free(pool);
    s = stats(be);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.creates, s.destroys);
    be->ops->free(be);
}

/* Lite pods (pod.h) have their own warm pool where the backend makes them;
 * a lite acquire takes one, falls back to an ordinary pod where the language
 * has none, and each pod goes back to the pool it came from. */
static void test_lite_pool(void **state)
{
    (void)state;
    struct kcr_pod_backend *be = fake();
    struct kcr_pool_config cfg = config(1, 0);
    cfg.lite_size[lang_index("py")] = 2;
    cfg.lite_size[lang_index("js")] = 2; /* the fake makes no lite js pods: no pool */
    struct kcr_err err = {0};
    struct kcr_pool *pool = pool_new(be, &cfg, &err);
    assert_non_null(pool);
    assert_true(wait_for(be, creates_at_least, 3, 3000));
    sleep_ms(200);
    assert_int_equal(stats(be).creates, 3);
    assert_int_equal(stat_of(pool, "py", "warm"), 1);
    assert_int_equal(lite_stat_of(pool, "py", "warm"), 2);
    assert_int_equal(lite_stat_of(pool, "py", "target"), 2);
    assert_int_equal(lite_stat_of(pool, "js", "target"), -1);

    struct kcr_pod *a = pool_acquire(pool, lang_find("py"), true, &err);
    struct kcr_pod *b = pool_acquire(pool, lang_find("py"), false, &err);
    struct kcr_pod *c = pool_acquire(pool, lang_find("js"), true, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(a->lite);
    assert_false(b->lite);
    assert_false(c->lite);
    assert_int_equal(lite_stat_of(pool, "py", "in_use"), 1);
    assert_int_equal(stat_of(pool, "py", "in_use"), 1);
    assert_int_equal(stat_of(pool, "js", "in_use"), 1);
    pool_release(pool, a);
    pool_release(pool, b);
    pool_release(pool, c);
    assert_int_equal(lite_stat_of(pool, "py", "in_use"), 0);
    assert_int_equal(stat_of(pool, "py", "in_use"), 0);
    assert_int_equal(stat_of(pool, "js", "in_use"), 0);
    assert_true(wait_for(be, live_is, 3, 3000)); /* refilled: 1 py, 2 lite py */
    assert_int_equal(lite_stat_of(pool, "py", "warm"), 2);
    pool_free(pool);
    assert_int_equal(stats(be).live, 0);
    be->ops->free(be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_from_env),
        cmocka_unit_test(test_warm_fill_and_replenish),
        cmocka_unit_test(test_on_demand),
        cmocka_unit_test(test_contention),
        cmocka_unit_test(test_waiters_sleep),
        cmocka_unit_test(test_failing_backend_backs_off),
        cmocka_unit_test(test_health_check_replaces),
        cmocka_unit_test(test_free_with_pods_in_flight),
        cmocka_unit_test(test_lite_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
