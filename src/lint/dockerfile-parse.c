#include "lint/dockerfile-parse.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"

#define DF_MAX_FILE (4u << 20)

static const struct {
    const char *name;
    enum df_kind kind;
} keywords[] = {
    {"FROM", DF_FROM},
    {"RUN", DF_RUN},
    {"COPY", DF_COPY},
    {"ADD", DF_ADD},
    {"ENV", DF_ENV},
    {"ARG", DF_ARG},
    {"USER", DF_USER},
    {"WORKDIR", DF_WORKDIR},
    {"ENTRYPOINT", DF_ENTRYPOINT},
    {"CMD", DF_CMD},
    {"SHELL", DF_SHELL},
    {"LABEL", DF_LABEL},
    {"EXPOSE", DF_EXPOSE},
    {"VOLUME", DF_VOLUME},
    {"HEALTHCHECK", DF_HEALTHCHECK},
    {"STOPSIGNAL", DF_STOPSIGNAL},
    {"ONBUILD", DF_ONBUILD},
    {"MAINTAINER", DF_MAINTAINER},
};

/*** Small helpers ***/

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static void push_ptr(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(char *));
    (*v)[(*n)++] = s;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void add_problem(struct df_file *df, int line, const char *fmt, const char *arg)
{
    df->problems = xrealloc(df->problems, (df->nproblems + 1) * sizeof(*df->problems));
    df->problems[df->nproblems].line = line;
    df->problems[df->nproblems].msg = xasprintf(fmt, arg);
    df->nproblems++;
}

/* Splits text into lines (without '\n' and a trailing '\r'). */
static char **split_lines(const char *text, size_t len, size_t *ret_n)
{
    char **v = NULL;
    size_t n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '\n')
            continue;
        if (i == len && start == len)
            break;
        size_t end = i;
        if (end > start && text[end - 1] == '\r')
            end--;
        push_ptr(&v, &n, xstrndup(text + start, end - start));
        start = i + 1;
    }
    *ret_n = n;
    return v;
}

/* Shell-like word split: whitespace separates, quotes group and are removed,
 * a backslash keeps the next character. Enough for COPY/ENV/ARG/FROM words. */
static char **split_words(const char *s, size_t *ret_n)
{
    char **v = NULL;
    size_t n = 0;
    const char *p = s;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        struct kcr_buf w;
        buf_init(&w, 0);
        char quote = 0;
        for (; *p && (quote || !isspace((unsigned char)*p)); p++) {
            if (quote) {
                if (*p == quote)
                    quote = 0;
                else if (*p == '\\' && quote == '"' && p[1])
                    buf_append(&w, ++p, 1);
                else
                    buf_append(&w, p, 1);
            } else if (*p == '"' || *p == '\'') {
                quote = *p;
            } else if (*p == '\\' && p[1]) {
                buf_append(&w, ++p, 1);
            } else {
                buf_append(&w, p, 1);
            }
        }
        push_ptr(&v, &n, buf_take(&w, NULL));
    }
    *ret_n = n;
    return v;
}

/*** Instruction pieces ***/

static enum df_kind kind_of(const char *kw)
{
    for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
        if (!strcasecmp(keywords[i].name, kw))
            return keywords[i].kind;
    return DF_UNKNOWN;
}

static bool takes_flags(enum df_kind k)
{
    return k == DF_FROM || k == DF_RUN || k == DF_COPY || k == DF_ADD || k == DF_HEALTHCHECK;
}

/* Leading "--name[=value]" words become flags; the rest is kept trimmed. */
static void parse_flags(struct df_instr *in)
{
    const char *p = skip_ws(in->text);
    if (takes_flags(in->kind)) {
        while (p[0] == '-' && p[1] == '-') {
            const char *e = p;
            while (*e && !isspace((unsigned char)*e))
                e++;
            push_ptr(&in->flags, &in->nflags, xstrndup(p + 2, (size_t)(e - p - 2)));
            p = skip_ws(e);
        }
    }
    size_t len = strlen(p);
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    in->rest = xstrndup(p, len);
}

/* Exec form is a JSON array of strings; anything else is shell form (as Docker does). */
static bool parse_exec_form(struct df_instr *in)
{
    if (in->rest[0] != '[')
        return false;
    json_error_t jerr;
    json_t *arr = json_loads(in->rest, 0, &jerr);
    if (!arr || !json_is_array(arr)) {
        json_decref(arr);
        return false;
    }
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        if (!json_is_string(json_array_get(arr, i))) {
            json_decref(arr);
            return false;
        }
    }
    for (size_t i = 0; i < n; i++)
        push_ptr(&in->argv, &in->argc, xstrdup(json_string_value(json_array_get(arr, i))));
    json_decref(arr);
    return true;
}

