/* serve — `kcr serve`: the Code Interpreter API server (configuration from the
 * environment, docs/configuration.md). */
#pragma once

/* The subcommand's entry point (argv[0] = "serve"). Returns the exit code. */
int serve_main(int argc, char **argv);
