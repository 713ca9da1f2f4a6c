/* pystate — Python variables that persist between the /exec calls of a
 * session (docs/api-contract.md rule 13: unlike KubeCodeRun, state really persists).
 *
 * The user's program is run by a small Python wrapper that restores the
 * session's state blob (version byte 1 = pickle/cloudpickle, 2 = lz4-framed)
 * into the program's globals before it runs and, when it ends successfully,
 * pickles the globals that can be pickled (no modules, no names starting with
 * '_') into PYSTATE_FILE. The orchestrator mounts the blob before the run and
 * stores the new one afterwards as the session's /state. */
#pragma once

#include <stddef.h>

/* The state file in the working directory (never returned as an output). */
#define PYSTATE_FILE "_kcr_state.bin"

/* The largest state blob kept (KubeCodeRun's 50 MiB). */
#define PYSTATE_MAX_BYTES 52428800u

/* Code larger than this runs unwrapped (the wrapper embeds it in base64 and
 * the sidecar bounds its request body). */
#define PYSTATE_MAX_CODE (4u << 20)

/* The wrapper program for code (a new string). */
char *pystate_wrap(const char *code, size_t len);
