/* dockerfile-query — what the rules ask of a parsed Dockerfile
 * (dockerfile-parse.h): physical lines, flags, stage references, variable
 * expansion and stage base images. The parser itself is dockerfile-parse.c. */
#include "lint/dockerfile-parse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

int dockerfile_parse_line_at(const struct df_instr *in, size_t offset)
{
    int line = in->line;
    for (size_t i = 0; i < in->nsegs && in->segs[i].offset <= offset; i++)
        line = in->segs[i].line;
    return line;
}

const char *dockerfile_parse_flag_nth(const struct df_instr *in, const char *name, size_t n)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < in->nflags; i++) {
        const char *f = in->flags[i];
        if (strncasecmp(f, name, len) != 0 || (f[len] != '=' && f[len] != '\0'))
            continue;
        if (n-- == 0)
            return f[len] == '=' ? f + len + 1 : "";
    }
    return NULL;
}

const char *dockerfile_parse_flag(const struct df_instr *in, const char *name)
{
    return dockerfile_parse_flag_nth(in, name, 0);
}

int dockerfile_parse_stage_ref(const struct df_file *df, const char *ref, int before)
{
    if (!ref || !*ref)
        return -1;
    if (before > (int)df->nstages)
        before = (int)df->nstages;
    for (int i = 0; i < before; i++)
        if (df->stages[i].name && !strcasecmp(df->stages[i].name, ref))
            return i;
    char *end;
    long v = strtol(ref, &end, 10);
    if (*end == '\0' && isdigit((unsigned char)ref[0]) && v >= 0 && v < before)
        return (int)v;
    return -1;
}

static char *expand_depth(const struct df_file *df, size_t at, const char *s, int depth);

/* The value of ARG `name` declared before the first FROM, up to index `at`. */
static char *lookup_global_arg(const struct df_file *df, size_t at, const char *name, int depth)
{
    for (size_t i = at; i-- > 0;) {
        const struct df_instr *in = &df->instrs[i];
        if (in->stage >= 0 || in->kind != DF_ARG)
            continue;
        for (size_t k = in->nkvs; k-- > 0;)
            if (!strcmp(in->kvs[k].key, name) && in->kvs[k].value)
                return expand_depth(df, i, in->kvs[k].value, depth + 1);
    }
    return NULL;
}

/* ENV values of stage st (and the stages it is built on) before index `at`;
 * ARGs only from st itself (they are not inherited). */
static char *lookup_stage(const struct df_file *df, int st, size_t at, const char *name, bool args,
                          int depth)
{
    const struct df_stage *stage = &df->stages[st];
    for (size_t i = at; i-- > stage->from + 1;) {
        const struct df_instr *in = &df->instrs[i];
        if (in->kind != DF_ENV && !(args && in->kind == DF_ARG))
            continue;
        for (size_t k = in->nkvs; k-- > 0;) {
            if (strcmp(in->kvs[k].key, name) != 0)
                continue;
            if (in->kvs[k].value)
                return expand_depth(df, i, in->kvs[k].value, depth + 1);
            return lookup_global_arg(df, stage->from, name, depth + 1);
        }
    }
    if (stage->parent >= 0)
        return lookup_stage(df, stage->parent, df->stages[stage->parent].end, name, false,
                            depth + 1);
    return NULL;
}

static char *lookup_var(const struct df_file *df, size_t at, const char *name, int depth)
{
    if (depth > 16)
        return NULL;
    const struct df_instr *in = &df->instrs[at];
    if (in->kind == DF_FROM || in->stage < 0)
        return lookup_global_arg(df, at, name, depth);
    return lookup_stage(df, in->stage, at, name, true, depth);
}

static char *expand_depth(const struct df_file *df, size_t at, const char *s, int depth)
{
    struct kcr_buf out;
    buf_init(&out, 0);
    for (const char *p = s; *p;) {
        if (*p == '\\' && p[1] == '$') {
            buf_append(&out, "$", 1);
            p += 2;
            continue;
        }
        if (*p != '$') {
            buf_append(&out, p++, 1);
            continue;
        }
        const char *start = p;
        bool braced = p[1] == '{';
        const char *q = p + 1 + braced;
        const char *name = q;
        while (isalnum((unsigned char)*q) || *q == '_')
            q++;
        if (q == name || isdigit((unsigned char)*name)) {
            buf_append(&out, p++, 1);
            continue;
        }
        _cleanup_free_ char *var = xstrndup(name, (size_t)(q - name));
        _cleanup_free_ char *word = NULL;
        char op = 0;
        if (braced) {
            if (q[0] == ':' && (q[1] == '-' || q[1] == '+')) {
                op = q[1];
                q += 2;
            } else if (q[0] == '-' || q[0] == '+') {
                op = q[0];
                q++;
            }
            const char *w = q;
            while (*q && *q != '}')
                q++;
            if (*q != '}') {
                buf_append(&out, p++, 1);
                continue;
            }
            word = xstrndup(w, (size_t)(q - w));
            q++;
        }
        _cleanup_free_ char *val = depth > 16 ? NULL : lookup_var(df, at, var, depth);
        if (op == '-' && (!val || !*val)) {
            free(val);
            val = expand_depth(df, at, word, depth + 1);
        } else if (op == '+') {
            bool set = val && *val;
            free(val);
            val = set ? expand_depth(df, at, word, depth + 1) : xstrdup("");
        }
        if (val)
            buf_append(&out, val, strlen(val));
        else
            buf_append(&out, start, (size_t)(q - start));
        p = q;
    }
    return buf_take(&out, NULL);
}

char *dockerfile_parse_expand(const struct df_file *df, size_t at, const char *s)
{
    if (at >= df->ninstrs)
        return xstrdup(s);
    return expand_depth(df, at, s, 0);
}

char *dockerfile_parse_stage_image(const struct df_file *df, int i)
{
    int guard = 0;
    while (df->stages[i].parent >= 0 && guard++ < 64)
        i = df->stages[i].parent;
    return dockerfile_parse_expand(df, df->stages[i].from, df->stages[i].base);
}
