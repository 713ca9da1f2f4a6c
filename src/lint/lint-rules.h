/* lint-rules — the DHI migration guide's lessons as checks on a parsed Dockerfile.
 *
 * One function per rule; each finding carries the file, the physical line, the
 * rule id, the guide's lesson number and a one-line fix. A finding is dropped
 * when the instruction it points at is preceded by "# kcr-lint ignore=<rule>". */
#pragma once

#include <stdio.h>

#include "lint/dockerfile-parse.h"

struct lint_finding {
    int line;
    const char *rule;   /* "final-user" */
    const char *lesson; /* "8"; NULL for Dockerfile syntax problems */
    char *msg;
    const char *fix;
};

struct lint_report {
    char *path;
    struct lint_finding *items;
    size_t count;
};

/* Runs every rule on df and fills rep (sorted by line; free with
 * lint_rules_report_done). */
void lint_rules_check(const struct df_file *df, struct lint_report *rep);

/* Prints one line per finding: "path:line: [rule] lesson N: msg; fix: ...". */
void lint_rules_print(const struct lint_report *rep, FILE *out);

void lint_rules_report_done(struct lint_report *rep);

/* The rule ids, for listings (NULL-terminated, borrowed). */
const char *const *lint_rules_ids(void);
