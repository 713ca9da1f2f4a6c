#include "common/lang.h"
#include "common/cleanup.h"
#include "common/limits.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Variables every language's main container gets. PATH puts /opt/kcr/bin first:
 * local pods put version-agnostic names (python, node) there, as the images do. */
#define BASE_ENV                                                                                   \
    "PATH=/opt/kcr/bin:/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", "LANG=C.UTF-8"

/* node: the read-only npm libraries; libuv's io_uring off, since seccomp
 * refuses io_uring in pods (libuv falls back, but need not probe). */
#define NODE_ENV "NODE_PATH=/opt/kcr/node_modules", "UV_USE_IO_URING=0"

static const struct kcr_lang langs[] = {
    {
        .code = "py",
        .name = "Python",
        .file = "code.py",
        .image = "python",
        .steps = {{"python", "{file}", "{args}", NULL}},
        .env = {BASE_ENV, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "MPLBACKEND=Agg",
                "MPLCONFIGDIR=/tmp/matplotlib",
                /* No script directory first on sys.path: /mnt/data/code.py would
                 * shadow the stdlib's `code` (pdb, hence sympy, import it).
                 * /opt/kcr/python/sitecustomize.py appends /mnt/data instead. */
                "PYTHONSAFEPATH=1", "PYTHONPATH=/opt/kcr/python",
                /* OpenBLAS would start a thread per CPU of the node at `import
                 * numpy` (the pod's CPU limit is not what it counts), each one
                 * a process against MAX_PIDS; a fork-server runner has one
                 * BLAS thread anyway (docs/local-pods.md). */
                "OPENBLAS_NUM_THREADS=1", NULL},
        .time_mult = 1.0,
        .mem_mult = 1.0,
    },
    {
        .code = "js",
        .name = "JavaScript",
        .file = "code.js",
        .image = "nodejs",
        .steps = {{"node", "{file}", "{args}", NULL}},
        .env = {BASE_ENV, NODE_ENV, NULL},
        .time_mult = 1.0,
        .mem_mult = 1.0,
    },
    {
        .code = "ts",
        .name = "TypeScript",
        .file = "code.ts",
        .image = "nodejs",
        /* ts-runner type-checks with the TypeScript compiler API in-process
         * (1-2 s, ~170 MB for a small program), emits to /tmp, then runs. */
        .steps = {{"node", "/opt/kcr/ts-runner.js", "{file}", "{args}", NULL}},
        .env = {BASE_ENV, NODE_ENV, NULL},
        .time_mult = 2.0,
        .mem_mult = 1.5,
    },
    {
        .code = "go",
        .name = "Go",
        .file = "main.go",
        .image = "go",
        /* go build + run rather than `go run`: the program's own exit status
         * and stdin, no "exit status N" line from the go tool. */
        .steps = {{"go", "build", "-o", "/tmp/main", "{file}", NULL},
                  {"/tmp/main", "{args}", NULL}},
        /* CGO_ENABLED=1 matches how Debian precompiled the standard library:
         * with 0, net and os/user are rebuilt into the empty GOCACHE (5 s). */
        .env = {BASE_ENV, "GOCACHE=/tmp/go-build", "GOPATH=/tmp/go", "GOPROXY=off", "GOSUMDB=off",
                "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "CGO_ENABLED=1", NULL},
        .time_mult = 2.0,
        .mem_mult = 1.2,
    },
    {
        .code = "java",
        .name = "Java",
        .file = "Code.java",
        .image = "java",
        /* JVM options as arguments, not JAVA_TOOL_OPTIONS: the JVM announces
         * that variable on stderr ("Picked up ...") in every run. Serial GC
         * and C1 only: faster start-up, less memory for short programs. */
        .steps = {{"javac", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-encoding", "UTF-8",
                   "-d", "/tmp/classes", "{file}", NULL},
                  {"java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                   "/tmp/classes:" KCR_WORKDIR, "{class}", "{args}", NULL}},
        .env = {BASE_ENV, NULL},
        /* The JDK's conf/ and security files are symlinks into /etc. */
        .host_paths = {"/etc/java-17-openjdk", "/etc/java-21-openjdk", NULL},
        .time_mult = 2.0,
        .mem_mult = 1.5,
    },
    {
        .code = "c",
        .name = "C",
        .file = "code.c",
        .image = "c-cpp",
        .steps = {{"gcc", "-O2", "-o", "/tmp/code", "{file}", "-lm", NULL},
                  {"/tmp/code", "{args}", NULL}},
        .env = {BASE_ENV, NULL},
        .time_mult = 1.5,
        .mem_mult = 1.0,
    },
    {
        .code = "cpp",
        .name = "C++",
        .file = "code.cpp",
        .image = "c-cpp",
        .steps = {{"g++", "-O2", "-o", "/tmp/code", "{file}", "-lm", NULL},
                  {"/tmp/code", "{args}", NULL}},
        .env = {BASE_ENV, NULL},
        .time_mult = 1.5,
        .mem_mult = 1.0,
    },
    {
        .code = "php",
        .name = "PHP",
        .file = "code.php",
        .image = "php",
        .steps = {{"php", "{file}", "{args}", NULL}},
        .env = {BASE_ENV, NULL},
        /* php.ini (errors to stderr, not stdout) and the extensions' conf.d. */
        .host_paths = {"/etc/php", NULL},
        .time_mult = 1.0,
        .mem_mult = 1.0,
    },
    {
        .code = "rs",
        .name = "Rust",
        .file = "main.rs",
        .image = "rust",
        /* Edition 2021 as cargo new would; rustc alone defaults to 2015. */
        .steps = {{"rustc", "--edition", "2021", "-O", "-o", "/tmp/main", "{file}", NULL},
                  {"/tmp/main", "{args}", NULL}},
        .env = {BASE_ENV, "CARGO_NET_OFFLINE=true", NULL},
        .time_mult = 3.0,
        .mem_mult = 1.5,
    },
    {
        .code = "r",
        .name = "R",
        .file = "code.r",
        .image = "r",
        .steps = {{"Rscript", "{file}", "{args}", NULL}},
        .env = {BASE_ENV, NULL},
        /* /usr/lib/R/etc/{Renviron,ldpaths,...} are symlinks into /etc/R. */
        .host_paths = {"/etc/R", NULL},
        .time_mult = 1.5,
        .mem_mult = 1.2,
    },
    {
        .code = "f90",
        .name = "Fortran",
        .file = "code.f90",
        .image = "fortran",
        .steps = {{"gfortran", "-O2", "-J", "/tmp", "-o", "/tmp/code", "{file}", NULL},
                  {"/tmp/code", "{args}", NULL}},
        .env = {BASE_ENV, NULL},
        .time_mult = 2.0,
        .mem_mult = 1.0,
    },
    {
        .code = "d",
        .name = "D",
        .file = "code.d",
        .image = "d",
        .steps = {{"ldc2", "-od=/tmp", "-of=/tmp/code", "{file}", NULL},
                  {"/tmp/code", "{args}", NULL}},
        .env = {BASE_ENV, NULL},
        /* ldc2 finds druntime/phobos through its config file. */
        .host_paths = {"/etc/ldc2.conf", NULL},
        .time_mult = 2.0,
        .mem_mult = 1.2,
    },
    {
        .code = "bash",
        .name = "Bash",
        .file = "code.sh",
        .image = "bash",
        .steps = {{"bash", "{file}", "{args}", NULL}},
        .env = {BASE_ENV, NULL},
        .time_mult = 1.0,
        .mem_mult = 1.0,
    },
};

const struct kcr_lang *lang_find(const char *code)
{
    if (!code)
        return NULL;
    for (size_t i = 0; i < sizeof(langs) / sizeof(langs[0]); i++)
        if (!strcasecmp(langs[i].code, code))
            return &langs[i];
    return NULL;
}

const struct kcr_lang *lang_all(size_t *ret_count)
{
    *ret_count = sizeof(langs) / sizeof(langs[0]);
    return langs;
}

int lang_nsteps(const struct kcr_lang *lang)
{
    int n = 0;
    while (n < KCR_LANG_MAX_STEPS && lang->steps[n][0])
        n++;
    return n;
}

/* Finds "public [final|abstract] class Name" at the start of a line-ish
 * position. Comments are not parsed; good enough to pick the file name javac
 * insists on, and javac reports anything subtler itself. */
static bool java_public_class(const char *code, char *out, size_t size)
{
    for (const char *p = code; (p = strstr(p, "public")); p += 6) {
        if (p != code && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        const char *q = p + 6;
        for (;;) {
            while (isspace((unsigned char)*q))
                q++;
            if (!strncmp(q, "final", 5) && isspace((unsigned char)q[5]))
                q += 5;
            else if (!strncmp(q, "abstract", 8) && isspace((unsigned char)q[8]))
                q += 8;
            else if (!strncmp(q, "strictfp", 8) && isspace((unsigned char)q[8]))
                q += 8;
            else
                break;
        }
        if (strncmp(q, "class", 5) || !isspace((unsigned char)q[5]))
            continue;
        q += 5;
        while (isspace((unsigned char)*q))
            q++;
        size_t n = 0;
        while ((isalnum((unsigned char)q[n]) || q[n] == '_' || q[n] == '$') && n + 1 < size)
            n++;
        if (n == 0 || isdigit((unsigned char)q[0]))
            continue;
        memcpy(out, q, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

char *lang_code_file(const struct kcr_lang *lang, const char *code, char *ret_class,
                     size_t class_size)
{
    if (class_size)
        ret_class[0] = '\0';
    if (strcmp(lang->code, "java") != 0)
        return xstrdup(lang->file);
    char cls[128];
    if (!java_public_class(code, cls, sizeof(cls)))
        strcpy(cls, "Code");
    if (class_size) {
        strncpy(ret_class, cls, class_size - 1);
        ret_class[class_size - 1] = '\0';
    }
    return xasprintf("%s.java", cls);
}

char **lang_expand(const struct kcr_lang *lang, int step, const char *file_path,
                   const char *class_name, const char *const *args, size_t nargs)
{
    const char *const *tpl = lang->steps[step];
    bool last = step == lang_nsteps(lang) - 1;
    size_t n = 0;
    while (tpl[n])
        n++;
    char **argv = xcalloc(n + nargs + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(tpl[i], "{args}")) {
            for (size_t j = 0; last && j < nargs; j++)
                argv[k++] = xstrdup(args[j]);
        } else if (!strcmp(tpl[i], "{file}")) {
            argv[k++] = xstrdup(file_path);
        } else if (!strcmp(tpl[i], "{class}")) {
            argv[k++] = xstrdup(class_name && *class_name ? class_name : "Code");
        } else {
            argv[k++] = xstrdup(tpl[i]);
        }
    }
    argv[k] = NULL;
    return argv;
}

void lang_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

#define MULT_MIN 0.1
#define MULT_MAX 100.0

/* Reads <prefix><CODE> into *ret (unchanged when unset or empty). */
static int mult_env(const char *prefix, const struct kcr_lang *lang, double *ret,
                    struct kcr_err *err)
{
    char name[64];
    size_t n = (size_t)snprintf(name, sizeof(name), "%s", prefix);
    for (const char *c = lang->code; *c && n + 1 < sizeof(name); c++)
        name[n++] = (char)toupper((unsigned char)*c);
    name[n] = '\0';
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end != '\0' || !isfinite(d))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "%s: '%s' is not a number", name, v);
    if (d < MULT_MIN || d > MULT_MAX)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "%s: %g is outside %g..%g", name, d, MULT_MIN,
                           MULT_MAX);
    *ret = d;
    return 0;
}

double lang_time_mult(const struct kcr_lang *lang)
{
    double d = lang->time_mult;
    if (mult_env("LANG_TIME_MULT_", lang, &d, NULL) < 0)
        return lang->time_mult;
    return d;
}

double lang_mem_mult(const struct kcr_lang *lang)
{
    double d = lang->mem_mult;
    if (mult_env("LANG_MEM_MULT_", lang, &d, NULL) < 0)
        return lang->mem_mult;
    return d;
}

int lang_config_check(struct kcr_err *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(langs); i++) {
        double d;
        if (mult_env("LANG_TIME_MULT_", &langs[i], &d, err) < 0 ||
            mult_env("LANG_MEM_MULT_", &langs[i], &d, err) < 0)
            return -1;
    }
    return 0;
}
