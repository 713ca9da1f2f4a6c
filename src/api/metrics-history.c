#include "api/metrics-history.h"
#include "common/lang.h"
#include "common/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_MS (60 * 1000)
#define HOUR_MS   (60 * MINUTE_MS)

const char *const metrics_outcomes[METRICS_HISTORY_OUTCOMES] = {"completed", "failed", "timeout",
                                                                "oom", "error"};

/*** Latency buckets ***/

static double upper[METRICS_HISTORY_BUCKETS];
static pthread_once_t upper_once = PTHREAD_ONCE_INIT;

static void upper_init(void)
{
    upper[0] = 1.0;
    for (size_t b = 1; b < METRICS_HISTORY_BUCKETS; b++)
        upper[b] = upper[b - 1] * METRICS_HISTORY_GROWTH;
}

double metrics_history_bucket_upper(size_t b)
{
    pthread_once(&upper_once, upper_init);
    return upper[b < METRICS_HISTORY_BUCKETS ? b : METRICS_HISTORY_BUCKETS - 1];
}

size_t metrics_history_bucket(double ms)
{
    pthread_once(&upper_once, upper_init);
    /* The first bucket whose upper bound is >= ms (binary search). */
    size_t lo = 0, hi = METRICS_HISTORY_BUCKETS - 1;
    if (!(ms > upper[0])) /* also NaN */
        return 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (upper[mid] >= ms)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

double metrics_history_percentile(const uint64_t *latency, uint64_t total, double q, double min_ms,
                                  double max_ms)
{
    if (total == 0)
        return 0;
    /* Nearest rank: the smallest value with at least ceil(q * total) samples
     * at or below it. */
    double exact = q * (double)total;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > total)
        rank = total;
    uint64_t seen = 0;
    size_t b = 0;
    for (; b < METRICS_HISTORY_BUCKETS - 1; b++) {
        seen += latency[b];
        if (seen >= rank)
            break;
    }
    double v = metrics_history_bucket_upper(b);
    if (v > max_ms)
        v = max_ms;
    if (v < min_ms)
        v = min_ms;
    return v;
}

/*** Recording ***/

void metrics_history_record(struct kcr_metrics_history *h, int64_t now_ms, unsigned lang,
                            unsigned outcome, double ms, const char *request_id)
{
    if (lang >= METRICS_HISTORY_LANGS || outcome >= METRICS_HISTORY_OUTCOMES || now_ms <= 0)
        return;
    if (!(ms >= 0)) /* negative or NaN */
        ms = 0;
    int64_t minute = now_ms / MINUTE_MS;
    struct metrics_minute *m = &h->minutes[minute % METRICS_HISTORY_MINUTES];
    if (m->minute != minute) {
        memset(m, 0, sizeof(*m));
        m->minute = minute;
    }
    m->exec[lang][outcome]++;
    m->latency[metrics_history_bucket(ms)]++;
    if (m->count == 0 || ms < m->min_ms)
        m->min_ms = ms;
    if (m->count == 0 || ms > m->max_ms)
        m->max_ms = ms;
    m->count++;

    struct metrics_exec *e = &h->recent[h->next];
    h->next = (h->next + 1) % METRICS_HISTORY_RECENT;
    *e = (struct metrics_exec){
        .at_ms = now_ms, .ms = ms, .lang = (uint8_t)lang, .outcome = (uint8_t)outcome};
    snprintf(e->request_id, sizeof(e->request_id), "%s", request_id ? request_id : "");
}

/*** Reading ***/

/* What a span of minutes adds up to. */
struct totals {
    uint64_t exec[METRICS_HISTORY_LANGS][METRICS_HISTORY_OUTCOMES];
    uint64_t latency[METRICS_HISTORY_BUCKETS];
    uint64_t count;
    double min_ms, max_ms;
};

static void totals_add(struct totals *t, const struct metrics_minute *m)
{
    if (m->count == 0)
        return;
    for (size_t l = 0; l < METRICS_HISTORY_LANGS; l++)
        for (size_t o = 0; o < METRICS_HISTORY_OUTCOMES; o++)
            t->exec[l][o] += m->exec[l][o];
    for (size_t b = 0; b < METRICS_HISTORY_BUCKETS; b++)
        t->latency[b] += m->latency[b];
    if (t->count == 0 || m->min_ms < t->min_ms)
        t->min_ms = m->min_ms;
    if (t->count == 0 || m->max_ms > t->max_ms)
        t->max_ms = m->max_ms;
    t->count += m->count;
}

