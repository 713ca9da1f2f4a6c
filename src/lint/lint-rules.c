#include "lint/lint-rules.h"
#include "lint/lint-internal.h"
#include "common/limits.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

/*** Reporting ***/

/* The guide's lesson of a rule id (from the rule table at the end). */
static const char *lesson_of(const char *rule);

static bool ignored(const struct df_instr *in, const char *rule)
{
    for (size_t i = 0; in && i < in->nignore; i++)
        if (!strcmp(in->ignore[i], rule) || !strcmp(in->ignore[i], "all"))
            return true;
    return false;
}

static void __attribute__((format(printf, 6, 7)))
report(struct lint_ctx *c, const struct df_instr *in, int line, const char *rule, const char *fix,
       const char *fmt, ...)
{
    if (ignored(in, rule))
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap, NULL);
    va_end(ap);
    struct lint_report *r = c->rep;
    r->items = xrealloc(r->items, (r->count + 1) * sizeof(*r->items));
    r->items[r->count++] = (struct lint_finding){
        .line = line,
        .rule = rule,
        .lesson = lesson_of(rule),
        .msg = msg,
        .fix = fix,
    };
}

/*** The rules ***/

/* Lesson 8 / "Image Variants": -dev images run as root; the final stage must end as 65532. */
static void rule_final_user(struct lint_ctx *c)
{
    int st = lq_final_stage(c->df);
    if (st < 0)
        return;
    const struct df_instr *user = lq_last_of(c->df, st, DF_USER);
    const struct df_instr *from = &c->df->instrs[c->df->stages[st].from];
    const char *fix = "end the final stage with 'USER 65532'";
    if (user) {
        _cleanup_free_ char *u = dockerfile_parse_expand(c->df, lq_instr_index(c->df, user),
                                                         user->argc ? user->argv[0] : "");
        if (!lq_is_nonroot_user(u))
            report(c, user, user->line, "final-user", fix,
                   "final stage runs as '%s', not the non-root user 65532", u);
    } else if (lq_stage_is_dev(c->df, st)) {
        report(c, from, from->line, "final-user", fix,
               "final stage is a -dev image (root by default) without a later USER 65532");
    }
}

/* Lesson 6: the main container starts through ENTRYPOINT ["/usr/bin/env","-i",...]
 * so /proc/<pid>/environ holds exactly the variables user code gets. */
static void rule_entrypoint_env(struct lint_ctx *c)
{
    int st = lq_final_stage(c->df);
    if (st < 0)
        return;
    const struct df_instr *ep = lq_last_of(c->df, st, DF_ENTRYPOINT);
    const struct df_instr *sl = lq_sleep_instr(c->df, st);
    const char *fix = "ENTRYPOINT [\"/usr/bin/env\", \"-i\", \"PATH=...\", \"HOME=/tmp\", "
                      "\"TMPDIR=/tmp\", <language variables>]";
    bool uses_env = ep && ep->argc > 0 && !strcmp(lq_base_name(ep->argv[0]), "env");
    if (!uses_env) {
        if (sl)
            report(c, ep ? ep : sl, ep ? ep->line : sl->line, "entrypoint-env", fix,
                   "main container image (CMD sleep) without the env -i ENTRYPOINT");
        return;
    }
    if (!ep->exec_form) {
        report(c, ep, ep->line, "entrypoint-env", fix, "shell-form ENTRYPOINT: use exec form");
        return;
    }
    if (strcmp(ep->argv[0], "/usr/bin/env") != 0)
        report(c, ep, ep->line, "entrypoint-env", fix,
               "ENTRYPOINT runs '%s': the sidecar needs /usr/bin/env by absolute path",
               ep->argv[0]);
    if (ep->argc < 2 || (strcmp(ep->argv[1], "-i") && strcmp(ep->argv[1], "--ignore-environment")))
        report(c, ep, ep->line, "entrypoint-env", fix,
               "ENTRYPOINT env without -i: the environment is not sanitized");
    static const char *const need[] = {"PATH=", "HOME=", "TMPDIR="};
    for (size_t k = 0; k < ARRAY_SIZE(need); k++) {
        bool found = false;
        for (size_t i = 1; i < ep->argc && !found; i++)
            found = !strncmp(ep->argv[i], need[k], strlen(need[k]));
        if (!found)
            report(c, ep, ep->line, "entrypoint-env", fix,
                   "env -i ENTRYPOINT does not set %.*s explicitly", (int)strlen(need[k]) - 1,
                   need[k]);
    }
}

