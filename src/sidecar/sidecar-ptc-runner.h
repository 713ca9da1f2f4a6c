/* sidecar-ptc-runner — the program of a programmatic tool calling run.
 *
 *   py:   python -c <ptc-runner.py> FILE TOOLS ARGS...
 *         TOOLS = [[identifier, tool name], ...] (JSON)
 *   bash: bash -c <prelude> FILE ARGS...
 *         prelude = the lock path, ptc-call.sh, one function per tool, then
 *         `builtin source "$0"`: the program's file is not touched, so its
 *         line numbers ($LINENO, error messages) are its own, and nothing it
 *         writes can clobber the prelude.
 *
 * Both scripts live next to this file and are compiled in as byte arrays
 * (Makefile, "Scripts run in the sandbox"). Identifiers are the client's
 * (LibreChat's normalizeToPythonIdentifier, normalizeToBashIdentifier); a tool
 * whose name leaves no identifier gets no function (no code could call it). */
#pragma once

#include <stddef.h>

#include "common/lang.h"

enum ptc_dialect { PTC_PY, PTC_BASH };

/* The identifier of a tool name (new string, may be ""): '-' and whitespace
 * (JavaScript's \s: ASCII and Unicode spaces) become '_', for bash '.' too;
 * other characters but [A-Za-z0-9_] are dropped; a leading digit gets a '_'
 * before it; a keyword (Python's, or bash's reserved words and declaration
 * builtins) gets "_tool" after it. */
char *ptc_identifier(const char *name, enum ptc_dialect d);

/* The dialect of lang: 0, or -1 when it has no runner (only py and bash). */
int ptc_dialect_of(const struct kcr_lang *lang, enum ptc_dialect *ret);

/* Checks that tools make distinct identifiers; for bash also that none is
 * `builtin` or `command`, which the prelude itself relies on; and that the
 * argument carrying them stays under execve's bound for one argument
 * (128 KiB). Returns 0, or -1 with why filled. */
int ptc_tools_check(char *const *tools, size_t ntools, enum ptc_dialect d, char *why,
                    size_t why_size);

/* The program's argv (NULL-terminated; free with ptc_argv_free). interp is
 * the language's interpreter (its run step's argv[0]); lock_id names this
 * run's lock (safe in a path: [A-Za-z0-9_-]). */
char **ptc_argv(enum ptc_dialect d, const char *interp, const char *file, char *const *tools,
                size_t ntools, char *const *args, size_t nargs, const char *lock_id);
void ptc_argv_free(char **argv);
