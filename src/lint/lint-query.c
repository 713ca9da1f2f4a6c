/* lint-query — questions the lint rules ask of a parsed Dockerfile: which
 * stage is final, what an image or a COPY is, which words a RUN holds. */
#include "lint/lint-internal.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*** Helpers over stages and instructions ***/

int lq_final_stage(const struct df_file *df)
{
    return (int)df->nstages - 1;
}

/* The tag part of an image reference ("3.14-debian13-dev"), or "". */
const char *lq_image_tag(const char *image, char *buf, size_t size)
{
    const char *slash = strrchr(image, '/');
    const char *colon = strchr(slash ? slash : image, ':');
    if (!colon)
        return "";
    size_t n = strcspn(colon + 1, "@");
    if (n >= size)
        n = size - 1;
    memcpy(buf, colon + 1, n);
    buf[n] = '\0';
    return buf;
}

bool lq_stage_is_dev(const struct df_file *df, int st)
{
    _cleanup_free_ char *img = dockerfile_parse_stage_image(df, st);
    char buf[256];
    const char *tag = lq_image_tag(img, buf, sizeof(buf));
    size_t n = strlen(tag);
    size_t m = strlen(img);
    /* "${BASE}-dev" with BASE unknown has no tag to look at, but is still -dev. */
    return !strcmp(tag, "dev") || (n >= 4 && !strcmp(tag + n - 4, "-dev")) ||
           (m >= 4 && !strcmp(img + m - 4, "-dev"));
}

bool lq_image_is_dhi(const char *img)
{
    return !strncmp(img, "dhi.io/", 7);
}

bool lq_stage_is_dhi(const struct df_file *df, int st)
{
    _cleanup_free_ char *img = dockerfile_parse_stage_image(df, st);
    return lq_image_is_dhi(img);
}

/* A minimal DHI runtime image: no shell, no package manager. */
bool lq_stage_is_minimal(const struct df_file *df, int st)
{
    return lq_stage_is_dhi(df, st) && !lq_stage_is_dev(df, st);
}

/* The last instruction of `kind` in stage st or the stages it is built on. */
const struct df_instr *lq_last_of(const struct df_file *df, int st, enum df_kind kind)
{
    for (int guard = 0; st >= 0 && guard < 64; guard++) {
        const struct df_stage *s = &df->stages[st];
        for (size_t i = s->end; i-- > s->from + 1;)
            if (df->instrs[i].kind == kind)
                return &df->instrs[i];
        st = s->parent;
    }
    return NULL;
}

const char *lq_base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Index of the program in an exec-form argv that starts with env: skips env's
 * options and NAME=VALUE words. Returns argc when there is none. */
size_t lq_after_env(const struct df_instr *in)
{
    if (in->argc == 0 || strcmp(lq_base_name(in->argv[0]), "env") != 0)
        return 0;
    size_t i = 1;
    while (i < in->argc && (in->argv[i][0] == '-' || strchr(in->argv[i], '=')))
        i++;
    return i;
}

/* Whether the container's command (ENTRYPOINT + CMD) runs `sleep`: then the
 * image is a main container that the sidecar enters. */
const struct df_instr *lq_sleep_instr(const struct df_file *df, int st)
{
    const struct df_instr *ep = lq_last_of(df, st, DF_ENTRYPOINT);
    const struct df_instr *cmd = lq_last_of(df, st, DF_CMD);
    if (ep && ep->argc > 0) {
        size_t p = lq_after_env(ep);
        if (p < ep->argc)
            return !strcmp(lq_base_name(ep->argv[p]), "sleep") ? ep : NULL;
    }
    if (cmd && cmd->argc > 0 && !strcmp(lq_base_name(cmd->argv[0]), "sleep"))
        return cmd;
    return NULL;
}

size_t lq_instr_index(const struct df_file *df, const struct df_instr *in)
{
    return (size_t)(in - df->instrs);
}

/* Line of the first occurrence of needle in the instruction's text. */
int lq_line_of(const struct df_instr *in, const char *needle)
{
    const char *p = needle && *needle ? strstr(in->text, needle) : NULL;
    return p ? dockerfile_parse_line_at(in, (size_t)(p - in->text)) : in->line;
}

/* Sources of a COPY/ADD (all words but the last), shell or exec form. */
size_t lq_copy_nsrc(const struct df_instr *in)
{
    return in->argc > 1 ? in->argc - 1 : 0;
}

