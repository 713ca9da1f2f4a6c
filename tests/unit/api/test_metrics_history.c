/* Unit tests for api/metrics-history.c, the dashboard's last hour: the
 * latency buckets and the percentiles read from them, the per-minute ring
 * (a slot is reused when its minute comes round again, minutes older than an
 * hour are gone), the ring of recent executions and the slowest of them, and
 * the JSON document the dashboard reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/metrics-history.h"
#include "common/lang.h"

#define MINUTE (60 * 1000)
/* A fixed wall-clock time (2024-01-01T00:00:00Z), in the middle of a minute. */
#define T0 (1704067200000LL + 30 * 1000)

static unsigned lang_of(const char *code)
{
    size_t n = 0;
    const struct kcr_lang *all = lang_all(&n);
    return (unsigned)(lang_find(code) - all);
}

static struct kcr_metrics_history *new_history(void)
{
    struct kcr_metrics_history *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    return h;
}

static void test_buckets(void **state)
{
    (void)state;
    assert_int_equal(metrics_history_bucket(0), 0);
    assert_int_equal(metrics_history_bucket(-5), 0);
    assert_int_equal(metrics_history_bucket(1.0), 0);
    assert_int_equal(metrics_history_bucket(1.05), 1);
    assert_true(metrics_history_bucket_upper(0) == 1.0);
    /* Every value lies in (upper(b-1), upper(b)], and the bounds grow by 10%. */
    for (double v = 1.01; v < 1e6; v *= 1.037) {
        size_t b = metrics_history_bucket(v);
        assert_true(b > 0 && b < METRICS_HISTORY_BUCKETS - 1);
        assert_true(metrics_history_bucket_upper(b) >= v);
        assert_true(metrics_history_bucket_upper(b - 1) < v);
        assert_true(metrics_history_bucket_upper(b) <= v * METRICS_HISTORY_GROWTH * 1.000001);
    }
    /* Past the last bound: the last bucket. */
    assert_int_equal(metrics_history_bucket(1e12), METRICS_HISTORY_BUCKETS - 1);
}

static void test_percentiles(void **state)
{
    (void)state;
    uint64_t hist[METRICS_HISTORY_BUCKETS] = {0};
    assert_true(metrics_history_percentile(hist, 0, 0.5, 0, 0) == 0);
    /* One sample: every percentile is that sample, exactly (the clamp). */
    hist[metrics_history_bucket(123.4)]++;
    assert_true(metrics_history_percentile(hist, 1, 0.5, 123.4, 123.4) == 123.4);
    assert_true(metrics_history_percentile(hist, 1, 0.99, 123.4, 123.4) == 123.4);
    /* 1..1000 ms: each percentile within one bucket (10%) above the exact value. */
    memset(hist, 0, sizeof(hist));
    for (int i = 1; i <= 1000; i++)
        hist[metrics_history_bucket(i)]++;
    static const double qs[] = {0.5, 0.95, 0.99};
    for (size_t i = 0; i < 3; i++) {
        double exact = qs[i] * 1000, got = metrics_history_percentile(hist, 1000, qs[i], 1, 1000);
        assert_true(got >= exact && got <= exact * METRICS_HISTORY_GROWTH);
    }
    assert_true(metrics_history_percentile(hist, 1000, 1.0, 1, 1000) == 1000);
    /* 99 fast and 1 slow: p50 and p95 fast, p99 fast too, the max slow. */
    memset(hist, 0, sizeof(hist));
    for (int i = 0; i < 99; i++)
        hist[metrics_history_bucket(10)]++;
    hist[metrics_history_bucket(5000)]++;
    assert_true(metrics_history_percentile(hist, 100, 0.99, 10, 5000) <= 11);
    assert_true(metrics_history_percentile(hist, 100, 1.0, 10, 5000) == 5000);
}

/* The minute entry of doc whose start is t, or NULL. */
static json_t *minute_at(json_t *doc, int64_t t)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "minutes"), i, m)
    {
        if (json_integer_value(json_object_get(m, "t")) == t)
            return m;
    }
    return NULL;
}

static json_int_t count_of(json_t *obj)
{
    return json_integer_value(json_object_get(obj, "count"));
}

