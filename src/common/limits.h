/* limits — the fixed values the API, the pod backends and the sidecar must
 * agree on, in one place. */
#pragma once

/* The working directory of every execution inside a pod: files are placed
 * and results listed there, the user program runs there. */
#define KCR_WORKDIR "/mnt/data"

/* MAX_EXECUTION_TIME: the default and the upper bound, in seconds. The bound
 * is also the sidecar's: a pod backend never asks it for more. */
#define KCR_DEFAULT_EXEC_SECONDS 30
#define KCR_MAX_EXEC_SECONDS     600