const char *lq_copy_dest(const struct df_instr *in)
{
    return in->argc > 0 ? in->argv[in->argc - 1] : "";
}

/* Stage a COPY --from refers to, or -1 (none, or an image). */
int lq_copy_from_stage(const struct df_file *df, const struct df_instr *in)
{
    const char *from = dockerfile_parse_flag(in, "from");
    if (!from)
        return -1;
    _cleanup_free_ char *ref = dockerfile_parse_expand(df, lq_instr_index(df, in), from);
    return dockerfile_parse_stage_ref(df, ref, in->stage);
}

/* Whether the COPY --from source is a DHI image (a stage built on one, or the image). */
bool lq_copy_from_dhi(const struct df_file *df, const struct df_instr *in)
{
    const char *from = dockerfile_parse_flag(in, "from");
    if (!from)
        return false;
    int st = lq_copy_from_stage(df, in);
    if (st >= 0)
        return lq_stage_is_dhi(df, st);
    _cleanup_free_ char *ref = dockerfile_parse_expand(df, lq_instr_index(df, in), from);
    return lq_image_is_dhi(ref);
}

/* Path without trailing slashes (a new string). */
char *lq_norm_path(const char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    return xstrndup(p, n);
}

bool lq_path_within(const char *a, const char *b)
{
    size_t n = strlen(b);
    return !strcmp(a, b) || (!strncmp(a, b, n) && (a[n] == '/' || !strcmp(b, "/")));
}

/* The user part of a --chown / USER value is the non-root DHI user. */
bool lq_is_nonroot_user(const char *u)
{
    size_t n = strcspn(u, ":");
    return (n == 5 && !strncmp(u, "65532", 5)) || (n == 7 && !strncmp(u, "nonroot", 7));
}

/* Whether RUN text in stage st (or its bases) contains every needle. */
bool lq_stage_run_has(const struct df_file *df, int st, const char *const *needles)
{
    for (int guard = 0; st >= 0 && guard < 64; guard++) {
        const struct df_stage *s = &df->stages[st];
        for (size_t i = s->from + 1; i < s->end; i++) {
            const struct df_instr *in = &df->instrs[i];
            if (in->kind != DF_RUN)
                continue;
            _cleanup_free_ char *t = dockerfile_parse_expand(df, i, in->text);
            bool all = true;
            for (const char *const *n = needles; *n && all; n++)
                all = strstr(t, *n) != NULL;
            if (all)
                return true;
        }
        st = s->parent;
    }
    return false;
}

/*** Words in RUN text (package names, commands) ***/

bool lq_word_char(char ch)
{
    return isalnum((unsigned char)ch) || strchr("._+-:=/@", ch);
}

/* Calls fn for every word of s (a RUN's text or heredoc body); line numbers
 * come from the instruction's segment map, or count from base_line. */
void lq_each_word(struct lint_ctx *c, const struct df_instr *in, const char *s, int base_line,
                  lint_word_fn fn)
{
    int line = base_line;
    for (const char *p = s; *p;) {
        if (*p == '\n')
            line++;
        if (!lq_word_char(*p)) {
            p++;
            continue;
        }
        const char *e = p;
        while (*e && lq_word_char(*e))
            e++;
        _cleanup_free_ char *w = xstrndup(p, (size_t)(e - p));
        const char *n = e;
        while (*n == ' ' || *n == '\t')
            n++;
        char next[32] = "";
        size_t k = 0;
        while (n[k] && lq_word_char(n[k]) && k + 1 < sizeof(next)) {
            next[k] = n[k];
            k++;
        }
        next[k] = '\0';
        int l = base_line ? line : dockerfile_parse_line_at(in, (size_t)(p - s));
        fn(c, in, w, l, next);
        p = e;
    }
}

void lq_each_run_word(struct lint_ctx *c, lint_word_fn fn)
{
    for (size_t i = 0; i < c->df->ninstrs; i++) {
        const struct df_instr *in = &c->df->instrs[i];
        if (in->kind != DF_RUN)
            continue;
        lq_each_word(c, in, in->text, 0, fn);
        for (size_t h = 0; h < in->nheredocs; h++)
            lq_each_word(c, in, in->heredocs[h].body, in->heredocs[h].line, fn);
    }
}

/* A package word without ":arch" or "=version". */
void lq_package_name(const char *w, char *out, size_t size)
{
    size_t n = strcspn(w, ":=");
    if (n >= size)
        n = size - 1;
    memcpy(out, w, n);
    out[n] = '\0';
}
