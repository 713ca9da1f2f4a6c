/* Fuzzes the request JSON of POST /exec (and the names of POST /upload). The
 * parser of src/api/exec.c (parse, parse_files) is static and runs only inside
 * exec_handle, which needs a live request and the orchestrator; this harness
 * drives what it is built from instead, the same way: json_loadb with exec.c's
 * flags, lang_find on "lang", principal_jwt for the caller, principal_resource
 * on each of "files"' kind/resource_id/version, and the name rules (the
 * upload/files code's names_sanitize_path at depth 16) on each file name.
 * Properties (abort otherwise): principal_resource answers 0 or -1 with
 * INVALID/FORBIDDEN; a kind=user resource accepted for a JWT caller is its own
 * sub; a caller owns what carries its own id; sanitised names are safe. */
#include "fuzz.h"
#include "common/lang.h"
#include "common/names.h"
#include "core/principal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key)); /* NULL unless a string */
}

static void check_file(const struct kcr_principal *p, json_t *f)
{
    struct kcr_resource res;
    struct kcr_err err = {0};
    const char *kind = str(f, "kind"), *id = str(f, "resource_id");
    int r = principal_resource(p, kind, id, str(f, "version"), &res, &err);
    if (r != 0 && (r != -1 || (err.kind != KCR_ERR_INVALID && err.kind != KCR_ERR_FORBIDDEN)))
        abort();
    if (r == 0 && kind && !strcmp(kind, "user") && strcmp(res.id, p->sub))
        abort();
    const char *name = str(f, "name");
    char *safe = name ? names_sanitize_path(name, 16) : NULL;
    if (safe && !names_is_safe_path(safe, 16))
        abort();
    free(safe);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    const char *lang = str(body, "lang"), *user = str(body, "user_id");
    if (lang)
        (void)lang_find(lang);
    struct kcr_principal p;
    principal_jwt(&p, "tenant-1", user ? user : "user-1");
    if (strncmp(p.id, "jwt:", 4) || !principal_owns(&p, p.id))
        abort();
    json_t *files = json_object_get(body, "files"), *f;
    size_t i;
    json_array_foreach(files, i, f) if (json_is_object(f)) check_file(&p, f);
    json_decref(body);
    return 0;
}
