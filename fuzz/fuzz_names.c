/* Fuzzes the file-name rules of src/common/names.c on untrusted names (upload
 * file names, mount paths). Properties (abort otherwise), from names.h:
 *  - names_sanitize always gives a name that passes names_is_safe, and is a
 *    fixed point (sanitising it again changes nothing);
 *  - names_sanitize_path / names_mount_path give NULL or a path that passes
 *    names_is_safe_path at the same depth, and sanitize_path is a fixed point;
 *  - anything names_is_safe accepts has no '/', no "..", no leading '.'. */
#include "fuzz.h"
#include "common/names.h"

#include <stdlib.h>
#include <string.h>

#define DEPTH 4

static void check_safe(const char *s)
{
    if (names_is_safe(s) &&
        (!*s || strchr(s, '/') || strstr(s, "..") || s[0] == '.' || strlen(s) > KCR_NAME_MAX))
        abort();
}

static void check_sanitize(const char *s)
{
    char *a = names_sanitize(s);
    char *b = names_sanitize(a);
    if (!names_is_safe(a) || strcmp(a, b))
        abort();
    free(b);
    free(a);
}

static void check_paths(const char *s)
{
    char *p = names_sanitize_path(s, DEPTH);
    if (p) {
        char *q = names_sanitize_path(p, DEPTH);
        if (!names_is_safe_path(p, DEPTH) || !q || strcmp(p, q))
            abort();
        free(q);
    }
    free(p);
    char *m = names_mount_path(s, DEPTH);
    if (m && !names_is_safe_path(m, DEPTH))
        abort();
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = strndup((const char *)data, size);
    check_safe(s);
    check_sanitize(s);
    check_paths(s);
    free(s);
    return 0;
}
