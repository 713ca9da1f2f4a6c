/* rlimit — lowering resource limits for user code.
 *
 * Limits are only ever lowered: kcr may run without CAP_SYS_RESOURCE (the CI
 * machine and many Kubernetes pods), where raising a hard limit fails. */
#pragma once

#include <stdbool.h>
#include <sys/resource.h>

struct kcr_rlimits {
    rlim_t cpu_s;  /* RLIMIT_CPU seconds; 0 = keep */
    rlim_t fsize;  /* RLIMIT_FSIZE bytes; 0 = keep */
    rlim_t nofile; /* RLIMIT_NOFILE; 0 = keep */
    rlim_t nproc;  /* RLIMIT_NPROC (counted per uid and user namespace); 0 = keep */
};

/* Sets soft and hard limit of resource to min(value, current hard). Returns 0 or -errno. */
int rlimit_lower(int resource, rlim_t value);

/* Whether this kernel counts RLIMIT_NPROC per user namespace (5.14's
 * ucounts): a limit set in a namespace of the program's own then bounds its
 * own processes. Before, the count is of every process of the uid on the
 * machine (every sandbox's, every sidecar thread's), where a limit would
 * fail innocent forks and bound nothing per sandbox. Async-signal-safe. */
bool rlimit_nproc_per_userns(void);

/* Applies the non-zero limits of lim and always RLIMIT_CORE = 0 (no core dumps
 * of user code in the shared directory). Async-signal-safe. Returns 0 or -errno. */
int rlimit_apply(const struct kcr_rlimits *lim);
