#include "sidecar/sidecar-ptc-runner.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PTC_MAX_ARG (128u << 10)

/* The scripts, from the build (the Makefile embeds ptc-runner.py and ptc-call.sh). */
extern const unsigned char kcr_ptc_runner_py[];
extern const unsigned char kcr_ptc_call_sh[];

/* LibreChat's lists (ProgrammaticToolCalling.ts, BashProgrammaticToolCalling.ts):
 * the identifiers must be the ones its prompt tells the model. */
static const char *const py_keywords[] = {
    "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
    "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
    "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
    "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield",    NULL,
};
static const char *const bash_reserved[] = {
    "if",     "then",    "else",    "elif",  "fi",       "case",     "esac",   "for",
    "while",  "until",   "do",      "done",  "in",       "function", "select", "time",
    "coproc", "declare", "typeset", "local", "readonly", "export",   "unset",  NULL,
};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

/* JavaScript's \s beyond ASCII (ECMA-262: WhiteSpace and LineTerminator). */
static bool js_space(uint32_t c)
{
    return c == 0x09 || c == 0x0a || c == 0x0b || c == 0x0c || c == 0x0d || c == 0x20 ||
           c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000 || c == 0xfeff;
}

/* One code point of s (UTF-8; a stray byte counts as itself), its length in *len. */
static uint32_t next_cp(const unsigned char *s, size_t *len)
{
    int n = s[0] < 0x80             ? 1
            : (s[0] & 0xe0) == 0xc0 ? 2
            : (s[0] & 0xf0) == 0xe0 ? 3
            : (s[0] & 0xf8) == 0xf0 ? 4
                                    : 1;
    uint32_t c = n == 1 ? s[0] : s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *len = 1;
            return s[0];
        }
        c = c << 6 | (s[i] & 0x3f);
    }
    *len = (size_t)n;
    return c;
}

char *ptc_identifier(const char *name, enum ptc_dialect d)
{
    size_t len = strlen(name);
    char *out = xmalloc(len + 2 + sizeof("_tool")), *w = out + 1;
    for (size_t i = 0; i < len;) {
        size_t n;
        uint32_t c = next_cp((const unsigned char *)name + i, &n);
        i += n;
        if (c == '-' || js_space(c) || (d == PTC_BASH && c == '.'))
            *w++ = '_';
        else if (c < 0x80 &&
                 (c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
            *w++ = (char)c;
    }
    *w = '\0';
    char *start = out + 1;
    if (*start >= '0' && *start <= '9')
        *--start = '_';
    if (in_list(d == PTC_PY ? py_keywords : bash_reserved, start))
        strcat(start, "_tool");
    memmove(out, start, strlen(start) + 1);
    return out;
}

int ptc_dialect_of(const struct kcr_lang *lang, enum ptc_dialect *ret)
{
    if (!strcmp(lang->code, "py"))
        *ret = PTC_PY;
    else if (!strcmp(lang->code, "bash"))
        *ret = PTC_BASH;
    else
        return -1;
    return 0;
}

/* [[identifier, name], ...] of the tools that have an identifier. */
static char *py_tools_json(char *const *tools, size_t ntools)
{
    json_auto_t *a = json_array();
    for (size_t i = 0; i < ntools; i++) {
        _cleanup_free_ char *id = ptc_identifier(tools[i], PTC_PY);
        if (*id)
            json_array_append_new(a, json_pack("[s,s]", id, tools[i]));
    }
    return json_dumps(a, JSON_COMPACT);
}

/* s in single quotes for the shell. */
static void sh_quote(struct kcr_buf *b, const char *s)
{
    buf_append(b, "'", 1);
    for (; *s; s++) {
        if (*s == '\'')
            buf_append(b, "'\\''", 4);
        else
            buf_append(b, s, 1);
    }
    buf_append(b, "'", 1);
}

static char *bash_prelude(char *const *tools, size_t ntools, const char *lock_id)
{
    struct kcr_buf b;
    buf_init(&b, 0);
    buf_printf(&b, "__kcr_ptc_lock=/tmp/.kcr-ptc-%s.lock\nbuiltin readonly __kcr_ptc_lock\n%s",
               lock_id, (const char *)kcr_ptc_call_sh);
    for (size_t i = 0; i < ntools; i++) {
        _cleanup_free_ char *id = ptc_identifier(tools[i], PTC_BASH);
        if (!*id)
            continue;
        json_auto_t *name = json_string(tools[i]);
        _cleanup_free_ char *name_json = json_dumps(name, JSON_ENCODE_ANY);
        buf_printf(&b, "%s() { __kcr_ptc_call ", id);
        sh_quote(&b, name_json);
        buf_printf(&b, " \"$@\"; }\n");
    }
    buf_printf(&b, "builtin source \"$0\"\n");
    return buf_take(&b, NULL);
}

/* The argument that carries the tools: TOOLS for Python, the prelude for bash. */
static char *tools_arg(enum ptc_dialect d, char *const *tools, size_t ntools, const char *lock_id)
{
    return d == PTC_PY ? py_tools_json(tools, ntools) : bash_prelude(tools, ntools, lock_id);
}

int ptc_tools_check(char *const *tools, size_t ntools, enum ptc_dialect d, char *why,
                    size_t why_size)
{
    char **ids = xcalloc(ntools, sizeof(char *));
    int r = 0;
    for (size_t i = 0; i < ntools && r == 0; i++) {
        ids[i] = ptc_identifier(tools[i], d);
        if (d == PTC_BASH && (!strcmp(ids[i], "builtin") || !strcmp(ids[i], "command"))) {
            snprintf(why, why_size, "tool '%.64s' would replace the bash builtin '%s'", tools[i],
                     ids[i]);
            r = -1;
        }
        for (size_t k = 0; k < i && r == 0; k++)
            if (ids[i][0] && !strcmp(ids[i], ids[k])) {
                snprintf(why, why_size, "tools '%.64s' and '%.64s' both become '%.64s'", tools[k],
                         tools[i], ids[i]);
                r = -1;
            }
    }
    for (size_t i = 0; i < ntools; i++)
        free(ids[i]);
    free(ids);
    /* execve refuses a single argument of 128 KiB or more (MAX_ARG_STRLEN):
     * 128 long names full of quotes could get there. */
    _cleanup_free_ char *arg = r == 0 ? tools_arg(d, tools, ntools, "x") : NULL;
    if (arg && strlen(arg) >= PTC_MAX_ARG) {
        snprintf(why, why_size, "tools: the names are too long together");
        r = -1;
    }
    return r;
}

char **ptc_argv(enum ptc_dialect d, const char *interp, const char *file, char *const *tools,
                size_t ntools, char *const *args, size_t nargs, const char *lock_id)
{
    char **v = xcalloc(nargs + 6, sizeof(char *));
    size_t n = 0;
    v[n++] = xstrdup(interp);
    v[n++] = xstrdup("-c");
    if (d == PTC_PY) {
        v[n++] = xstrdup((const char *)kcr_ptc_runner_py);
        v[n++] = xstrdup(file);
        v[n++] = tools_arg(d, tools, ntools, lock_id);
    } else {
        v[n++] = tools_arg(d, tools, ntools, lock_id);
        v[n++] = xstrdup(file); /* $0 */
    }
    for (size_t i = 0; i < nargs; i++)
        v[n++] = xstrdup(args[i]);
    return v;
}

void ptc_argv_free(char **argv)
{
    for (char **a = argv; a && *a; a++)
        free(*a);
    free(argv);
}
