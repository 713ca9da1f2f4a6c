/* pod-cmd — the `kcr pod` subcommand (run, gc). */
#pragma once

/* Entry point for `kcr pod ...`; argv[0] is "pod". Returns the exit status. */
int pod_cmd_main(int argc, char **argv);
