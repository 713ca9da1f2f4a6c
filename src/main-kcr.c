/* kcr — the command-line entry point: `kcr serve`, `kcr lint-dockerfile`, ... */
#include <stdio.h>
#include <string.h>

#include "common/log.h"

static int usage(FILE *out)
{
    fprintf(out, "usage: kcr <command> [args]\n"
                 "commands:\n"
                 "  serve                  run the Code Interpreter API\n"
                 "  lint-dockerfile FILE…  check Dockerfiles against the hardened-image rules\n");
    return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return usage(stdout);
    fprintf(stderr, "kcr: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
