/* time — the clocks kcr reads, in one place. */
#pragma once

#include <stdint.h>

/* Monotonic milliseconds: for deadlines, timeouts and durations. */
int64_t time_mono_ms(void);

/* Monotonic milliseconds with their fraction: for timing stages. */
double time_mono_ms_f(void);

/* Wall-clock milliseconds since the epoch: for timestamps that are stored or
 * shown (sessions, files, expiries). */
int64_t time_wall_ms(void);