/* The command the runtime starts, as it joins them: an exec-form ENTRYPOINT
 * followed by CMD; a shell-form one (`/bin/sh -c TEXT`) alone, CMD ignored;
 * a shell-form CMD as `/bin/sh -c TEXT`. Borrowed strings, at most max. */
static size_t effective_command(const struct df_instr *ep, const struct df_instr *cmd,
                                const char **out, size_t max)
{
    size_t n = 0;
    const struct df_instr *parts[2] = {ep, ep && !ep->exec_form ? NULL : cmd};
    for (size_t p = 0; p < 2; p++) {
        const struct df_instr *in = parts[p];
        if (!in)
            continue;
        if (!in->exec_form) {
            const char *sh[] = {"/bin/sh", "-c", in->rest};
            for (size_t i = 0; i < 3 && n < max; i++)
                out[n++] = sh[i];
            continue;
        }
        for (size_t i = 0; i < in->argc && n < max; i++)
            out[n++] = in->argv[i];
    }
    return n;
}

static bool mentions_sleep(const struct df_instr *in)
{
    for (size_t i = 0; in && i < in->argc; i++)
        if (!strcmp(lq_base_name(in->argv[i]), "sleep"))
            return true;
    return false;
}

/* Lesson 6: a main container must *be* `sleep infinity` (the sidecar finds it
 * by name and enters it): judged on the effective command, where an
 * ENTRYPOINT program turns CMD ["sleep", ...] into its arguments. */
static void rule_main_command(struct lint_ctx *c)
{
    int st = lq_final_stage(c->df);
    if (st < 0)
        return;
    const struct df_instr *ep = lq_last_of(c->df, st, DF_ENTRYPOINT);
    const struct df_instr *cmd = lq_last_of(c->df, st, DF_CMD);
    if (!mentions_sleep(ep) && !mentions_sleep(cmd))
        return;
    const char *argv[256];
    size_t n = effective_command(ep, cmd, argv, ARRAY_SIZE(argv)), p = 0;
    if (n > 0 && !strcmp(lq_base_name(argv[0]), "env")) /* env's options and NAME=VALUE */
        for (p = 1; p < n && (argv[p][0] == '-' || strchr(argv[p], '=')); p++)
            ;
    if (p < n && !strcmp(lq_base_name(argv[p]), "sleep"))
        return;
    /* sh -c "sleep ..." (shell form): the shell runs sleep as its last command. */
    if (p + 2 < n && !strcmp(lq_base_name(argv[p]), "sh") && !strcmp(argv[p + 1], "-c") &&
        !strncmp(argv[p + 2], "sleep", 5))
        return;
    const struct df_instr *at = ep ? ep : cmd;
    report(c, at, at->line, "main-command",
           "ENTRYPOINT [\"/usr/bin/env\", \"-i\", <variables>] with CMD [\"sleep\", \"infinity\"]",
           "the container runs '%s', not sleep (ENTRYPOINT + CMD as the runtime joins them): "
           "sleep is only an argument",
           p < n ? argv[p] : "nothing");
}

/* Lesson 5: exec form does not expand variables. */
static void rule_exec_form_var(struct lint_ctx *c)
{
    for (size_t i = 0; i < c->df->ninstrs; i++) {
        const struct df_instr *in = &c->df->instrs[i];
        if (!in->exec_form || (in->kind != DF_ENTRYPOINT && in->kind != DF_CMD))
            continue;
        for (size_t a = 0; a < in->argc; a++) {
            const char *d = strchr(in->argv[a], '$');
            if (!d || !(isalpha((unsigned char)d[1]) || d[1] == '_' || d[1] == '{'))
                continue;
            report(c, in, lq_line_of(in, "$"), "exec-form-var",
                   "write the literal path (use a version-agnostic symlink, lesson 5)",
                   "exec-form %s argument '%s' is not expanded (no shell)", in->keyword,
                   in->argv[a]);
            break;
        }
    }
}

