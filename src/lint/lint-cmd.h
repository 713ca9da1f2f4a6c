/* lint-cmd — `kcr lint-dockerfile FILE...`: reports every violation of the DHI
 * migration guide in the given Dockerfiles. */
#pragma once

/* argv[0] is "lint-dockerfile". Exit status: 0 clean, 1 findings, 2 usage or
 * I/O error (a file that cannot be read is reported and the others still linted). */
int lint_cmd_main(int argc, char **argv);
