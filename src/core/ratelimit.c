#include "core/ratelimit.h"

#include <stdio.h>

#define WINDOW_MS 60000

const char *ratelimit_class_name(enum kcr_rate_class cls)
{
    switch (cls) {
    case KCR_RATE_EXEC:
        return "exec";
    case KCR_RATE_UPLOAD:
        return "upload";
    case KCR_RATE_DOWNLOAD:
        return "download";
    }
    return "?";
}

static int64_t pick(const struct kcr_rate_limits *l, enum kcr_rate_class cls)
{
    switch (cls) {
    case KCR_RATE_EXEC:
        return l->exec;
    case KCR_RATE_UPLOAD:
        return l->upload;
    case KCR_RATE_DOWNLOAD:
        return l->download;
    }
    return 0;
}

int64_t ratelimit_limit(const struct kcr_core *c, const struct kcr_principal *p,
                        enum kcr_rate_class cls)
{
    int64_t own = pick(&p->limits, cls);
    return own >= 0 ? own : pick(&c->cfg->rate_limits, cls);
}

static void counter_key(char *key, size_t size, const struct kcr_principal *p,
                        enum kcr_rate_class cls)
{
    snprintf(key, size, "%s|%s", ratelimit_class_name(cls), p->id);
}

int ratelimit_hit(struct kcr_core *c, const struct kcr_principal *p, enum kcr_rate_class cls,
                  int64_t now_ms, struct kcr_rate_state *ret, struct kcr_err *err)
{
    *ret = (struct kcr_rate_state){.limit = ratelimit_limit(c, p, cls), .cls = cls};
    if (ret->limit <= 0)
        return 0;
    int64_t window = now_ms - now_ms % WINDOW_MS, count = 0;
    char key[KCR_OWNER_MAX + 16];
    counter_key(key, sizeof(key), p, cls);
    /* Kept one window longer than needed: a replica whose clock is a little
     * behind still finds the counter. */
    if (c->meta->ops->rate_hit(c->meta, key, window, window + 2 * WINDOW_MS, &count, err) < 0) {
        ret->limit = 0;
        return -1;
    }
    ret->counted = true;
    ret->window_ms = window;
    ret->remaining = count >= ret->limit ? 0 : ret->limit - count;
    ret->reset_s = (window + WINDOW_MS - now_ms + 999) / 1000;
    ret->limited = count > ret->limit;
    return 0;
}

int ratelimit_undo(struct kcr_core *c, const struct kcr_principal *p, struct kcr_rate_state *st,
                   struct kcr_err *err)
{
    if (!st->counted)
        return 0;
    char key[KCR_OWNER_MAX + 16];
    counter_key(key, sizeof(key), p, st->cls);
    st->counted = false;
    return c->meta->ops->rate_undo(c->meta, key, st->window_ms, err);
}
