#include "common/names.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <string.h>

/* The longest extension names_sanitize keeps when it cuts a name. */
#define EXT_KEEP_MAX 16

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
    if (!path || !*path || strlen(path) > KCR_PATH_MAX)
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

/*** Sanitising ***/

/* Copies len bytes of s to w, every byte outside [A-Za-z0-9.-] as '_'. */
static char *map_bytes(const char *s, size_t len, char *w)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-';
        *w++ = ok ? (char)c : '_';
    }
    return w;
}

/* names_is_safe refuses any "..": in a run of dots all but the last become '_',
 * so "a..b" gives "a_.b" and "x..csv" keeps its extension. It runs after the
 * cut, which can join a stem ending in '.' to the kept extension. */
static void break_dot_runs(char *s)
{
    for (; *s; s++)
        if (s[0] == '.' && s[1] == '.')
            s[0] = '_';
}

/* One component (len bytes of s, no '/') under the upload rule, into out
 * (KCR_NAME_MAX + 1 bytes). The cut keeps the first bytes and the extension
 * (the part from the last '.', when at most EXT_KEEP_MAX bytes). */
static void sanitize_component(const char *s, size_t len, char *out)
{
    size_t pre = (len == 0 || s[0] == '.') ? 1 : 0;
    size_t head = len, ext = 0;
    if (pre + len > KCR_NAME_MAX) {
        const char *dot = memrchr(s, '.', len);
        size_t tail = dot ? (size_t)(s + len - dot) : 0;
        ext = tail <= EXT_KEEP_MAX ? tail : 0;
        head = KCR_NAME_MAX - pre - ext;
    }
    char *w = out;
    if (pre)
        *w++ = '_';
    w = map_bytes(s, head, w);
    w = map_bytes(s + len - ext, ext, w);
    *w = '\0';
    break_dot_runs(out);
}

char *names_sanitize(const char *filename)
{
    const char *base = filename ? strrchr(filename, '/') : NULL;
    base = base ? base + 1 : (filename ? filename : "");
    char *out = xmalloc(KCR_NAME_MAX + 1);
    sanitize_component(base, strlen(base), out);
    return out;
}

/* A path being built from sanitised components. */
struct path_out {
    char buf[KCR_PATH_MAX + 1];
    size_t len;
    int depth;
};

/* Appends len bytes of comp, sanitised, after a '/'. False past max_depth
 * components or KCR_PATH_MAX bytes. */
static bool path_append(struct path_out *o, const char *comp, size_t len, int max_depth)
{
    char san[KCR_NAME_MAX + 1];
    sanitize_component(comp, len, san);
    size_t n = strlen(san);
    if (++o->depth > max_depth || o->len + (o->len ? 1 : 0) + n > KCR_PATH_MAX)
        return false;
    if (o->len)
        o->buf[o->len++] = '/';
    memcpy(o->buf + o->len, san, n + 1);
    o->len += n;
    return true;
}

static bool is_dot_or_empty(const char *comp, size_t len)
{
    return len == 0 || (len == 1 && comp[0] == '.') ||
           (len == 2 && comp[0] == '.' && comp[1] == '.');
}

/* Both path rules: an empty, "." or ".." component is dropped (lax) or
 * makes the whole path unacceptable (strict). */
static char *sanitize_path(const char *path, int max_depth, bool strict)
{
    struct path_out o = {.len = 0};
    for (const char *p = path;;) {
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        if (is_dot_or_empty(p, len)) {
            if (strict)
                return NULL;
        } else if (!path_append(&o, p, len, max_depth)) {
            return NULL;
        }
        if (!*end)
            break;
        p = end + 1;
    }
    if (o.depth == 0 && !path_append(&o, "", 0, max_depth))
        return NULL;
    return xstrdup(o.buf);
}

char *names_sanitize_path(const char *filename, int max_depth)
{
    return sanitize_path(filename ? filename : "", max_depth, false);
}

char *names_mount_path(const char *name, int max_depth)
{
    if (!name || strlen(name) > KCR_PATH_MAX)
        return NULL;
    return sanitize_path(name, max_depth, true);
}
