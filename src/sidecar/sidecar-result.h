/* sidecar-result — the outcome of one POST /execute and its JSON form. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct sidecar_result {
    int exit_code;
    int signal; /* signal that killed the program, 0 if none */
    bool timed_out;
    bool oom_killed;
    long execution_time_ms;
    struct kcr_buf out; /* capped at MAX_OUTPUT_SIZE; .truncated if bytes were dropped */
    struct kcr_buf err;
};

/* Initialises empty output buffers capped at max_output bytes each. */
void sidecar_result_init(struct sidecar_result *res, size_t max_output);
void sidecar_result_done(struct sidecar_result *res);

/* {exit_code, stdout, stderr, execution_time_ms, timed_out, oom_killed, signal}.
 * Output bytes are decoded as UTF-8 with invalid sequences replaced by U+FFFD;
 * a truncated stream ends with a "[output truncated ...]" line. New reference. */
json_t *sidecar_result_to_json(const struct sidecar_result *res);

/* Returns a copy of s[0..len) where every invalid UTF-8 sequence became U+FFFD
 * (EF BF BD). *ret_len gets the new length. */
char *sidecar_result_utf8(const char *s, size_t len, size_t *ret_len);
