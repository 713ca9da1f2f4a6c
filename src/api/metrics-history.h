/* metrics-history — the last hour of executions, in fixed ring buffers, for
 * the operator dashboard (GET /api/v1/admin/metrics/history, docs/dashboard.md).
 *
 * It is fed by metrics_record_exec (api/metrics.h), the call that counts every
 * execution for /metrics, under the same lock: one source of truth. The
 * structure is plain data of a fixed size (about 100 KB), with no lock of its
 * own; its owner serialises every call. Recording is O(1) and allocates
 * nothing; the history is only read (and sorted) when somebody asks for it.
 *
 *   - 60 per-minute slots (slot = minute % 60, stamped with its minute, so a
 *     stale slot is cleared when its minute comes round again): executions by
 *     language and outcome, and a latency histogram (buckets growing by 10%,
 *     from 1 ms) from which p50/p95/p99 are read;
 *   - a ring of the last 256 executions (language, outcome, duration, request
 *     id, when: never code), from which the slowest of the last hour are read. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/id.h"

#define METRICS_HISTORY_MINUTES  60
#define METRICS_HISTORY_LANGS    32
#define METRICS_HISTORY_OUTCOMES 5
#define METRICS_HISTORY_BUCKETS  160
#define METRICS_HISTORY_RECENT   256
#define METRICS_HISTORY_SLOWEST  20
#define METRICS_HISTORY_GROWTH   1.1

/* The outcomes of an execution, in the order of the counters (the last one,
 * "error", also takes anything unknown). /metrics uses the same table. */
extern const char *const metrics_outcomes[METRICS_HISTORY_OUTCOMES];

struct metrics_minute {
    int64_t minute; /* minutes since the epoch this slot holds; 0 = never used */
    uint32_t exec[METRICS_HISTORY_LANGS][METRICS_HISTORY_OUTCOMES];
    uint32_t latency[METRICS_HISTORY_BUCKETS];
    uint32_t count;
    double min_ms, max_ms;
};

struct metrics_exec {
    int64_t at_ms; /* wall clock, when it ended; 0 = empty */
    double ms;
    uint8_t lang, outcome;
    char request_id[KCR_ID_LEN + 1];
};

struct kcr_metrics_history {
    struct metrics_minute minutes[METRICS_HISTORY_MINUTES];
    struct metrics_exec recent[METRICS_HISTORY_RECENT];
    size_t next; /* the slot of recent[] the next execution takes */
};

/* Records one execution that ended at now_ms (wall clock) and took ms: lang
 * is its index in lang_all(), outcome in metrics_outcomes (out of range:
 * ignored). request_id may be NULL. */
void metrics_history_record(struct kcr_metrics_history *h, int64_t now_ms, unsigned lang,
                            unsigned outcome, double ms, const char *request_id);

/* The latency bucket of ms, and the upper bound of bucket b in ms (bucket 0
 * holds up to 1 ms, bucket b up to GROWTH^b, the last one everything above). */
size_t metrics_history_bucket(double ms);
double metrics_history_bucket_upper(size_t b);

/* The q-quantile (0 < q <= 1, nearest rank) of a latency histogram of total
 * samples, clamped to [min_ms, max_ms] (the exact extremes); 0 when empty. */
double metrics_history_percentile(const uint64_t *latency, uint64_t total, double q, double min_ms,
                                  double max_ms);

/* The history as seen at now_ms (owned by the caller):
 *   {"now_ms", "minutes": [60 × {"t" (the minute's start, ms), "count",
 *     "outcomes": {outcome: n}, "languages": {lang: {outcome: n}} (non-zero only),
 *     "p50_ms", "p95_ms", "p99_ms" (null when count is 0)}], oldest first,
 *    "hour": {"count", "p50_ms", "p95_ms", "p99_ms", "outcomes", "languages"},
 *    "slowest": [≤ 20 × {"language", "outcome", "duration_ms", "request_id",
 *     "at"}], slowest first, of the recent executions that ended in the last hour} */
json_t *metrics_history_json(const struct kcr_metrics_history *h, int64_t now_ms);
