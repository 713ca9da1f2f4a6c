#include "common/config.h"
#include "common/limits.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>

const char *config_str(const char *name, const char *def)
{
    const char *v = getenv(name);
    return (v && *v) ? v : def;
}

int config_long(const char *name, long def, long min, long max, long *ret, struct kcr_err *err)
{
    const char *v = config_str(name, NULL);
    if (!v) {
        *ret = def;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0')
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "%s: '%s' is not an integer", name, v);
    if (n < min || n > max)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "%s: %ld is outside %ld..%ld", name, n, min,
                           max);
    *ret = n;
    return 0;
}

int config_bool(const char *name, bool def, bool *ret, struct kcr_err *err)
{
    const char *v = config_str(name, NULL);
    if (!v) {
        *ret = def;
        return 0;
    }
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on")) {
        *ret = true;
        return 0;
    }
    if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
        !strcasecmp(v, "off")) {
        *ret = false;
        return 0;
    }
    return kcr_err_set(err, 0, KCR_ERR_INVALID, "%s: '%s' is not a boolean", name, v);
}

int config_max_exec_time(long *ret, struct kcr_err *err)
{
    return config_long("MAX_EXECUTION_TIME", KCR_DEFAULT_EXEC_SECONDS, 1, KCR_MAX_EXEC_SECONDS, ret,
                       err);
}
