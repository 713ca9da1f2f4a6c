/* tmpdir — a fresh directory under /tmp for a unit test (see tmpdir.h). */
#include "fakes/tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/fsutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

void tmpdir_new(char dir[TMPDIR_SIZE], const char *name)
{
    int n = snprintf(dir, TMPDIR_SIZE, "/tmp/kcr-%s-XXXXXX", name);
    assert_true(n > 0 && n < TMPDIR_SIZE);
    assert_non_null(mkdtemp(dir));
}

void tmpdir_remove(const char *dir)
{
    (void)fs_rm_tree_at(AT_FDCWD, dir);
}
