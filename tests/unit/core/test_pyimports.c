/* Unit tests for core/pyimports.c: which programs may take a lite pod. A
 * "yes" for a program that imports numpy would make it slower, never wrong;
 * these cases pin the tokenizer's corners both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/pyimports.h"

static bool lite(const char *code)
{
    return pyimports_stdlib_only(code, strlen(code));
}

static void test_standard_library_only(void **state)
{
    (void)state;
    assert_true(lite(""));
    assert_true(lite("print(1)"));
    assert_true(lite("import json\nprint(json.dumps({'a': 1}))"));
    assert_true(lite("import os.path as p, sys\nfrom collections import Counter, deque\n"));
    assert_true(lite("from datetime import (\n    date,\n    timedelta,\n)\nprint(date.today())"));
    assert_true(lite("from __future__ import annotations\nimport math; x = math.pi"));
    assert_true(lite("import \\\n    re\n"));
    assert_true(lite("def f():\n    import random\n    return random.random()\nprint(f())"));
}

static void test_anything_else_is_not(void **state)
{
    (void)state;
    assert_false(lite("import numpy as np"));
    assert_false(lite("import json, pandas"));
    assert_false(lite("import os\nfrom matplotlib import pyplot"));
    assert_false(lite("from sklearn.linear_model import LinearRegression"));
    assert_false(lite("import json; import scipy.stats"));
    assert_false(lite("from . import sibling"));
    assert_false(lite("import foo"));
    /* Importing by name, which no import statement shows. */
    assert_false(lite("np = __import__('numpy')"));
    assert_false(lite("import importlib\nimportlib.import_module('numpy')"));
    assert_false(lite("exec('import numpy')"));
    assert_false(lite("eval(compile('1', 'x', 'eval'))"));
    assert_false(lite("import builtins\nbuiltins.__import__('pandas')"));
}

static void test_strings_and_comments_are_skipped(void **state)
{
    (void)state;
    assert_true(lite("# import numpy\nprint('import numpy')"));
    assert_true(lite("s = \"\"\"\nimport pandas\n\"\"\"\nprint(s)"));
    assert_true(lite("s = r'\\' import numpy'\nprint(s)"));
    assert_true(lite("s = f'{1} import scipy'\nb = rb\"import sklearn\"\n"));
    assert_true(lite("print('it\\'s import numpy')"));
    /* An unterminated string ends at its line: the next line still counts. */
    assert_false(lite("s = 'open\nimport numpy"));
}

static void test_binary_and_odd_input(void **state)
{
    (void)state;
    const char nul[] = "print(1)\0import numpy";
    assert_false(pyimports_stdlib_only(nul, sizeof(nul) - 1));
    assert_true(pyimports_stdlib_only("print(1)", 3)); /* only len bytes are read */
    assert_true(lite("x = 1e5 + 0x1f + 3.14j\nprint(x)"));
    assert_true(lite("s = '''unterminated"));
    assert_true(lite("s = 'ends with a backslash\\"));
    assert_true(lite("caf\xc3\xa9 = 1\nprint(caf\xc3\xa9)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_library_only),
        cmocka_unit_test(test_anything_else_is_not),
        cmocka_unit_test(test_strings_and_comments_are_skipped),
        cmocka_unit_test(test_binary_and_odd_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
