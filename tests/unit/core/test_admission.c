/* core/admission: the execution slots and their bounded wait. */
#include "core/admission.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_full_gate_refuses_after_the_wait(void **state)
{
    (void)state;
    struct kcr_admission *a = admission_new(2, 100);
    struct kcr_err err = {0};
    assert_int_equal(admission_enter(a, &err), 0);
    assert_int_equal(admission_enter(a, &err), 0);
    double t = now_ms();
    assert_int_equal(admission_enter(a, &err), -1);
    assert_true(now_ms() - t >= 95);
    assert_int_equal(err.kind, KCR_ERR_BUSY);
    struct kcr_admission_stats st;
    admission_stats(a, &st);
    assert_int_equal(st.max, 2);
    assert_int_equal(st.running, 2);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.refused, 1);
    admission_leave(a);
    assert_int_equal(admission_enter(a, &err), 0);
    admission_leave(a);
    admission_leave(a);
    admission_stats(a, &st);
    assert_int_equal(st.running, 0);
    admission_free(a);
}

static void *leave_later(void *arg)
{
    usleep(100 * 1000);
    admission_leave(arg);
    return NULL;
}

static void test_waiter_gets_the_freed_slot(void **state)
{
    (void)state;
    struct kcr_admission *a = admission_new(1, 5000);
    assert_int_equal(admission_enter(a, NULL), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, leave_later, a), 0);
    double t = now_ms();
    assert_int_equal(admission_enter(a, NULL), 0);
    double waited = now_ms() - t;
    assert_true(waited >= 50 && waited < 4000);
    pthread_join(th, NULL);
    admission_leave(a);
    admission_free(a);
}

static void test_no_gate_and_defaults(void **state)
{
    (void)state;
    assert_int_equal(admission_enter(NULL, NULL), 0);
    admission_leave(NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(admission_default_max(512) >= 1);
    assert_true(admission_default_max(512) <= 4 * cpus);
    /* A per-execution memory larger than the machine still gives one slot. */
    assert_int_equal(admission_default_max(1L << 40), 1);
    struct kcr_admission *a = admission_new(0, -1);
    struct kcr_admission_stats st;
    admission_stats(a, &st);
    assert_int_equal(st.max, 1);
    admission_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_gate_refuses_after_the_wait),
        cmocka_unit_test(test_waiter_gets_the_freed_slot),
        cmocka_unit_test(test_no_gate_and_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
