/* context — what every handler of `kcr serve` gets as its ctx pointer. */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#include "core/core.h"

struct kcr_auth;
struct kcr_metrics;

struct kcr_api {
    struct kcr_core core;
    struct kcr_auth *auth;
    struct kcr_metrics *metrics;
    int64_t started_ms;
    const char *version;
    atomic_int inflight; /* /exec requests running (graceful shutdown waits for 0) */
};
