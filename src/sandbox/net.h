/* net — network setup inside a fresh network namespace. */
#pragma once

#include "common/err.h"

/* Brings the loopback interface up (a new net namespace has only lo, down).
 * Nothing else is configured: the pod has no route to anywhere. */
int net_lo_up(struct kcr_err *err);

/* Number of network interfaces visible to the caller (for checks), or -1. */
int net_count_interfaces(struct kcr_err *err);
