/* lang — the one table of supported languages.
 *
 * For each API code: the code file name, the steps the sidecar runs (compile,
 * run) as argv templates, the main container's environment (what its `env -i`
 * entrypoint sets, used by local pods and the images), resource multipliers and
 * the image name. Templates use {file} (absolute path of the code file),
 * {class} (Java main class) and {args} (the user's arguments, run step only). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define KCR_LANG_MAX_STEPS 3
#define KCR_LANG_MAX_ARGV  16

struct kcr_lang {
    const char *code;  /* API code: "py" */
    const char *name;  /* "Python" */
    const char *file;  /* code file in the working directory: "code.py" */
    const char *image; /* image base name: kcr-<image> */
    /* Steps run in order; each is a NULL-terminated argv template. The last
     * step is the user's program: it gets {args} and stdin. */
    const char *steps[KCR_LANG_MAX_STEPS][KCR_LANG_MAX_ARGV];
    const char *env[16]; /* main container environment, "K=V", NULL-terminated */
    /* Extra host paths a local pod binds read-only at the same place for this
     * language (e.g. "/etc/R"); NULL-terminated. Missing paths are skipped. */
    const char *host_paths[8];
    double time_mult; /* wall-time multiplier (compilers need more) */
    double mem_mult;  /* memory multiplier */
};

/* The language for an API code, compared case-insensitively; NULL if unknown. Borrowed. */
const struct kcr_lang *lang_find(const char *code);

/* The table and its length. Borrowed. */
const struct kcr_lang *lang_all(size_t *ret_count);

/* Number of steps of a language (1..KCR_LANG_MAX_STEPS). */
int lang_nsteps(const struct kcr_lang *lang);

/* The code file name for this source: lang->file, except for Java, whose file
 * must be named after the public class it declares ("Foo.java"). Writes the
 * class name (or "") to ret_class. Returns a new string. */
char *lang_code_file(const struct kcr_lang *lang, const char *code, char *ret_class,
                     size_t class_size);

/* Expands step `step` of lang into a new NULL-terminated argv (free with
 * lang_argv_free). {file} becomes file_path, {class} the class, {args} the
 * nargs user arguments (only in the last step). */
char **lang_expand(const struct kcr_lang *lang, int step, const char *file_path,
                   const char *class_name, const char *const *args, size_t nargs);
void lang_argv_free(char **argv);

/* The language's wall-time and memory multipliers: the environment variable
 * LANG_TIME_MULT_<CODE> / LANG_MEM_MULT_<CODE> (code upper-cased, e.g.
 * LANG_TIME_MULT_RS=4, LANG_MEM_MULT_JAVA=2.5) when set to a number in
 * [0.1, 100], else the table's value. Call lang_config_check() at start so a
 * bad value stops the start instead of being ignored here. */
double lang_time_mult(const struct kcr_lang *lang);
double lang_mem_mult(const struct kcr_lang *lang);

/* Validates every LANG_TIME_MULT_* / LANG_MEM_MULT_* override of the table;
 * the error names the first bad variable. */
int lang_config_check(struct kcr_err *err);

/* PRELOAD_PY's default (local fork-server, Kubernetes runners): what LLM-written data-science code
 * imports. */
#define LANG_PRELOAD_PY_DEFAULT                                                                    \
    "numpy,pandas,matplotlib,matplotlib.pyplot,scipy,scipy.stats,sklearn,sklearn.linear_model,"    \
    "sklearn.model_selection,sklearn.ensemble,sklearn.preprocessing,sklearn.metrics"
/* What the lite pods' template imports (local pods, docs/local-pods.md "Lite
 * pods"): standard-library modules LLM code uses most, small enough that a
 * fork of the template stays cheap. */
#define LANG_PRELOAD_PY_LITE_DEFAULT                                                               \
    "json,re,datetime,collections,math,random,itertools,functools,string,typing"
