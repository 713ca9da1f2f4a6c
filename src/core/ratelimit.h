/* ratelimit — requests per minute per principal, for each limited route
 * class (docs/auth.md). Fixed one-minute windows aligned to the clock, so
 * every replica sharing the store counts in the same window; the counters
 * live in the metadata store (meta rate_hit). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "core/core.h"
#include "core/principal.h"

enum kcr_rate_class { KCR_RATE_EXEC, KCR_RATE_UPLOAD, KCR_RATE_DOWNLOAD };

struct kcr_rate_state {
    int64_t limit;     /* per minute; 0 = unlimited (nothing else is set) */
    int64_t remaining; /* requests left in this window after this one */
    int64_t reset_s;   /* seconds until the window ends (1..60) */
    bool limited;      /* this request is over the limit */
    bool counted;      /* this request is in the counter (ratelimit_undo takes it out) */
    enum kcr_rate_class cls;
    int64_t window_ms; /* the window it was counted in */
};

/* "exec", "upload", "download". */
const char *ratelimit_class_name(enum kcr_rate_class cls);

/* The limit of p for cls: a managed key's own, else the configured one. */
int64_t ratelimit_limit(const struct kcr_core *c, const struct kcr_principal *p,
                        enum kcr_rate_class cls);

/* Counts one request of p in cls at now_ms and fills ret. A store failure is
 * an error (the caller decides; kcr serve lets the request through). */
int ratelimit_hit(struct kcr_core *c, const struct kcr_principal *p, enum kcr_rate_class cls,
                  int64_t now_ms, struct kcr_rate_state *ret, struct kcr_err *err);

/* Takes p's request counted in st out of its counter again: it is served,
 * and counted, by another replica (a forwarded continuation counts once).
 * st->counted becomes false; nothing happens when it was not counted. */
int ratelimit_undo(struct kcr_core *c, const struct kcr_principal *p, struct kcr_rate_state *st,
                   struct kcr_err *err);