/* Lessons 5 and 6: versioned install paths in ENTRYPOINT/CMD break on upgrades. */
static void rule_versioned_path(struct lint_ctx *c)
{
    for (size_t i = 0; i < c->df->ninstrs; i++) {
        const struct df_instr *in = &c->df->instrs[i];
        if (in->kind != DF_ENTRYPOINT && in->kind != DF_CMD)
            continue;
        for (size_t a = 0; a < in->argc; a++) {
            const char *s = in->argv[a];
            const char *php = strstr(s, "/opt/php-");
            if (strstr(s, "/opt/nodejs/node-") || (php && isdigit((unsigned char)php[9]))) {
                report(c, in, lq_line_of(in, php ? "/opt/php-" : "/opt/nodejs/node-"),
                       "versioned-path",
                       "RUN ln -sf <versioned dir> /opt/node (or /opt/php) and use the symlink",
                       "%s uses the versioned path '%s'", in->keyword, s);
                break;
            }
        }
    }
}

/* Lessons 6 and 7: a minimal image has no shell: no shell-form RUN/CMD/ENTRYPOINT,
 * and no `sh -c` chains (use a wrapper script). */
static void rule_no_shell(struct lint_ctx *c)
{
    int st = lq_final_stage(c->df);
    if (st < 0 || !lq_stage_is_minimal(c->df, st))
        return;
    const struct df_stage *s = &c->df->stages[st];
    for (size_t i = s->from + 1; i < s->end; i++) {
        const struct df_instr *in = &c->df->instrs[i];
        if (in->kind != DF_RUN && in->kind != DF_CMD && in->kind != DF_ENTRYPOINT)
            continue;
        if (!in->exec_form) {
            report(c, in, in->line, "no-shell",
                   "use exec form, or do the work in a -dev stage and COPY the result",
                   "shell-form %s in a minimal image, which has no shell", in->keyword);
            continue;
        }
        size_t p = lq_after_env(in);
        const char *prog = p < in->argc ? lq_base_name(in->argv[p]) : "";
        if (!strcmp(prog, "sh") || !strcmp(prog, "bash") || !strcmp(prog, "dash"))
            report(c, in, in->line, "shell-chain",
                   "replace the shell chain with a wrapper script (e.g. ts-runner.js)",
                   "%s runs '%s' in a minimal image", in->keyword, in->argv[p]);
    }
}

/* Whether stage st's COPY/ADD instructions put a file named name into /usr/bin or /bin. */
static bool stage_copies_bin(const struct df_file *df, int st, const char *name)
{
    for (int guard = 0; st >= 0 && guard < 64; guard++) {
        const struct df_stage *s = &df->stages[st];
        for (size_t i = s->from + 1; i < s->end; i++) {
            const struct df_instr *in = &df->instrs[i];
            if ((in->kind != DF_COPY && in->kind != DF_ADD) || in->argc < 2)
                continue;
            _cleanup_free_ char *dest = lq_norm_path(lq_copy_dest(in));
            const char *bn = lq_base_name(dest);
            if (!strcmp(bn, name) && (!strncmp(dest, "/usr/bin/", 9) || !strncmp(dest, "/bin/", 5)))
                return true;
            if (strcmp(dest, "/usr/bin") != 0 && strcmp(dest, "/bin") != 0)
                continue;
            for (size_t k = 0; k < lq_copy_nsrc(in); k++)
                if (!strcmp(lq_base_name(in->argv[k]), name) || !strcmp(in->argv[k], "/usr/bin/") ||
                    !strcmp(in->argv[k], "/usr/bin"))
                    return true;
        }
        st = s->parent;
    }
    return false;
}

/* Lessons 6 and 13: a minimal image has neither env nor sleep unless copied in. */
static void rule_env_sleep_copied(struct lint_ctx *c)
{
    int st = lq_final_stage(c->df);
    if (st < 0 || !lq_stage_is_minimal(c->df, st))
        return;
    const struct df_instr *ep = lq_last_of(c->df, st, DF_ENTRYPOINT);
    if (ep && ep->argc > 0 && !strcmp(lq_base_name(ep->argv[0]), "env") &&
        !stage_copies_bin(c->df, st, "env"))
        report(c, ep, ep->line, "env-copied",
               "COPY --from=<-dev stage> /usr/bin/env /usr/bin/sleep /usr/bin/",
               "ENTRYPOINT uses env, but the minimal image has no /usr/bin/env");
    const struct df_instr *sl = lq_sleep_instr(c->df, st);
    if (sl && !stage_copies_bin(c->df, st, "sleep"))
        report(c, sl, sl->line, "sleep-copied",
               "COPY --from=<-dev stage> /usr/bin/env /usr/bin/sleep /usr/bin/",
               "%s runs sleep, but the minimal image has no sleep binary", sl->keyword);
}

