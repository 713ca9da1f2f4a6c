/* child — forked children for unit tests (tests/fakes/: built into
 * build/libfakes.a, which only unit tests link). A test that changes a
 * process for good (namespaces, mounts, credentials, limits, a seccomp
 * filter) does it in a child that reports by exit code; the parent asserts
 * on that code. */
#pragma once

#include <sys/types.h>

/* Waits for pid at most timeout_s seconds (without limit when timeout_s <= 0)
 * and SIGKILLs it past that. Returns its exit code, 128 + the signal that
 * ended it, or -1 when it timed out. */
int child_wait(pid_t pid, int timeout_s);

/* fn in a forked child, whose return value is the child's exit code; waited
 * for as child_wait does. -1 when the fork fails. */
int child_run(int (*fn)(void), int timeout_s);

/* Root only (the test is skipped otherwise): fn in a forked child must return
 * 0 within timeout_s seconds. */
void child_run_as_root(int (*fn)(void), int timeout_s);
