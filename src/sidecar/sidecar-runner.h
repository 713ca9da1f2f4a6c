/* sidecar-runner — a language interpreter started before its code arrives.
 *
 * A warm pod's sidecar starts the runner as user code (kcr-nsexec, the whole
 * sandbox) as soon as it finds the main container; the runner finishes the
 * interpreter's start-up and waits on its stdin. An execution then sends it a
 * header and the request's stdin instead of starting the interpreter:
 *
 *   "<n>\n" then n bytes: the code file's path, then NUL + each argument
 *
 * The runner runs the file as `<interpreter> FILE ARGS...` would (sys.argv,
 * sys.path[0], __main__, tracebacks without the runner's frames), so user code
 * sees no difference but the time it did not wait. Nothing flows back but the
 * program's own output: pods are single-use, so one runner serves one
 * execution. */
#pragma once

#include <stddef.h>

#include "common/lang.h"

/* The runner's argv (borrowed, NULL-terminated) for lang, or NULL when the
 * language has none (only single-step interpreted languages can have one). */
const char *const *sidecar_runner_argv(const struct kcr_lang *lang);

/* The header above for path and args, followed by stdin_len bytes of stdin:
 * what the runner reads on fd 0. Returns a new buffer, its length in *ret_len. */
char *sidecar_runner_input(const char *path, const char *const *args, size_t nargs,
                           const char *stdin_data, size_t stdin_len, size_t *ret_len);