/* Lesson 8: the working directory belongs to 65532 in main container images. */
static void rule_mnt_data_owner(struct lint_ctx *c)
{
    int st = lq_final_stage(c->df);
    if (st < 0 || !lq_sleep_instr(c->df, st))
        return;
    static const char *const chown_needles[] = {"chown", "65532", KCR_WORKDIR, NULL};
    if (lq_stage_run_has(c->df, st, chown_needles))
        return;
    for (int s = st, guard = 0; s >= 0 && guard < 64; s = c->df->stages[s].parent, guard++) {
        for (size_t i = c->df->stages[s].from + 1; i < c->df->stages[s].end; i++) {
            const struct df_instr *in = &c->df->instrs[i];
            if (in->kind != DF_COPY || in->argc < 2)
                continue;
            _cleanup_free_ char *dest = lq_norm_path(lq_copy_dest(in));
            if (strcmp(dest, KCR_WORKDIR) != 0)
                continue;
            const char *own = dockerfile_parse_flag(in, "chown");
            int from = lq_copy_from_stage(c->df, in);
            if ((own && lq_is_nonroot_user(own)) ||
                (from >= 0 && lq_stage_run_has(c->df, from, chown_needles)))
                return;
        }
    }
    const struct df_instr *from = &c->df->instrs[c->df->stages[st].from];
    report(c, from, from->line, "mnt-data-owner",
           "RUN mkdir -p /mnt/data && chown 65532:65532 /mnt/data in a -dev stage, then COPY "
           "--from=<stage> /mnt/data /mnt/data",
           "/mnt/data is not made owned by 65532 in this main container image");
}

/* Lesson 3: DHI Python lives in /opt/python, not /usr/local. */
static void rule_python_path(struct lint_ctx *c)
{
    for (size_t i = 0; i < c->df->ninstrs; i++) {
        const struct df_instr *in = &c->df->instrs[i];
        if (in->kind != DF_COPY || !lq_copy_from_dhi(c->df, in))
            continue;
        for (size_t k = 0; k < lq_copy_nsrc(in); k++) {
            _cleanup_free_ char *src = dockerfile_parse_expand(c->df, i, in->argv[k]);
            if (strncmp(src, "/usr/local/lib/python", 21) &&
                strncmp(src, "/usr/local/bin/python", 21))
                continue;
            report(c, in, lq_line_of(in, in->argv[k]), "python-path",
                   "copy /opt/python/lib/python<ver>/site-packages and /opt/python/bin instead",
                   "'%s' does not exist in DHI Python images (Python is in /opt/python)", src);
        }
    }
}

/* Lesson 11: what a RUN put under --mount=type=cache is not in the stage's layers. */
static void check_cache_overlap(struct lint_ctx *c, const struct df_instr *copy, const char *src,
                                int st, const char *raw)
{
    for (int guard = 0; st >= 0 && guard < 64; guard++) {
        const struct df_stage *s = &c->df->stages[st];
        for (size_t i = s->from + 1; i < s->end; i++) {
            const struct df_instr *run = &c->df->instrs[i];
            for (size_t m = 0; run->kind == DF_RUN; m++) {
                const char *mount = dockerfile_parse_flag_nth(run, "mount", m);
                if (!mount)
                    break;
                if (!strstr(mount, "type=cache"))
                    continue;
                const char *t = strstr(mount, "target=");
                t = t ? t + 7 : strstr(mount, "dst=") ? strstr(mount, "dst=") + 4 : NULL;
                if (!t)
                    continue;
                _cleanup_free_ char *raw_t = xstrndup(t, strcspn(t, ","));
                _cleanup_free_ char *exp = dockerfile_parse_expand(c->df, i, raw_t);
                _cleanup_free_ char *target = lq_norm_path(exp);
                if (!lq_path_within(src, target) && !lq_path_within(target, src))
                    continue;
                report(c, copy, lq_line_of(copy, raw), "cache-mount-copy",
                       "drop --mount=type=cache from that RUN (the final image needs the files)",
                       "'%s' was filled under --mount=type=cache,target=%s (line %d): cache "
                       "mounts are not part of the image",
                       src, target, run->line);
                return;
            }
        }
        st = s->parent;
    }
}