static void push_kv(struct df_instr *in, char *key, char *value)
{
    in->kvs = xrealloc(in->kvs, (in->nkvs + 1) * sizeof(*in->kvs));
    in->kvs[in->nkvs].key = key;
    in->kvs[in->nkvs].value = value;
    in->nkvs++;
}

/* ENV K=V K2="v 2" | ENV K V (legacy) ; ARG NAME[=default]... */
static void parse_kvs(struct df_instr *in)
{
    if (in->kind == DF_ENV && in->argc > 0 && !strchr(in->argv[0], '=')) {
        const char *p = in->rest;
        while (*p && !isspace((unsigned char)*p))
            p++;
        push_kv(in, xstrndup(in->rest, (size_t)(p - in->rest)), xstrdup(skip_ws(p)));
        return;
    }
    for (size_t i = 0; i < in->argc; i++) {
        const char *eq = strchr(in->argv[i], '=');
        if (eq)
            push_kv(in, xstrndup(in->argv[i], (size_t)(eq - in->argv[i])), xstrdup(eq + 1));
        else
            push_kv(in, xstrdup(in->argv[i]), NULL);
    }
}

/* Heredoc openers in the instruction text: <<WORD, <<-WORD, <<"WORD", <<'WORD'. */
static void find_heredocs(struct df_instr *in, char ***ret_delims, bool **ret_chomp, size_t *ret_n)
{
    char **delims = NULL;
    bool *chomp = NULL;
    size_t n = 0;
    const char *t = in->text;
    for (size_t k = 0; t[k]; k++) {
        if (t[k] != '<' || t[k + 1] != '<' || t[k + 2] == '<' || (k > 0 && t[k - 1] == '<'))
            continue;
        size_t j = k + 2;
        bool ch = false;
        if (t[j] == '-') {
            ch = true;
            j++;
        }
        size_t s, e;
        if (t[j] == '"' || t[j] == '\'') {
            char q = t[j];
            s = ++j;
            while (t[j] && t[j] != q)
                j++;
            e = j;
            if (!t[j])
                continue;
        } else {
            s = j;
            while (t[j] && (isalnum((unsigned char)t[j]) || t[j] == '_'))
                j++;
            e = j;
        }
        if (e == s)
            continue;
        push_ptr(&delims, &n, xstrndup(t + s, e - s));
        chomp = xrealloc(chomp, n * sizeof(bool));
        chomp[n - 1] = ch;
        k = e - 1;
    }
    *ret_delims = delims;
    *ret_chomp = chomp;
    *ret_n = n;
}

/* "# kcr-lint ignore=a,b" (or "kcr-lint: ignore=...") above an instruction. */
static void parse_ignore(const char *comment, char ***ignore, size_t *nignore)
{
    const char *p = skip_ws(comment + 1);
    if (strncmp(p, "kcr-lint", 8) != 0)
        return;
    p = skip_ws(p + 8);
    if (*p == ':')
        p = skip_ws(p + 1);
    if (strncmp(p, "ignore=", 7) != 0)
        return;
    p += 7;
    while (*p && !isspace((unsigned char)*p)) {
        const char *e = p;
        while (*e && *e != ',' && !isspace((unsigned char)*e))
            e++;
        if (e > p)
            push_ptr(ignore, nignore, xstrndup(p, (size_t)(e - p)));
        p = *e == ',' ? e + 1 : e;
    }
}

/* Parser directives sit at the very top as "# key=value"; the first line that
 * is not one ends them (Dockerfile reference, "Parser directives"). */
