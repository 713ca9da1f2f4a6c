#include "api/metrics.h"
#include "core/ptc.h"
#include "api/context.h"
#include "api/metrics-history.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/lang.h"
#include "common/time.h"
#include "common/xalloc.h"

#include <pthread.h>
#include <string.h>

#define MAX_LANGS METRICS_HISTORY_LANGS
#define outcomes  metrics_outcomes
#define NOUTCOMES METRICS_HISTORY_OUTCOMES
static const double buckets[] = {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
/* HTTP statuses tracked one by one; anything else counts under its class. */
static const int statuses[] = {200, 201, 204, 304, 400, 401, 403, 404,
                               405, 413, 415, 422, 429, 500, 503, 504};
#define NSTATUSES (sizeof(statuses) / sizeof(statuses[0]))

struct kcr_metrics {
    pthread_mutex_t lock;
    unsigned long long exec[MAX_LANGS][NOUTCOMES];
    unsigned long long hist[MAX_LANGS][NBUCKETS];
    unsigned long long count[MAX_LANGS];
    double sum[MAX_LANGS];
    unsigned long long requests[NSTATUSES + 1];
    /* The last hour, for the dashboard: fed by the same calls, under the same lock. */
    struct kcr_metrics_history history;
};

struct kcr_metrics *metrics_new(void)
{
    struct kcr_metrics *m = xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

struct kcr_metrics *metrics_free(struct kcr_metrics *m)
{
    if (m) {
        pthread_mutex_destroy(&m->lock);
        free(m);
    }
    return NULL;
}

static int lang_index(const char *code)
{
    size_t n = 0;
    const struct kcr_lang *all = lang_all(&n);
    const struct kcr_lang *l = lang_find(code);
    return l && (size_t)(l - all) < MAX_LANGS ? (int)(l - all) : -1;
}

void metrics_record_exec(struct kcr_metrics *m, const char *lang, const char *outcome,
                         double seconds, const char *request_id)
{
    int64_t now = time_wall_ms();
    int li = lang_index(lang);
    size_t oi = NOUTCOMES - 1;
    for (size_t i = 0; i < NOUTCOMES; i++)
        if (!strcmp(outcome, outcomes[i]))
            oi = i;
    if (li < 0)
        return;
    pthread_mutex_lock(&m->lock);
    m->exec[li][oi]++;
    for (size_t b = 0; b < NBUCKETS; b++)
        if (seconds <= buckets[b])
            m->hist[li][b]++;
    m->count[li]++;
    m->sum[li] += seconds;
    metrics_history_record(&m->history, now, (unsigned)li, (unsigned)oi, seconds * 1000.0,
                           request_id);
    pthread_mutex_unlock(&m->lock);
}

json_t *metrics_history(struct kcr_metrics *m)
{
    size_t n = 0;
    const struct kcr_lang *all = lang_all(&n);
    /* A copy taken under the lock (a memcpy), the JSON built after it: an
     * execution never waits for a page being drawn. */
    _cleanup_free_ struct kcr_metrics_history *h = xmalloc(sizeof(*h));
    unsigned long long exec[MAX_LANGS][NOUTCOMES];
    pthread_mutex_lock(&m->lock);
    *h = m->history;
    memcpy(exec, m->exec, sizeof(exec));
    pthread_mutex_unlock(&m->lock);
    json_t *doc = metrics_history_json(h, time_wall_ms());
    json_t *totals = json_object();
    for (size_t l = 0; l < n && l < MAX_LANGS; l++) {
        json_t *by = json_object();
        for (size_t o = 0; o < NOUTCOMES; o++)
            json_object_set_new(by, outcomes[o], json_integer((json_int_t)exec[l][o]));
        json_object_set_new(totals, all[l].code, by);
    }
    json_object_set_new(doc, "totals", totals);
    return doc;
}

void metrics_record_request(struct kcr_metrics *m, int status)
{
    size_t i = 0;
    while (i < NSTATUSES && statuses[i] != status)
        i++;
    pthread_mutex_lock(&m->lock);
    m->requests[i]++;
    pthread_mutex_unlock(&m->lock);
}

static void render_exec(struct kcr_metrics *m, struct kcr_buf *b)
{
    size_t n = 0;
    const struct kcr_lang *all = lang_all(&n);
    buf_printf(b, "# HELP kcr_executions_total Executions by language and outcome.\n"
                  "# TYPE kcr_executions_total counter\n");
    for (size_t l = 0; l < n && l < MAX_LANGS; l++)
        for (size_t o = 0; o < NOUTCOMES; o++)
            buf_printf(b, "kcr_executions_total{language=\"%s\",outcome=\"%s\"} %llu\n",
                       all[l].code, outcomes[o], m->exec[l][o]);
    buf_printf(b, "# HELP kcr_execution_duration_seconds End-to-end /exec latency.\n"
                  "# TYPE kcr_execution_duration_seconds histogram\n");
    for (size_t l = 0; l < n && l < MAX_LANGS; l++) {
        for (size_t k = 0; k < NBUCKETS; k++)
            buf_printf(b, "kcr_execution_duration_seconds_bucket{language=\"%s\",le=\"%g\"} %llu\n",
                       all[l].code, buckets[k], m->hist[l][k]);
        buf_printf(b, "kcr_execution_duration_seconds_bucket{language=\"%s\",le=\"+Inf\"} %llu\n",
                   all[l].code, m->count[l]);
        buf_printf(b, "kcr_execution_duration_seconds_sum{language=\"%s\"} %.6f\n", all[l].code,
                   m->sum[l]);
        buf_printf(b, "kcr_execution_duration_seconds_count{language=\"%s\"} %llu\n", all[l].code,
                   m->count[l]);
    }
}

static void render_requests(struct kcr_metrics *m, struct kcr_buf *b)
{
    buf_printf(b, "# HELP kcr_http_responses_total HTTP responses by status.\n"
                  "# TYPE kcr_http_responses_total counter\n");
    for (size_t i = 0; i < NSTATUSES; i++)
        buf_printf(b, "kcr_http_responses_total{status=\"%d\"} %llu\n", statuses[i],
                   m->requests[i]);
    buf_printf(b, "kcr_http_responses_total{status=\"other\"} %llu\n", m->requests[NSTATUSES]);
}

static void render_pool(struct kcr_core *c, struct kcr_buf *b)
{
    buf_printf(b, "# HELP kcr_pool_pods Warm pool pods by language and state.\n"
                  "# TYPE kcr_pool_pods gauge\n");
    json_t *stats = core_pool_stats(c);
    const char *lang;
    json_t *v;
    json_object_foreach(stats, lang, v)
    {
        const char *state;
        json_t *num;
        json_object_foreach(v, state, num) if (json_is_integer(num))
            buf_printf(b, "kcr_pool_pods{language=\"%s\",state=\"%s\"} %lld\n", lang, state,
                       (long long)json_integer_value(num));
        /* Its lite pods (pod/pod.h), where it has them. */
        json_object_foreach(json_object_get(v, "lite"), state, num) if (json_is_integer(num))
            buf_printf(b, "kcr_pool_pods{language=\"%s\",kind=\"lite\",state=\"%s\"} %lld\n", lang,
                       state, (long long)json_integer_value(num));
    }
    json_decref(stats);
}

static void render_admission(struct kcr_admission *a, struct kcr_buf *b)
{
    struct kcr_admission_stats st;
    admission_stats(a, &st);
    buf_printf(b,
               "# HELP kcr_exec_slots Execution slots (MAX_CONCURRENT_EXECUTIONS) by state.\n"
               "# TYPE kcr_exec_slots gauge\n"
               "kcr_exec_slots{state=\"max\"} %ld\n"
               "kcr_exec_slots{state=\"running\"} %ld\n"
               "kcr_exec_slots{state=\"waiting\"} %ld\n"
               "# HELP kcr_exec_refused_total Executions refused after the queue wait.\n"
               "# TYPE kcr_exec_refused_total counter\n"
               "kcr_exec_refused_total %llu\n",
               st.max, st.running, st.waiting, st.refused);
}

static void render_ptc(struct kcr_ptc *p, struct kcr_buf *b)
{
    struct kcr_ptc_stats st;
    ptc_stats(p, &st);
    buf_printf(b,
               "# HELP kcr_ptc_runs Programmatic runs in progress by state.\n"
               "# TYPE kcr_ptc_runs gauge\n"
               "kcr_ptc_runs{state=\"running\"} %ld\n"
               "kcr_ptc_runs{state=\"paused\"} %ld\n"
               "kcr_ptc_runs{state=\"max\"} %ld\n"
               "# HELP kcr_ptc_paused_runs Programmatic runs waiting for their client's tools.\n"
               "# TYPE kcr_ptc_paused_runs gauge\n"
               "kcr_ptc_paused_runs %ld\n"
               "# HELP kcr_ptc_round_trips_total Tool-call round trips handed to clients.\n"
               "# TYPE kcr_ptc_round_trips_total counter\n"
               "kcr_ptc_round_trips_total %llu\n"
               "# HELP kcr_ptc_expired_total Paused runs ended by "
               "PTC_CONTINUATION_TIMEOUT_SECONDS.\n"
               "# TYPE kcr_ptc_expired_total counter\n"
               "kcr_ptc_expired_total %llu\n",
               st.running, st.paused, st.max_runs, st.paused, (unsigned long long)st.round_trips,
               (unsigned long long)st.expired);
}

struct kcr_http_resp *metrics_handle(struct kcr_http_req *req, void *ctx)
{
    (void)req;
    struct kcr_api *api = ctx;
    struct kcr_buf b;
    buf_init(&b, 0);
    pthread_mutex_lock(&api->metrics->lock);
    render_exec(api->metrics, &b);
    render_requests(api->metrics, &b);
    pthread_mutex_unlock(&api->metrics->lock);
    render_pool(&api->core, &b);
    render_admission(api->core.admission, &b);
    render_ptc(api->core.ptc, &b);
    buf_printf(&b,
               "# HELP kcr_uptime_seconds Seconds since kcr serve started.\n"
               "# TYPE kcr_uptime_seconds gauge\n"
               "kcr_uptime_seconds %.3f\n",
               (double)(time_wall_ms() - api->started_ms) / 1000.0);
    size_t len = 0;
    char *data = buf_take(&b, &len);
    return http_resp_data(200, "text/plain; version=0.0.4; charset=utf-8", data, len);
}
