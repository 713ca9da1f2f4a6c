#include "sandbox/rlimit.h"

#include <errno.h>
#include <sys/utsname.h>

int rlimit_lower(int resource, rlim_t value)
{
    struct rlimit cur;
    if (getrlimit(resource, &cur) < 0)
        return -errno;
    if (cur.rlim_max != RLIM_INFINITY && value > cur.rlim_max)
        value = cur.rlim_max;
    struct rlimit next = {.rlim_cur = value, .rlim_max = value};
    if (setrlimit(resource, &next) < 0)
        return -errno;
    return 0;
}

bool rlimit_nproc_per_userns(void)
{
    struct utsname u;
    if (uname(&u) < 0)
        return false;
    unsigned major = 0, minor = 0;
    const char *p = u.release;
    while (*p >= '0' && *p <= '9')
        major = major * 10 + (unsigned)(*p++ - '0');
    if (*p++ != '.')
        return false;
    while (*p >= '0' && *p <= '9')
        minor = minor * 10 + (unsigned)(*p++ - '0');
    return major > 5 || (major == 5 && minor >= 14);
}

int rlimit_apply(const struct kcr_rlimits *lim)
{
    const struct {
        int resource;
        rlim_t value;
    } table[] = {
        {RLIMIT_CPU, lim->cpu_s},
        {RLIMIT_FSIZE, lim->fsize},
        {RLIMIT_NOFILE, lim->nofile},
        {RLIMIT_NPROC, lim->nproc},
    };
    int r;
    for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].value && (r = rlimit_lower(table[i].resource, table[i].value)) < 0)
            return r;
    }
    return rlimit_lower(RLIMIT_CORE, 0);
}
