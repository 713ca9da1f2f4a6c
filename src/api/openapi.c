#include "api/openapi.h"
#include "api/context.h"
#include "api/errors.h"
#include "common/lang.h"
#include "common/log.h"

#include <stddef.h>

/* src/api/openapi.json, compiled in by the Makefile as a byte array
 * ($(BUILD)/gen/openapi-json.c; the length leaves out the NUL it ends with). */
extern const unsigned char kcr_openapi_json[];
extern const size_t kcr_openapi_json_len;

/* The file is the whole document except what only the running server knows,
 * which replaces the file's placeholders ("@KCR_VERSION@", "@KCR_LANGUAGES@"):
 * info.version, and ExecRequest's lang enum (every language of lang.h). */
json_t *openapi_document(const char *version)
{
    json_error_t e;
    json_t *doc = json_loadb((const char *)kcr_openapi_json, kcr_openapi_json_len,
                             JSON_REJECT_DUPLICATES, &e);
    if (!doc) {
        log_msg(KCR_LOG_ERROR, NULL, "openapi.json, line %d: %s", e.line, e.text);
        return NULL;
    }
    json_object_set_new(json_object_get(doc, "info"), "version", json_string(version));

    json_t *lang = json_object_get(doc, "components");
    static const char *const lang_path[] = {"schemas", "ExecRequest", "properties", "lang"};
    for (size_t i = 0; i < sizeof(lang_path) / sizeof(lang_path[0]); i++)
        lang = json_object_get(lang, lang_path[i]);
    size_t n = 0;
    const struct kcr_lang *all = lang_all(&n);
    json_t *langs = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(langs, json_string(all[i].code));
    json_object_set_new(lang, "enum", langs);
    return doc;
}

struct kcr_http_resp *openapi_handle(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    json_t *doc = openapi_document(api->version);
    if (!doc)
        return errors_app(req, 500, "OpenAPI document unavailable", NULL);
    return http_resp_json(200, doc);
}