static void rule_cache_mount(struct lint_ctx *c)
{
    for (size_t i = 0; i < c->df->ninstrs; i++) {
        const struct df_instr *in = &c->df->instrs[i];
        int st = in->kind == DF_COPY ? lq_copy_from_stage(c->df, in) : -1;
        if (st < 0)
            continue;
        for (size_t k = 0; k < lq_copy_nsrc(in); k++) {
            _cleanup_free_ char *exp = dockerfile_parse_expand(c->df, i, in->argv[k]);
            _cleanup_free_ char *src = lq_norm_path(exp);
            check_cache_overlap(c, in, src, st, in->argv[k]);
        }
    }
}

static bool is_arch_dir(const char *p)
{
    return !strcmp(p, "/usr/lib/x86_64-linux-gnu") || !strcmp(p, "/usr/lib/aarch64-linux-gnu");
}

/* Lesson 4: copying an arch library dir needs both dirs to exist in the source stage
 * (one is empty on each architecture) and both to be copied. */
static void rule_multiarch(struct lint_ctx *c)
{
    static const char *const both[] = {"mkdir", "/usr/lib/x86_64-linux-gnu",
                                       "/usr/lib/aarch64-linux-gnu", NULL};
    for (size_t i = 0; i < c->df->ninstrs; i++) {
        const struct df_instr *in = &c->df->instrs[i];
        int from = in->kind == DF_COPY ? lq_copy_from_stage(c->df, in) : -1;
        if (from < 0)
            continue;
        for (size_t k = 0; k < lq_copy_nsrc(in); k++) {
            _cleanup_free_ char *exp = dockerfile_parse_expand(c->df, i, in->argv[k]);
            _cleanup_free_ char *src = lq_norm_path(exp);
            if (!is_arch_dir(src))
                continue;
            if (!lq_stage_run_has(c->df, from, both))
                report(c, in, lq_line_of(in, in->argv[k]), "multiarch-dirs",
                       "RUN mkdir -p /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu in "
                       "that stage",
                       "stage '%s' does not create both multi-arch library dirs; the COPY of "
                       "'%s' fails on the other architecture",
                       dockerfile_parse_flag(in, "from"), src);
            const char *other =
                strstr(src, "x86_64") ? "/usr/lib/aarch64-linux-gnu" : "/usr/lib/x86_64-linux-gnu";
            bool copied = false;
            const struct df_stage *s = &c->df->stages[in->stage];
            for (size_t j = s->from + 1; j < s->end && !copied; j++) {
                const struct df_instr *o = &c->df->instrs[j];
                if (o->kind != DF_COPY || lq_copy_from_stage(c->df, o) != from)
                    continue;
                for (size_t m = 0; m < lq_copy_nsrc(o) && !copied; m++) {
                    _cleanup_free_ char *e2 = dockerfile_parse_expand(c->df, j, o->argv[m]);
                    _cleanup_free_ char *p2 = lq_norm_path(e2);
                    copied = !strcmp(p2, other);
                }
            }
            if (!copied)
                report(c, in, lq_line_of(in, in->argv[k]), "multiarch-dirs",
                       "COPY both /usr/lib/x86_64-linux-gnu and /usr/lib/aarch64-linux-gnu",
                       "copies '%s' but not '%s': the image only works on one architecture", src,
                       other);
        }
    }
}

/* Lesson 10: the module cache copied from a root build stage must belong to 65532. */
static void rule_go_mod_chown(struct lint_ctx *c)
{
    for (size_t i = 0; i < c->df->ninstrs; i++) {
        const struct df_instr *in = &c->df->instrs[i];
        if (in->kind != DF_COPY || !dockerfile_parse_flag(in, "from"))
            continue;
        const char *own = dockerfile_parse_flag(in, "chown");
        if (own && lq_is_nonroot_user(own))
            continue;
        for (size_t k = 0; k < lq_copy_nsrc(in); k++) {
            _cleanup_free_ char *exp = dockerfile_parse_expand(c->df, i, in->argv[k]);
            _cleanup_free_ char *src = lq_norm_path(exp);
            size_t n = strlen(src);
            if (n < 8 || strcmp(src + n - 8, "/pkg/mod") != 0)
                continue;
            report(c, in, lq_line_of(in, in->argv[k]), "go-mod-chown",
                   "COPY --from=<stage> --chown=65532:65532 /go/pkg/mod /go/pkg/mod",
                   "Go module cache '%s' copied without --chown=65532: go cannot add modules "
                   "at run time",
                   src);
        }
    }
}

