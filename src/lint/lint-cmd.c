#include "lint/lint-cmd.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "lint/dockerfile-parse.h"
#include "lint/lint-rules.h"

static int usage(FILE *out)
{
    fprintf(out, "usage: kcr lint-dockerfile [--rules] FILE...\n"
                 "Checks Dockerfiles against the DHI migration guide; prints\n"
                 "FILE:LINE: [rule] lesson N: problem; fix: ... for each finding.\n"
                 "Silence one finding with '# kcr-lint ignore=<rule>' on the line above.\n"
                 "Exit status: 0 clean, 1 findings, 2 usage or I/O error.\n");
    return out == stdout ? 0 : 2;
}

int lint_cmd_main(int argc, char **argv)
{
    int first = 1;
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
        return usage(stdout);
    if (argc >= 2 && !strcmp(argv[1], "--rules")) {
        for (const char *const *id = lint_rules_ids(); *id; id++)
            printf("%s\n", *id);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "--"))
        first = 2;
    else if (argc >= 2 && argv[1][0] == '-' && argv[1][1]) {
        fprintf(stderr, "kcr lint-dockerfile: unknown option '%s'\n", argv[1]);
        return usage(stderr);
    }
    if (first >= argc)
        return usage(stderr);
    int status = 0;
    size_t total = 0;
    for (int i = first; i < argc; i++) {
        struct kcr_err err = {0};
        struct df_file *df = dockerfile_parse_file(argv[i], &err);
        if (!df) {
            fprintf(stderr, "kcr lint-dockerfile: %s\n", err.msg);
            status = 2;
            continue;
        }
        struct lint_report rep;
        lint_rules_check(df, &rep);
        lint_rules_print(&rep, stdout);
        total += rep.count;
        lint_rules_report_done(&rep);
        dockerfile_parse_free(df);
    }
    fflush(stdout);
    if (status)
        return status;
    if (total)
        fprintf(stderr, "kcr lint-dockerfile: %zu finding%s\n", total, total == 1 ? "" : "s");
    return total ? 1 : 0;
}
