/* lint-internal — what the rules of lint-rules.c share: the run's context
 * and the queries over a parsed Dockerfile's stages, instructions and RUN
 * words (lint-query.c, prefix lq_). Not for other modules. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lint/dockerfile-parse.h"
#include "lint/lint-rules.h"

/* One check of one Dockerfile: what is checked, where findings go. */
struct lint_ctx {
    const struct df_file *df;
    struct lint_report *rep;
};

typedef void (*lint_word_fn)(struct lint_ctx *c, const struct df_instr *in, const char *word,
                             int line, const char *next);

int lq_final_stage(const struct df_file *df);

/* The tag part of an image reference ("3.14-debian13-dev"), or "". */
const char *lq_image_tag(const char *image, char *buf, size_t size);

bool lq_stage_is_dev(const struct df_file *df, int st);

bool lq_image_is_dhi(const char *img);

bool lq_stage_is_dhi(const struct df_file *df, int st);

/* A minimal DHI runtime image: no shell, no package manager. */
bool lq_stage_is_minimal(const struct df_file *df, int st);

/* The last instruction of `kind` in stage st or the stages it is built on. */
const struct df_instr *lq_last_of(const struct df_file *df, int st, enum df_kind kind);

const char *lq_base_name(const char *path);

/* Index of the program in an exec-form argv that starts with env: skips env's
 * options and NAME=VALUE words. Returns argc when there is none. */
size_t lq_after_env(const struct df_instr *in);

/* Whether the container's command (ENTRYPOINT + CMD) runs `sleep`: then the
 * image is a main container that the sidecar enters. */
const struct df_instr *lq_sleep_instr(const struct df_file *df, int st);

size_t lq_instr_index(const struct df_file *df, const struct df_instr *in);

/* Line of the first occurrence of needle in the instruction's text. */
int lq_line_of(const struct df_instr *in, const char *needle);

/* Sources of a COPY/ADD (all words but the last), shell or exec form. */
size_t lq_copy_nsrc(const struct df_instr *in);

const char *lq_copy_dest(const struct df_instr *in);

/* Stage a COPY --from refers to, or -1 (none, or an image). */
int lq_copy_from_stage(const struct df_file *df, const struct df_instr *in);

/* Whether the COPY --from source is a DHI image (a stage built on one, or the image). */
bool lq_copy_from_dhi(const struct df_file *df, const struct df_instr *in);

/* Path without trailing slashes (a new string). */
char *lq_norm_path(const char *p);

bool lq_path_within(const char *a, const char *b);

/* The user part of a --chown / USER value is the non-root DHI user. */
bool lq_is_nonroot_user(const char *u);

/* Whether RUN text in stage st (or its bases) contains every needle. */
bool lq_stage_run_has(const struct df_file *df, int st, const char *const *needles);

bool lq_word_char(char ch);

/* Calls fn for every word of s (a RUN's text or heredoc body); line numbers
 * come from the instruction's segment map, or count from base_line. */
void lq_each_word(struct lint_ctx *c, const struct df_instr *in, const char *s, int base_line,
                  lint_word_fn fn);

void lq_each_run_word(struct lint_ctx *c, lint_word_fn fn);

/* A package word without ":arch" or "=version". */
void lq_package_name(const char *w, char *out, size_t size);
