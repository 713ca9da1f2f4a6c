/* admission — the global cap on executions that hold a pod at once
 * (MAX_CONCURRENT_EXECUTIONS). Past the cap a request waits its turn for a
 * bounded time (EXEC_QUEUE_TIMEOUT_SECONDS), then fails with KCR_ERR_BUSY
 * (503 with Retry-After): a burst can make callers wait, never make the
 * machine run more sandboxes than its memory and cores hold. */
#pragma once

#include "common/err.h"

struct kcr_admission;

/* max slots (>= 1); wait_ms: how long enter() may wait for one (0 = not). */
struct kcr_admission *admission_new(long max, long wait_ms);
struct kcr_admission *admission_free(struct kcr_admission *a);

/* Takes a slot, waiting for one at most wait_ms. KCR_ERR_BUSY when none
 * came free in time. A NULL gate admits everything. */
int admission_enter(struct kcr_admission *a, struct kcr_err *err);
void admission_leave(struct kcr_admission *a);

/* Slots in use and requests waiting now; the count refused so far. */
struct kcr_admission_stats {
    long max, running, waiting;
    unsigned long long refused;
};
void admission_stats(struct kcr_admission *a, struct kcr_admission_stats *ret);

/* The default cap: four executions per online CPU, and no more than three
 * quarters of the machine's memory holds at mem_mb each; at least 1. */
long admission_default_max(long mem_mb);