/* Lesson 9: Debian 13 renamed the 64-bit time_t libraries. */
static void word_debian13(struct lint_ctx *c, const struct df_instr *in, const char *w, int line,
                          const char *next)
{
    (void)next;
    char name[128];
    lq_package_name(w, name, sizeof(name));
    if (!strcmp(name, "libssl3") || !strcmp(name, "libpng16-16"))
        report(c, in, line, "debian13-names",
               !strcmp(name, "libssl3") ? "install libssl3t64" : "install libpng16-16t64",
               "'%s' does not exist in Debian 13 (trixie)", name);
}

static void rule_debian13(struct lint_ctx *c)
{
    lq_each_run_word(c, word_debian13);
}

/* "Packages to Avoid" and lesson 1: the X11 chain (x11-common needs update-rc.d). */
static void word_x11(struct lint_ctx *c, const struct df_instr *in, const char *w, int line,
                     const char *next)
{
    (void)next;
    static const char *const prefixes[] = {"libcairo", "libpango", "tk8.",       "tcl8.6-dev",
                                           "tk-dev",   "pygame",   "python3-tk", "x11-common"};
    char name[128];
    lq_package_name(w, name, sizeof(name));
    for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) {
            report(c, in, line, "x11-packages",
                   "drop it (matplotlib has non-Cairo backends, Pillow and reportlab need no X11)",
                   "'%s' pulls in the X11 chain the guide says to avoid", name);
            return;
        }
}

static void rule_x11(struct lint_ctx *c)
{
    lq_each_run_word(c, word_x11);
}

/* Whether stage st builds on a Debian image (DHI "-debianNN", debian-base,
 * Debian release names): lesson 12 is about migrating from Alpine to those. */
static bool stage_is_debian(const struct df_file *df, int st)
{
    if (st < 0)
        return false;
    _cleanup_free_ char *img = dockerfile_parse_stage_image(df, st);
    static const char *const marks[] = {"debian", "trixie", "bookworm", "ubuntu"};
    for (size_t i = 0; i < ARRAY_SIZE(marks); i++)
        if (strstr(img, marks[i]))
            return true;
    return false;
}

/* Lesson 12: Alpine idioms in a Debian-based image. */
static void word_alpine(struct lint_ctx *c, const struct df_instr *in, const char *w, int line,
                        const char *next)
{
    const char *fix = NULL;
    if (!stage_is_debian(c->df, in->stage))
        return;
    if (!strcmp(w, "apk") && (!strcmp(next, "add") || !strcmp(next, "del") ||
                              !strcmp(next, "update") || !strcmp(next, "upgrade")))
        fix = "use apt-get install -y --no-install-recommends ... && rm -rf /var/lib/apt/lists/*";
    else if (!strcmp(w, "musl-dev"))
        fix = "use libc6-dev";
    else if (!strcmp(w, "adduser") && !strcmp(next, "-D"))
        fix = "DHI images already have UID 65532; use it (or useradd)";
    if (fix)
        report(c, in, line, "alpine-idiom", fix, "Alpine idiom '%s%s%s' in a Debian image", w,
               *next ? " " : "", next);
}

static void rule_alpine(struct lint_ctx *c)
{
    lq_each_run_word(c, word_alpine);
}

