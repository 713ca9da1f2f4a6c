/* pyimports — which Python programs need nothing a preload would give them
 * (pyimports.h). A small tokenizer: names, the dots and commas of import
 * statements, and the ends of statements; comments, string literals
 * (prefixes, triple quotes, escapes), numbers and line continuations are
 * skipped. Anything it cannot place makes the answer "no", which only costs
 * speed. */
#include "core/pyimports.h"

#include <string.h>

/* Standard-library modules a program may import and still be "lite". Any
 * other module, including one of the standard library missing here, sends
 * the program to an ordinary pod. */
static const char *const stdlib[] = {
    "__future__", "abc",       "argparse",    "array",    "ast",        "asyncio",
    "base64",     "binascii",  "bisect",      "builtins", "bz2",        "calendar",
    "cmath",      "codecs",    "collections", "colorsys", "contextlib", "copy",
    "copyreg",    "csv",       "dataclasses", "datetime", "decimal",    "difflib",
    "dis",        "email",     "enum",        "errno",    "fnmatch",    "fractions",
    "functools",  "gc",        "getopt",      "glob",     "graphlib",   "gzip",
    "hashlib",    "heapq",     "hmac",        "html",     "http",       "inspect",
    "io",         "ipaddress", "itertools",   "json",     "keyword",    "linecache",
    "locale",     "logging",   "lzma",        "math",     "mimetypes",  "numbers",
    "operator",   "os",        "pathlib",     "pickle",   "platform",   "pprint",
    "queue",      "random",    "re",          "reprlib",  "secrets",    "select",
    "shlex",      "shutil",    "signal",      "socket",   "sqlite3",    "statistics",
    "string",     "struct",    "subprocess",  "sys",      "tarfile",    "tempfile",
    "textwrap",   "threading", "time",        "timeit",   "tokenize",   "traceback",
    "types",      "typing",    "unicodedata", "unittest", "urllib",     "uuid",
    "warnings",   "weakref",   "xml",         "zipfile",  "zlib",       "zoneinfo",
};

/* Names through which a program can import what no import statement shows. */
static const char *const dynamic[] = {"__import__", "importlib", "exec",        "eval",
                                      "compile",    "runpy",     "__builtins__"};

static bool listed(const char *const *list, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && !memcmp(list[i], name, len))
            return true;
    return false;
}

enum tok { T_END, T_NAME, T_DOT, T_COMMA, T_EOS /* end of a statement */, T_OTHER };

struct lexer {
    const char *p, *end;
    int depth; /* open brackets: a newline inside them ends nothing */
    const char *name;
    size_t len;
};

static bool is_name_char(unsigned char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80;
}

static void skip_string(struct lexer *lx)
{
    char q = *lx->p;
    bool triple = lx->end - lx->p >= 3 && lx->p[1] == q && lx->p[2] == q;
    lx->p += triple ? 3 : 1;
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\\') { /* also in raw strings: the next character stays inside */
            lx->p = lx->end - lx->p > 2 ? lx->p + 2 : lx->end;
            continue;
        }
        if (c == '\n' && !triple)
            return; /* unterminated: the newline ends the statement */
        if (c == q && (!triple || (lx->end - lx->p >= 3 && lx->p[1] == q && lx->p[2] == q))) {
            lx->p += triple ? 3 : 1;
            return;
        }
        lx->p++;
    }
}

/* A string prefix: up to two of r, b, u, f in any case. */
static bool string_prefix(const char *s, size_t len)
{
    if (len > 2)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr("rRbBuUfF", s[i]))
            return false;
    return true;
}

static enum tok next(struct lexer *lx)
{
    while (lx->p < lx->end) {
        unsigned char c = (unsigned char)*lx->p;
        if (c == '#') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (c == '\\' && lx->end - lx->p >= 2 && lx->p[1] == '\n') {
            lx->p += 2; /* line continuation */
        } else if (c == '\n' || c == ';') {
            lx->p++;
            if (c == ';' || lx->depth == 0)
                return T_EOS;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
            lx->p++;
        } else if (c == '"' || c == '\'') {
            skip_string(lx);
        } else if (c >= '0' && c <= '9') {
            while (lx->p < lx->end && (is_name_char((unsigned char)*lx->p) || *lx->p == '.'))
                lx->p++;
        } else if (is_name_char(c)) {
            const char *s = lx->p;
            while (lx->p < lx->end && is_name_char((unsigned char)*lx->p))
                lx->p++;
            if (lx->p < lx->end && (*lx->p == '"' || *lx->p == '\'') &&
                string_prefix(s, (size_t)(lx->p - s))) {
                skip_string(lx);
                continue;
            }
            lx->name = s;
            lx->len = (size_t)(lx->p - s);
            return T_NAME;
        } else {
            lx->p++;
            if (c == '(' || c == '[' || c == '{')
                lx->depth++;
            else if ((c == ')' || c == ']' || c == '}') && lx->depth > 0)
                lx->depth--;
            return c == '.' ? T_DOT : c == ',' ? T_COMMA : T_OTHER;
        }
    }
    return T_END;
}

static bool is(const struct lexer *lx, const char *word)
{
    return lx->len == strlen(word) && !memcmp(lx->name, word, lx->len);
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

bool pyimports_stdlib_only(const char *code, size_t len)
{
    struct lexer lx = {.p = code, .end = code + len};
    enum { NONE, IMPORT, FROM, FROM_NAMES } st = NONE;
    bool want_module = false; /* the next name is a module's first part */
    enum tok t;
    while ((t = next(&lx)) != T_END) {
        if (t == T_EOS) {
            st = NONE;
            continue;
        }
        if (t == T_NAME && listed(dynamic, N_OF(dynamic), lx.name, lx.len))
            return false;
        switch (st) {
        case NONE:
            if (t == T_NAME && (is(&lx, "import") || is(&lx, "from"))) {
                st = is(&lx, "import") ? IMPORT : FROM;
                want_module = true;
            }
            break;
        case IMPORT:
        case FROM:
            if (want_module) {
                /* "from . import x" and friends: a program's own package. */
                if (t != T_NAME || !listed(stdlib, N_OF(stdlib), lx.name, lx.len))
                    return false;
                want_module = false;
            } else if (st == FROM && t == T_NAME && is(&lx, "import")) {
                st = FROM_NAMES;
            } else if (st == IMPORT && t == T_COMMA) {
                want_module = true;
            }
            /* Otherwise: the rest of a dotted name, or "as alias". */
            break;
        case FROM_NAMES:
            break; /* attributes of a module already checked */
        }
    }
    return true;
}
