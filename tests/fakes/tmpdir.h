/* tmpdir — a fresh directory under /tmp for a unit test's files
 * (tests/fakes/: built into build/libfakes.a, which only unit tests link). */
#pragma once

#define TMPDIR_SIZE 64

/* Makes /tmp/kcr-<name>-XXXXXX and writes its path into dir; the test fails
 * when it cannot be made. */
void tmpdir_new(char dir[TMPDIR_SIZE], const char *name);

/* Removes dir and everything below it; what cannot be removed is left (litter
 * under /tmp, not the test's failure). */
void tmpdir_remove(const char *dir);