/* Lesson 16: a version literal repeated outside FROM wants an ARG. */
static void rule_version_arg(struct lint_ctx *c)
{
    for (size_t s = 0; s < c->df->nstages; s++) {
        char buf[256];
        const char *tag = lq_image_tag(c->df->stages[s].base, buf, sizeof(buf));
        size_t n = 0;
        while (isdigit((unsigned char)tag[n]) ||
               (tag[n] == '.' && isdigit((unsigned char)tag[n + 1])))
            n++;
        if (n == 0 || !memchr(tag, '.', n))
            continue;
        _cleanup_free_ char *ver = xstrndup(tag, n);
        bool seen_before = false;
        for (size_t t = 0; t < s; t++) {
            char b2[256];
            seen_before |= !strncmp(lq_image_tag(c->df->stages[t].base, b2, sizeof(b2)), ver, n);
        }
        if (seen_before)
            continue;
        int hits = 0;
        for (size_t i = 0; i < c->df->ninstrs; i++) {
            const struct df_instr *in = &c->df->instrs[i];
            if (in->kind == DF_FROM || in->kind == DF_ARG)
                continue;
            for (const char *p = strstr(in->text, ver); p; p = strstr(p + 1, ver)) {
                bool l = p > in->text && (isdigit((unsigned char)p[-1]) || p[-1] == '.');
                bool r = isdigit((unsigned char)p[n]) ||
                         (p[n] == '.' && isdigit((unsigned char)p[n + 1]));
                if (l || r)
                    continue;
                if (++hits == 2)
                    report(c, in, dockerfile_parse_line_at(in, (size_t)(p - in->text)),
                           "version-arg",
                           "declare ARG <NAME>_VERSION before FROM and use ${<NAME>_VERSION}",
                           "version '%s' of the base image is repeated here", ver);
                break;
            }
        }
    }
}

static void rule_syntax(struct lint_ctx *c)
{
    for (size_t i = 0; i < c->df->nproblems; i++)
        report(c, NULL, c->df->problems[i].line, "syntax", "fix the Dockerfile syntax", "%s",
               c->df->problems[i].msg);
}

static const struct {
    const char *id;
    const char *lesson;
    void (*check)(struct lint_ctx *c);
} rules[] = {
    {"syntax", NULL, rule_syntax},
    {"final-user", "8", rule_final_user},
    {"entrypoint-env", "6", rule_entrypoint_env},
    {"main-command", "6", rule_main_command},
    {"exec-form-var", "5", rule_exec_form_var},
    {"versioned-path", "5", rule_versioned_path},
    {"no-shell", "6", rule_no_shell},
    {"shell-chain", "7", NULL},
    {"env-copied", "6", rule_env_sleep_copied},
    {"sleep-copied", "13", NULL},
    {"mnt-data-owner", "8", rule_mnt_data_owner},
    {"python-path", "3", rule_python_path},
    {"cache-mount-copy", "11", rule_cache_mount},
    {"multiarch-dirs", "4", rule_multiarch},
    {"go-mod-chown", "10", rule_go_mod_chown},
    {"debian13-names", "9", rule_debian13},
    {"x11-packages", "1", rule_x11},
    {"alpine-idiom", "12", rule_alpine},
    {"version-arg", "16", rule_version_arg},
};

static const char *lesson_of(const char *rule)
{
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
        if (!strcmp(rules[i].id, rule))
            return rules[i].lesson;
    return NULL;
}

const char *const *lint_rules_ids(void)
{
    static const char *ids[ARRAY_SIZE(rules) + 1];
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
        ids[i] = rules[i].id;
    return ids;
}

static int by_line(const void *a, const void *b)
{
    const struct lint_finding *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return strcmp(x->rule, y->rule);
}

void lint_rules_check(const struct df_file *df, struct lint_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    rep->path = xstrdup(df->path);
    struct lint_ctx c = {.df = df, .rep = rep};
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
        if (rules[i].check && (df->nstages > 0 || rules[i].check == rule_syntax))
            rules[i].check(&c);
    if (rep->count > 1)
        qsort(rep->items, rep->count, sizeof(*rep->items), by_line);
}

void lint_rules_print(const struct lint_report *rep, FILE *out)
{
    for (size_t i = 0; i < rep->count; i++) {
        const struct lint_finding *f = &rep->items[i];
        if (f->lesson)
            fprintf(out, "%s:%d: [%s] lesson %s: %s; fix: %s\n", rep->path, f->line, f->rule,
                    f->lesson, f->msg, f->fix);
        else
            fprintf(out, "%s:%d: [%s] %s; fix: %s\n", rep->path, f->line, f->rule, f->msg, f->fix);
    }
}

void lint_rules_report_done(struct lint_report *rep)
{
    for (size_t i = 0; i < rep->count; i++)
        free(rep->items[i].msg);
    free(rep->items);
    free(rep->path);
    memset(rep, 0, sizeof(*rep));
}