static size_t parse_directives(struct df_file *df, char **lines, size_t n)
{
    size_t i = 0;
    for (; i < n; i++) {
        const char *p = skip_ws(lines[i]);
        if (*p != '#')
            break;
        p = skip_ws(p + 1);
        const char *k = p;
        while (isalpha((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - k);
        p = skip_ws(p);
        if (klen == 0 || *p != '=')
            break;
        p = skip_ws(p + 1);
        if (klen == 6 && !strncasecmp(k, "escape", 6) && (*p == '`' || *p == '\\'))
            df->escape = *p;
    }
    return i;
}

static bool is_comment_or_blank(const char *line)
{
    const char *p = skip_ws(line);
    return *p == '#' || *p == '\0';
}

/* If line ends with the escape character (trailing blanks allowed), returns its
 * length without them; else -1. */
static ssize_t continued_len(const char *line, char esc)
{
    size_t len = strlen(line);
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len && line[len - 1] == esc)
        return (ssize_t)(len - 1);
    return -1;
}

static void push_seg(struct df_seg **segs, size_t *n, size_t offset, int line)
{
    *segs = xrealloc(*segs, (*n + 1) * sizeof(**segs));
    (*segs)[*n].offset = offset;
    (*segs)[*n].line = line;
    (*n)++;
}

/* Reads heredoc bodies that follow line *i; advances *i past the last delimiter. */
static void read_heredocs(struct df_file *df, struct df_instr *in, char **lines, size_t n,
                          size_t *i)
{
    char **delims;
    bool *chomp;
    size_t nd;
    find_heredocs(in, &delims, &chomp, &nd);
    for (size_t d = 0; d < nd; d++) {
        struct kcr_buf body;
        buf_init(&body, 0);
        int first = (int)*i + 2;
        bool closed = false;
        while (*i + 1 < n) {
            (*i)++;
            const char *l = lines[*i];
            if (chomp[d])
                while (*l == '\t')
                    l++;
            if (!strcmp(l, delims[d])) {
                closed = true;
                break;
            }
            buf_append(&body, l, strlen(l));
            buf_append(&body, "\n", 1);
        }
        if (!closed)
            add_problem(df, in->line, "unterminated heredoc '%s'", delims[d]);
        in->heredocs = xrealloc(in->heredocs, (in->nheredocs + 1) * sizeof(*in->heredocs));
        in->heredocs[in->nheredocs].delim = TAKE_PTR(delims[d]);
        in->heredocs[in->nheredocs].body = buf_take(&body, NULL);
        in->heredocs[in->nheredocs].line = first;
        in->nheredocs++;
    }
    free_strv(delims, nd);
    free(chomp);
}

/* Joins the logical line starting at *i (continuations, comment lines inside
 * them dropped), fills keyword/text/segs and leaves *i on its last line. */
static void read_logical_line(struct df_file *df, struct df_instr *in, char **lines, size_t n,
                              size_t *i)
{
    struct kcr_buf joined;
    buf_init(&joined, 0);
    struct df_seg *segs = NULL;
    size_t nsegs = 0;
    const char *l = skip_ws(lines[*i]);
    for (;;) {
        push_seg(&segs, &nsegs, joined.len, (int)*i + 1);
        ssize_t cl = continued_len(l, df->escape);
        if (cl < 0) {
            buf_append(&joined, l, strlen(l));
            break;
        }
        buf_append(&joined, l, (size_t)cl);
        /* Comment and empty lines inside a continuation are removed. */
        while (*i + 1 < n && is_comment_or_blank(lines[*i + 1]))
            (*i)++;
        if (*i + 1 >= n)
            break;
        l = lines[++(*i)];
    }
    size_t jlen;
    _cleanup_free_ char *all = buf_take(&joined, &jlen);
    size_t kw = 0;
    while (kw < jlen && !isspace((unsigned char)all[kw]))
        kw++;
    in->keyword = xstrndup(all, kw);
    for (char *c = in->keyword; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    in->kind = kind_of(in->keyword);
    size_t skip = kw;
    while (skip < jlen && isspace((unsigned char)all[skip]))
        skip++;
    in->text = xstrdup(all + skip);
    for (size_t s = 0; s < nsegs; s++)
        segs[s].offset = segs[s].offset > skip ? segs[s].offset - skip : 0;
    in->segs = segs;
    in->nsegs = nsegs;
    in->end_line = (int)*i + 1;
}

static void add_stage(struct df_file *df, struct df_instr *in, size_t idx)
{
    struct df_stage st = {.from = idx, .end = idx + 1, .parent = -1};
    st.base = xstrdup(in->argc > 0 ? in->argv[0] : "");
    if (in->argc >= 3 && !strcasecmp(in->argv[1], "as")) {
        st.name = xstrdup(in->argv[2]);
        for (char *c = st.name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    if (in->argc == 0)
        add_problem(df, in->line, "%s without an image", "FROM");
    _cleanup_free_ char *base = dockerfile_parse_expand(df, idx, st.base);
    st.parent = dockerfile_parse_stage_ref(df, base, (int)df->nstages);
    df->stages = xrealloc(df->stages, (df->nstages + 1) * sizeof(*df->stages));
    df->stages[df->nstages++] = st;
}

static void finish_instr(struct df_file *df, struct df_instr *in, size_t idx)
{
    in->stage = (int)df->nstages - 1;
    parse_flags(in);
    in->exec_form = parse_exec_form(in);
    if (!in->exec_form)
        in->argv = split_words(in->rest, &in->argc);
    if (in->kind == DF_ENV || in->kind == DF_ARG)
        parse_kvs(in);
    if (in->kind == DF_FROM)
        add_stage(df, in, idx);
    else if (in->kind == DF_UNKNOWN)
        add_problem(df, in->line, "unknown instruction '%s'", in->keyword);
    in->stage = (int)df->nstages - 1;
    if (df->nstages > 0)
        df->stages[df->nstages - 1].end = idx + 1;
}

struct df_file *dockerfile_parse_string(const char *path, const char *text, size_t len,
                                        struct kcr_err *err)
{
    if (memchr(text, '\0', len)) {
        kcr_err_set(err, 0, KCR_ERR_INVALID, "'%s' is not a text file (NUL byte)", path);
        return NULL;
    }
    struct df_file *df = xcalloc(1, sizeof(*df));
    df->path = xstrdup(path);
    df->escape = '\\';
    size_t n;
    char **lines = split_lines(text, len, &n);
    char **ignore = NULL;
    size_t nignore = 0;
    for (size_t i = parse_directives(df, lines, n); i < n; i++) {
        const char *p = skip_ws(lines[i]);
        if (*p == '#') {
            parse_ignore(p, &ignore, &nignore);
            continue;
        }
        if (*p == '\0')
            continue;
        df->instrs = xrealloc(df->instrs, (df->ninstrs + 1) * sizeof(*df->instrs));
        struct df_instr *in = &df->instrs[df->ninstrs];
        memset(in, 0, sizeof(*in));
        in->line = (int)i + 1;
        in->ignore = TAKE_PTR(ignore);
        in->nignore = nignore;
        nignore = 0;
        read_logical_line(df, in, lines, n, &i);
        if (in->kind == DF_RUN || in->kind == DF_COPY || in->kind == DF_ADD) {
            read_heredocs(df, in, lines, n, &i);
            in->end_line = (int)i + 1;
        }
        df->ninstrs++;
        finish_instr(df, in, df->ninstrs - 1);
    }
    free_strv(ignore, nignore);
    free_strv(lines, n);
    if (df->nstages == 0)
        add_problem(df, 1, "no %s instruction", "FROM");
    return df;
}

struct df_file *dockerfile_parse_file(const char *path, struct kcr_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        kcr_err_set(err, errno, KCR_ERR_NOT_FOUND, "open '%s'", path);
        return NULL;
    }
    struct kcr_buf b;
    buf_init(&b, DF_MAX_FILE);
    int r = fs_read_all(fd, &b);
    if (r < 0) {
        buf_done(&b);
        kcr_err_set(err, -r, KCR_ERR_INTERNAL, "read '%s'", path);
        return NULL;
    }
    if (b.truncated) {
        buf_done(&b);
        kcr_err_set(err, 0, KCR_ERR_LIMIT, "'%s' is larger than %u bytes", path, DF_MAX_FILE);
        return NULL;
    }
    size_t len;
    _cleanup_free_ char *text = buf_take(&b, &len);
    return dockerfile_parse_string(path, text, len, err);
}

static void instr_done(struct df_instr *in)
{
    free(in->keyword);
    free(in->text);
    free(in->segs);
    free_strv(in->flags, in->nflags);
    free(in->rest);
    free_strv(in->argv, in->argc);
    for (size_t i = 0; i < in->nkvs; i++) {
        free(in->kvs[i].key);
        free(in->kvs[i].value);
    }
    free(in->kvs);
    for (size_t i = 0; i < in->nheredocs; i++) {
        free(in->heredocs[i].delim);
        free(in->heredocs[i].body);
    }
    free(in->heredocs);
    free_strv(in->ignore, in->nignore);
}

struct df_file *dockerfile_parse_free(struct df_file *df)
{
    if (!df)
        return NULL;
    for (size_t i = 0; i < df->ninstrs; i++)
        instr_done(&df->instrs[i]);
    free(df->instrs);
    for (size_t i = 0; i < df->nstages; i++) {
        free(df->stages[i].base);
        free(df->stages[i].name);
    }
    free(df->stages);
    for (size_t i = 0; i < df->nproblems; i++)
        free(df->problems[i].msg);
    free(df->problems);
    free(df->path);
    free(df);
    return NULL;
}
