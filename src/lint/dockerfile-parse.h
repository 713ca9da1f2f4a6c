/* dockerfile-parse — a Dockerfile reader for the linter.
 *
 * Follows the Dockerfile reference closely enough to lint real files: parser
 * directives (escape=), comments (also inside line continuations), line
 * continuations, heredocs (RUN/COPY/ADD <<EOF, <<-EOF, several per line),
 * instruction flags (--from, --chown, --mount...), exec form (a JSON array of
 * strings) versus shell form, ENV/ARG pairs and stages (FROM ... AS name).
 * Every instruction keeps the line of its keyword and a map from offsets in its
 * joined text back to physical lines, so findings point at the exact line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

enum df_kind {
    DF_FROM,
    DF_RUN,
    DF_COPY,
    DF_ADD,
    DF_ENV,
    DF_ARG,
    DF_USER,
    DF_WORKDIR,
    DF_ENTRYPOINT,
    DF_CMD,
    DF_SHELL,
    DF_LABEL,
    DF_EXPOSE,
    DF_VOLUME,
    DF_HEALTHCHECK,
    DF_STOPSIGNAL,
    DF_ONBUILD,
    DF_MAINTAINER,
    DF_UNKNOWN,
};

/* One piece of the joined text: bytes from `offset` on came from physical `line`. */
struct df_seg {
    size_t offset;
    int line;
};

struct df_kv {
    char *key;
    char *value; /* NULL for "ARG NAME" without a default */
};

struct df_heredoc {
    char *delim;
    char *body; /* the lines between the instruction and the delimiter */
    int line;   /* line of the body's first line */
};

struct df_instr {
    enum df_kind kind;
    char *keyword; /* as written, upper-cased */
    int line;      /* line of the keyword */
    int end_line;  /* last physical line (heredoc delimiter included) */
    char *text;    /* arguments: continuations joined, comment lines dropped */
    struct df_seg *segs;
    size_t nsegs;
    char **flags; /* leading "--name=value" words, in order */
    size_t nflags;
    char *rest;     /* text after the flags, trimmed */
    bool exec_form; /* rest is a JSON array of strings */
    char **argv;    /* exec form elements, or rest split into words (quotes removed) */
    size_t argc;
    struct df_kv *kvs; /* ENV and ARG pairs; FROM: none */
    size_t nkvs;
    struct df_heredoc *heredocs;
    size_t nheredocs;
    char **ignore; /* rule ids from a "# kcr-lint ignore=a,b" comment just above */
    size_t nignore;
    int stage; /* index into df_file.stages; -1 before the first FROM */
};

struct df_stage {
    char *base;  /* FROM image as written */
    char *name;  /* AS name, lower-cased; NULL if none */
    size_t from; /* index of its FROM instruction */
    size_t end;  /* one past its last instruction */
    int parent;  /* stage index when base names an earlier stage, else -1 */
};

struct df_file {
    char *path;
    char escape; /* '\\' or '`' */
    struct df_instr *instrs;
    size_t ninstrs;
    struct df_stage *stages;
    size_t nstages;
    /* Problems the parser found (unterminated heredoc, unknown instruction...). */
    struct df_problem {
        int line;
        char *msg;
    } * problems;
    size_t nproblems;
};

/* Parses len bytes of text named path (used in messages). Never fails on bad
 * Dockerfile syntax: that goes to df->problems. Returns a new file (free with
 * dockerfile_parse_free); NULL with err only for input that is not text. */
struct df_file *dockerfile_parse_string(const char *path, const char *text, size_t len,
                                        struct kcr_err *err);

/* Reads and parses the file at path (at most 4 MiB). NULL with err on I/O errors. */
struct df_file *dockerfile_parse_file(const char *path, struct kcr_err *err);

/* Frees df (NULL is fine); returns NULL. */
struct df_file *dockerfile_parse_free(struct df_file *df);

/* The physical line holding byte `offset` of instr->text. */
int dockerfile_parse_line_at(const struct df_instr *instr, size_t offset);

/* The value of flag `name` ("from", "chown", ...) of instr, or NULL. Borrowed.
 * With several occurrences (--mount) use dockerfile_parse_flag_nth. */
const char *dockerfile_parse_flag(const struct df_instr *instr, const char *name);
const char *dockerfile_parse_flag_nth(const struct df_instr *instr, const char *name, size_t n);

/* s with $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} replaced by what is
 * known at instruction index `at`: ARG defaults (global ones for FROM lines),
 * ENV values of the stage and of the stages it is built on. Unknown variables
 * stay as written. Returns a new string. */
char *dockerfile_parse_expand(const struct df_file *df, size_t at, const char *s);

/* The stage a COPY --from / FROM value refers to (name or index), or -1 when it
 * names an image. `before` limits the search to stages defined earlier. */
int dockerfile_parse_stage_ref(const struct df_file *df, const char *ref, int before);

/* The base image of stage i after expansion, following FROM <stage> chains to
 * the image that starts the chain. Returns a new string. */
char *dockerfile_parse_stage_image(const struct df_file *df, int i);
