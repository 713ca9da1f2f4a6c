/* blob-s3-xml — the XML of S3's replies (errors, UploadId, ListObjectsV2),
 * read with libxml2: no network, no entity expansion, a bounded input (the
 * caller's reply bound). Elements are matched by local name, whatever the
 * namespace (S3 uses http://s3.amazonaws.com/doc/2006-03-01/). */
#include "store/blob-s3-internal.h"
#include "common/xalloc.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <string.h>
#include <time.h>

static xmlDocPtr parse(const char *xml, size_t len)
{
    if (!xml || len == 0 || len > INT_MAX)
        return NULL;
    return xmlReadMemory(xml, (int)len, NULL, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static bool named(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static const xmlNode *find(const xmlNode *n, const char *name)
{
    for (; n; n = n->next) {
        if (named(n, name))
            return n;
        const xmlNode *in = find(n->children, name);
        if (in)
            return in;
    }
    return NULL;
}

static char *text_of(const xmlNode *n)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    if (!t)
        return NULL;
    char *s = xstrdup((const char *)t);
    xmlFree(t);
    return s;
}

/* The text of the child element called name of n, or NULL. */
static char *child_text(const xmlNode *n, const char *name)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (named(c, name))
            return text_of(c);
    return NULL;
}

char *s3_xml_text(const char *xml, size_t len, const char *name)
{
    xmlDocPtr doc = parse(xml, len);
    if (!doc)
        return NULL;
    char *s = text_of(find(xmlDocGetRootElement(doc), name));
    xmlFreeDoc(doc);
    return s;
}

/* "2024-05-01T12:00:00.000Z" as ms since the epoch, 0 if unreadable. */
static int64_t iso_ms(const char *s)
{
    struct tm tm = {0};
    const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return 0;
    int64_t ms = (int64_t)timegm(&tm) * 1000;
    if (rest[0] == '.')
        ms += strtol(rest + 1, NULL, 10) % 1000;
    return ms;
}

int s3_xml_list(const char *xml, size_t len, kcr_blob_list_fn fn, void *ctx, char **ret_next)
{
    *ret_next = NULL;
    xmlDocPtr doc = parse(xml, len);
    const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || !named(root, "ListBucketResult")) {
        xmlFreeDoc(doc);
        return -1;
    }
    int r = 0;
    for (const xmlNode *c = root->children; c && r == 0; c = c->next) {
        if (!named(c, "Contents"))
            continue;
        char *key = child_text(c, "Key");
        char *mod = child_text(c, "LastModified");
        if (key && fn(key, iso_ms(mod), ctx))
            r = 1;
        free(key);
        free(mod);
    }
    char *trunc = child_text(root, "IsTruncated");
    if (r == 0 && trunc && !strcmp(trunc, "true"))
        *ret_next = child_text(root, "NextContinuationToken");
    free(trunc);
    xmlFreeDoc(doc);
    return r;
}
