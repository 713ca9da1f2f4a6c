/* Fuzzes the Dockerfile parser (src/lint/dockerfile-parse.c) and the helpers
 * the linter calls on what it returns. Property: no memory error, leak or
 * undefined behaviour on any input; every instruction's line numbers lie
 * within the input (1 .. lines+1) and line_at/expand/stage_image accept what
 * the parser produced. */
#include "fuzz.h"
#include "lint/dockerfile-parse.h"

#include <stdlib.h>
#include <string.h>

static void check_instr(const struct df_file *df, size_t i, int nlines)
{
    const struct df_instr *in = &df->instrs[i];
    if (in->line < 1 || in->line > nlines || in->end_line < in->line || in->end_line > nlines)
        abort();
    size_t len = in->text ? strlen(in->text) : 0;
    int l = dockerfile_parse_line_at(in, len ? len - 1 : 0);
    if (l < in->line || l > in->end_line)
        abort();
    (void)dockerfile_parse_flag(in, "from");
    free(dockerfile_parse_expand(df, i, in->rest ? in->rest : ""));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kcr_err err = {0};
    struct df_file *df = dockerfile_parse_string("Dockerfile", (const char *)data, size, &err);
    if (!df)
        return 0;
    int nlines = 1;
    for (size_t i = 0; i < size; i++)
        nlines += data[i] == '\n';
    for (size_t i = 0; i < df->ninstrs; i++)
        check_instr(df, i, nlines);
    for (size_t s = 0; s < df->nstages; s++) {
        free(dockerfile_parse_stage_image(df, (int)s));
        (void)dockerfile_parse_stage_ref(df, df->stages[s].name ? df->stages[s].name : "0", (int)s);
    }
    dockerfile_parse_free(df);
    return 0;
}