static void test_minute_ring(void **state)
{
    (void)state;
    struct kcr_metrics_history *h = new_history();
    unsigned py = lang_of("py"), bash = lang_of("bash");
    metrics_history_record(h, T0, py, 0, 100, "req-a");
    metrics_history_record(h, T0 + 1000, py, 1, 200, "req-b");
    metrics_history_record(h, T0 + MINUTE, bash, 2, 3000, "req-c");
    /* Out of range: ignored. */
    metrics_history_record(h, T0, METRICS_HISTORY_LANGS, 0, 1, NULL);
    metrics_history_record(h, T0, py, METRICS_HISTORY_OUTCOMES, 1, NULL);

    json_t *doc = metrics_history_json(h, T0 + MINUTE);
    assert_int_equal(json_array_size(json_object_get(doc, "minutes")), METRICS_HISTORY_MINUTES);
    int64_t start = (T0 / MINUTE) * MINUTE;
    json_t *last = json_array_get(json_object_get(doc, "minutes"), METRICS_HISTORY_MINUTES - 1);
    assert_int_equal(json_integer_value(json_object_get(last, "t")), start + MINUTE);
    json_t *m0 = minute_at(doc, start);
    assert_non_null(m0);
    assert_int_equal(count_of(m0), 2);
    json_t *langs = json_object_get(m0, "languages");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(langs, "py"), "completed")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(langs, "py"), "failed")),
                     1);
    assert_null(json_object_get(langs, "bash"));
    /* p50 is the first sample's bucket (at most 10% above it), p99 the max. */
    double p50 = json_real_value(json_object_get(m0, "p50_ms"));
    assert_true(p50 >= 100 && p50 <= 110);
    assert_true(json_real_value(json_object_get(m0, "p99_ms")) == 200);
    assert_int_equal(count_of(last), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(last, "outcomes"), "timeout")), 1);
    /* An empty minute: zero and null percentiles. */
    json_t *empty = json_array_get(json_object_get(doc, "minutes"), 0);
    assert_int_equal(count_of(empty), 0);
    assert_true(json_is_null(json_object_get(empty, "p50_ms")));
    json_t *hour = json_object_get(doc, "hour");
    assert_int_equal(count_of(hour), 3);
    assert_true(json_real_value(json_object_get(hour, "p99_ms")) == 3000);
    json_decref(doc);

    /* 59 minutes later the first minute is still the oldest; at 60 it is gone. */
    doc = metrics_history_json(h, T0 + 59 * MINUTE);
    assert_int_equal(count_of(minute_at(doc, start)), 2);
    assert_int_equal(count_of(json_object_get(doc, "hour")), 3);
    json_decref(doc);
    doc = metrics_history_json(h, T0 + 60 * MINUTE);
    assert_null(minute_at(doc, start));
    assert_int_equal(count_of(json_object_get(doc, "hour")), 1);
    json_decref(doc);

    /* Its slot comes round again: the old counts are cleared, not added to. */
    metrics_history_record(h, T0 + 60 * MINUTE, py, 0, 50, "req-d");
    doc = metrics_history_json(h, T0 + 60 * MINUTE);
    assert_int_equal(count_of(minute_at(doc, start + 60 * MINUTE)), 1);
    assert_int_equal(count_of(json_object_get(doc, "hour")), 2);
    json_decref(doc);
    /* Hours later, nothing is left in the hour. */
    doc = metrics_history_json(h, T0 + 5 * 60 * MINUTE);
    assert_int_equal(count_of(json_object_get(doc, "hour")), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "slowest")), 0);
    json_decref(doc);
    free(h);
}

static void test_slowest(void **state)
{
    (void)state;
    struct kcr_metrics_history *h = new_history();
    unsigned py = lang_of("py");
    /* An old slow one, then more than the ring holds. */
    metrics_history_record(h, T0 - 2 * 60 * MINUTE, py, 0, 99999, "old");
    char id[32];
    for (int i = 0; i < METRICS_HISTORY_RECENT + 44; i++) {
        snprintf(id, sizeof(id), "req-%d", i);
        metrics_history_record(h, T0 + i, py, (unsigned)(i % METRICS_HISTORY_OUTCOMES), i, id);
    }
    json_t *doc = metrics_history_json(h, T0 + 1000);
    json_t *slowest = json_object_get(doc, "slowest");
    assert_int_equal(json_array_size(slowest), METRICS_HISTORY_SLOWEST);
    int last = METRICS_HISTORY_RECENT + 43;
    for (size_t i = 0; i < json_array_size(slowest); i++) {
        json_t *e = json_array_get(slowest, i);
        snprintf(id, sizeof(id), "req-%d", last - (int)i);
        assert_string_equal(json_string_value(json_object_get(e, "request_id")), id);
        assert_string_equal(json_string_value(json_object_get(e, "language")), "py");
        assert_true(json_real_value(json_object_get(e, "duration_ms")) == last - (int)i);
        assert_string_equal(json_string_value(json_object_get(e, "outcome")),
                            metrics_outcomes[(last - i) % METRICS_HISTORY_OUTCOMES]);
        assert_int_equal(json_integer_value(json_object_get(e, "at_ms")), T0 + last - (int)i);
        assert_null(json_object_get(e, "code"));
    }
    json_decref(doc);
    /* A slow one that ended more than an hour ago is not among them. */
    struct kcr_metrics_history *h2 = new_history();
    metrics_history_record(h2, T0 - 2 * 60 * MINUTE, py, 0, 99999, "old");
    metrics_history_record(h2, T0, py, 0, 5, "new");
    doc = metrics_history_json(h2, T0);
    slowest = json_object_get(doc, "slowest");
    assert_int_equal(json_array_size(slowest), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(slowest, 0), "request_id")), "new");
    json_decref(doc);
    free(h2);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_minute_ring),
        cmocka_unit_test(test_slowest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