static json_t *quantile(const struct totals *t, double q)
{
    if (t->count == 0)
        return json_null();
    return json_real(metrics_history_percentile(t->latency, t->count, q, t->min_ms, t->max_ms));
}

/* {"count", "p50_ms", "p95_ms", "p99_ms", "outcomes", "languages"} of t. */
static json_t *totals_json(const struct totals *t)
{
    size_t nlangs = 0;
    const struct kcr_lang *langs = lang_all(&nlangs);
    json_t *outcomes = json_object(), *languages = json_object();
    for (size_t o = 0; o < METRICS_HISTORY_OUTCOMES; o++) {
        uint64_t n = 0;
        for (size_t l = 0; l < METRICS_HISTORY_LANGS; l++)
            n += t->exec[l][o];
        json_object_set_new(outcomes, metrics_outcomes[o], json_integer((json_int_t)n));
    }
    for (size_t l = 0; l < nlangs && l < METRICS_HISTORY_LANGS; l++) {
        json_t *by = NULL;
        for (size_t o = 0; o < METRICS_HISTORY_OUTCOMES; o++) {
            if (!t->exec[l][o])
                continue;
            if (!by)
                by = json_object();
            json_object_set_new(by, metrics_outcomes[o], json_integer((json_int_t)t->exec[l][o]));
        }
        if (by)
            json_object_set_new(languages, langs[l].code, by);
    }
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o}", "count", (json_int_t)t->count, "p50_ms",
                     quantile(t, 0.50), "p95_ms", quantile(t, 0.95), "p99_ms", quantile(t, 0.99),
                     "outcomes", outcomes, "languages", languages);
}

static int slower_first(const void *a, const void *b)
{
    const struct metrics_exec *x = a, *y = b;
    return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : (x->at_ms < y->at_ms) - (x->at_ms > y->at_ms);
}

static json_t *slowest_json(const struct kcr_metrics_history *h, int64_t now_ms)
{
    size_t nlangs = 0;
    const struct kcr_lang *langs = lang_all(&nlangs);
    struct metrics_exec *v = xmalloc(sizeof(h->recent));
    json_t *arr = json_array();
    size_t n = 0;
    for (size_t i = 0; i < METRICS_HISTORY_RECENT; i++)
        if (h->recent[i].at_ms > 0 && h->recent[i].at_ms > now_ms - HOUR_MS)
            v[n++] = h->recent[i];
    qsort(v, n, sizeof(*v), slower_first);
    for (size_t i = 0; i < n && i < METRICS_HISTORY_SLOWEST; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:f,s:s,s:I}", "language",
                                             v[i].lang < nlangs ? langs[v[i].lang].code : "?",
                                             "outcome", metrics_outcomes[v[i].outcome],
                                             "duration_ms", v[i].ms, "request_id", v[i].request_id,
                                             "at_ms", (json_int_t)v[i].at_ms));
    free(v);
    return arr;
}

json_t *metrics_history_json(const struct kcr_metrics_history *h, int64_t now_ms)
{
    int64_t now_min = now_ms / MINUTE_MS;
    json_t *minutes = json_array();
    struct totals *hour = xcalloc(1, sizeof(*hour));
    struct totals *one = xmalloc(sizeof(*one));
    for (int64_t k = METRICS_HISTORY_MINUTES - 1; k >= 0; k--) {
        int64_t minute = now_min - k;
        const struct metrics_minute *m = &h->minutes[minute % METRICS_HISTORY_MINUTES];
        memset(one, 0, sizeof(*one));
        if (minute >= 0 && m->minute == minute) {
            totals_add(one, m);
            totals_add(hour, m);
        }
        json_t *j = totals_json(one);
        json_object_set_new(j, "t", json_integer((json_int_t)(minute * MINUTE_MS)));
        json_array_append_new(minutes, j);
    }
    json_t *doc = json_pack("{s:I,s:o,s:o,s:o}", "now_ms", (json_int_t)now_ms, "minutes", minutes,
                            "hour", totals_json(hour), "slowest", slowest_json(h, now_ms));
    free(hour);
    free(one);
    return doc;
}
