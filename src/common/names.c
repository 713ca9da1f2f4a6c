#include "common/names.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <string.h>

bool names_is_safe(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > KCR_NAME_MAX)
        return false;
    if (name[0] == '.' || strchr(name, '/') || strstr(name, ".."))
        return false;
    return true;
}

bool names_is_safe_path(const char *path, int depth)
{
    if (!path || !*path || strlen(path) > 4095)
        return false;
    int n = 0;
    const char *p = path;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char comp[KCR_NAME_MAX + 1];
        if (len == 0 || len > KCR_NAME_MAX)
            return false;
        memcpy(comp, p, len);
        comp[len] = '\0';
        if (!names_is_safe(comp) || ++n > depth)
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

char *names_sanitize(const char *filename)
{
    const char *base = filename ? strrchr(filename, '/') : NULL;
    base = base ? base + 1 : (filename ? filename : "");
    size_t len = strlen(base);
    char *out = xmalloc(len + 2);
    char *w = out;
    if (len == 0 || base[0] == '.')
        *w++ = '_';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)base[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-';
        *w++ = ok ? (char)c : '_';
    }
    *w = '\0';
    size_t n = (size_t)(w - out);
    if (n > KCR_NAME_MAX) {
        /* Keep the extension (if short) and cut the stem. */
        const char *dot = strrchr(out, '.');
        size_t ext = (dot && dot != out && strlen(dot) <= 16) ? strlen(dot) : 0;
        memmove(out + KCR_NAME_MAX - ext, out + n - ext, ext + 1);
    }
    return out;
}
