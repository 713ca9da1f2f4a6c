/* config — reading settings from the environment.
 *
 * Each helper reads one variable, applies the default when it is unset or
 * empty, and fails with a message naming the variable when the value is bad,
 * so a bad configuration stops the start with one clear line. */
#pragma once

#include <stdbool.h>

#include "common/err.h"

/* Integer in [min, max]; *ret = def when unset. */
int config_long(const char *name, long def, long min, long max, long *ret, struct kcr_err *err);

/* true/false/1/0/yes/no (any case); *ret = def when unset. */
int config_bool(const char *name, bool def, bool *ret, struct kcr_err *err);

/* MAX_EXECUTION_TIME in seconds: KCR_DEFAULT_EXEC_SECONDS when unset, at most
 * KCR_MAX_EXEC_SECONDS (common/limits.h). Read the same way by the API and
 * the sidecar. */
int config_max_exec_time(long *ret, struct kcr_err *err);

/* The value, or def when unset or empty. Borrowed: points into the environment or at def. */
const char *config_str(const char *name, const char *def);
