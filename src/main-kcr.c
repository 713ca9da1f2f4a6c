/* kcr — the command-line entry point. Each subcommand lives in the module that
 * owns it and is listed once in the table below. */
#include <stdio.h>
#include <string.h>

#include "api/serve.h"
#include "common/cleanup.h"
#include "lint/lint-cmd.h"
#include "pod/pod-cmd.h"

struct command {
    const char *name;
    const char *help;
    int (*main)(int argc, char **argv); /* argv[0] is the subcommand name */
};

static const struct command commands[] = {
    {"lint-dockerfile", "check Dockerfiles against the DHI guide", lint_cmd_main},
    {"serve", "run the Code Interpreter API server (make run)", serve_main},
    {"pod", "local pods: run one (tests, benchmarks), gc leftovers", pod_cmd_main},
};

static int usage(FILE *out)
{
    fprintf(out, "usage: kcr <command> [args]\ncommands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-18s %s\n", commands[i].name, commands[i].help);
    return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return usage(stdout);
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        if (!strcmp(commands[i].name, argv[1]))
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "kcr: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
