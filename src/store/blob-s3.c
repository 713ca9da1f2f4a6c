/* blob-s3 — blobs as objects of one S3 bucket (blob-s3.h).
 *
 * A key "dir/name" is the object "dir/name" (path-style URL
 * <endpoint>/<bucket>/<dir>/<name>). commit streams the caller's file: one
 * PUT up to multipart_threshold, else a multipart upload of part_size parts,
 * each read from the file; any failure aborts the upload, so the object is
 * the old bytes or the new ones, never a part. open streams the GET through
 * a pipe (blob-s3-get.c). */
#include "store/blob-s3.h"
#include "store/blob-s3-internal.h"
#include "common/cleanup.h"
#include "common/curl-init.h"
#include "common/digest.h"
#include "common/fsutil.h"
#include "common/names.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct blob_s3 *bs3(struct kcr_blob *b)
{
    return (struct blob_s3 *)b;
}

static void call_init(struct s3_call *c, const char *method, const char *key, const char *query)
{
    *c = (struct s3_call){.method = method, .key = key, .query = query, .fd = -1};
}

/*** Uploads ***/

static int b_tmpfile(struct kcr_blob *b, struct kcr_err *err)
{
    int fd = openat(bs3(b)->spool_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "create temporary blob");
    return fd;
}

/* One PUT of flen bytes of fd from offset 0. */
static int put_single(struct blob_s3 *s, const char *key, int fd, uint64_t flen,
                      struct kcr_err *err)
{
    struct s3_call c;
    call_init(&c, "PUT", key, NULL);
    c.fd = fd;
    c.flen = flen;
    int r = s3_call_run(s, &c, err) < 0 ? -1 : s3_call_check(&c, key, err);
    s3_call_done(&c);
    return r;
}

static void abort_upload(struct blob_s3 *s, const char *key, const char *qid)
{
    struct s3_call c;
    call_init(&c, "DELETE", key, qid);
    (void)s3_call_run(s, &c, NULL);
    s3_call_done(&c);
}

/* Uploads the parts of fd, appending each <Part> to the completion body. */
static int put_parts(struct blob_s3 *s, const char *key, const char *id_enc, int fd, uint64_t size,
                     char **xml, struct kcr_err *err)
{
    unsigned nparts = (unsigned)((size + s->part_size - 1) / s->part_size);
    if (nparts > S3_PARTS_MAX)
        return kcr_err_set(err, 0, KCR_ERR_LIMIT, "s3: %" PRIu64 " bytes need too many parts",
                           size);
    for (unsigned i = 0; i < nparts; i++) {
        char q[1200];
        snprintf(q, sizeof(q), "partNumber=%u&uploadId=%s", i + 1, id_enc);
        struct s3_call c;
        call_init(&c, "PUT", key, q);
        c.fd = fd;
        c.off = (uint64_t)i * s->part_size;
        c.flen = size - c.off < s->part_size ? size - c.off : s->part_size;
        int r = s3_call_run(s, &c, err) < 0 ? -1 : s3_call_check(&c, key, err);
        if (r == 0 && (!c.etag[0] || strpbrk(c.etag, "<>&")))
            r = kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "s3 part %u of '%s': no ETag", i + 1, key);
        if (r == 0) {
            char *more = xasprintf("%s<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>",
                                   *xml, i + 1, c.etag);
            free(*xml);
            *xml = more;
        }
        s3_call_done(&c);
        if (r < 0)
            return kcr_err_wrap(err, "part %u of %u", i + 1, nparts);
    }
    return 0;
}

/* CreateMultipartUpload; the parts; CompleteMultipartUpload. The object
 * appears only at the completion; a failure before aborts the upload. */
static int put_multipart(struct blob_s3 *s, const char *key, int fd, uint64_t size,
                         struct kcr_err *err)
{
    struct s3_call c;
    call_init(&c, "POST", key, "uploads=");
    int r = s3_call_run(s, &c, err) < 0 ? -1 : s3_call_check(&c, key, err);
    _cleanup_free_ char *id = r == 0 ? s3_xml_text(c.body, c.body_len, "UploadId") : NULL;
    s3_call_done(&c);
    if (r < 0)
        return -1;
    char id_enc[1024] = "", qid[1100];
    if (!id || !*id || !s3_uri_encode(id, false, id_enc, sizeof(id_enc)))
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "s3 '%s': no UploadId", key);
    snprintf(qid, sizeof(qid), "uploadId=%s", id_enc);
    _cleanup_free_ char *xml = xstrdup("<CompleteMultipartUpload>");
    if (put_parts(s, key, id_enc, fd, size, &xml, err) < 0) {
        abort_upload(s, key, qid);
        return -1;
    }
    char *body = xasprintf("%s</CompleteMultipartUpload>", xml);
    call_init(&c, "POST", key, qid);
    c.data = body;
    c.len = strlen(body);
    c.content_type = "application/xml";
    r = s3_call_run(s, &c, err) < 0 ? -1 : s3_call_check(&c, key, err);
    /* S3 may answer 200 and then an <Error> body, when it fails late. */
    _cleanup_free_ char *code = r == 0 ? s3_xml_text(c.body, c.body_len, "Code") : NULL;
    if (code)
        r = kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "s3 complete '%s': %s", key, code);
    s3_call_done(&c);
    free(body);
    if (r < 0)
        abort_upload(s, key, qid);
    return r;
}

/* A seekable regular file: fd itself; anything else (a pipe, e.g. another
 * blob's stream) is first copied into an unnamed spool file. */
static int seekable_source(struct kcr_blob *b, int fd, int *ret_spool, struct kcr_err *err)
{
    struct stat st;
    *ret_spool = -1;
    if (fstat(fd, &st) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "stat blob source");
    if (S_ISREG(st.st_mode))
        return fd;
    _cleanup_close_ int tmp = b_tmpfile(b, err);
    if (tmp < 0)
        return -1;
    ssize_t n = fs_copy_fd(fd, tmp, SIZE_MAX);
    if (n < 0)
        return kcr_err_set(err, (int)-n, KCR_ERR_UNAVAILABLE, "spool blob source");
    *ret_spool = TAKE_FD(tmp);
    return *ret_spool;
}

static int b_commit(struct kcr_blob *b, const char *key, int fd, struct kcr_err *err)
{
    struct blob_s3 *s = bs3(b);
    if (s3_check_key(key, err) < 0)
        return -1;
    _cleanup_close_ int spool = -1;
    int src = seekable_source(b, fd, &spool, err);
    struct stat st;
    if (src < 0)
        return -1;
    if (fstat(src, &st) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "stat blob source");
    uint64_t size = (uint64_t)st.st_size;
    if (size <= s->multipart_threshold)
        return put_single(s, key, src, size, err);
    return put_multipart(s, key, src, size, err);
}

static int b_put(struct kcr_blob *b, const char *key, const void *data, size_t len,
                 struct kcr_err *err)
{
    if (s3_check_key(key, err) < 0)
        return -1;
    struct s3_call c;
    call_init(&c, "PUT", key, NULL);
    c.data = data;
    c.len = len;
    int r = s3_call_run(bs3(b), &c, err) < 0 ? -1 : s3_call_check(&c, key, err);
    s3_call_done(&c);
    return r;
}

/*** Reading, removing, listing ***/

static int b_open(struct kcr_blob *b, const char *key, uint64_t *ret_size, struct kcr_err *err)
{
    if (s3_check_key(key, err) < 0)
        return -1;
    return s3_get_open(bs3(b), key, ret_size, err);
}

static int delete_key(struct blob_s3 *s, const char *key, struct kcr_err *err)
{
    struct s3_call c;
    call_init(&c, "DELETE", key, NULL);
    int r = s3_call_run(s, &c, err);
    if (r == 0 && c.status != 404)
        r = s3_call_check(&c, key, err);
    s3_call_done(&c);
    return r;
}

static int b_remove(struct kcr_blob *b, const char *key, struct kcr_err *err)
{
    if (s3_check_key(key, err) < 0)
        return -1;
    return delete_key(bs3(b), key, err);
}

/* Calls fn for every object under prefix, page by page. */
static int list_prefix(struct blob_s3 *s, const char *prefix, kcr_blob_list_fn fn, void *ctx,
                       struct kcr_err *err)
{
    _cleanup_free_ char *token = NULL;
    do {
        char q[3072] = "";
        if (token) {
            strcpy(q, "continuation-token=");
            if (!s3_uri_encode(token, false, q, sizeof(q) - 600))
                return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "s3 list: token too long");
            strcat(q, "&");
        }
        strcat(q, "list-type=2&prefix=");
        (void)s3_uri_encode(prefix, false, q, sizeof(q));
        struct s3_call c;
        call_init(&c, "GET", NULL, q);
        c.reply_max = S3_LIST_REPLY_MAX;
        int r = s3_call_run(s, &c, err) < 0 ? -1 : s3_call_check(&c, "list", err);
        free(token);
        token = NULL;
        if (r == 0) {
            r = c.truncated ? -1 : s3_xml_list(c.body, c.body_len, fn, ctx, &token);
            if (r < 0)
                kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "s3 list: unreadable reply");
        }
        s3_call_done(&c);
        if (r != 0)
            return r < 0 ? -1 : 0;
    } while (token);
    return 0;
}

struct collect {
    char **keys;
    size_t n;
};

static int collect_key(const char *key, int64_t mtime_ms, void *ctx)
{
    struct collect *c = ctx;
    (void)mtime_ms;
    c->keys = xrealloc(c->keys, (c->n + 1) * sizeof(*c->keys));
    c->keys[c->n++] = xstrdup(key);
    return c->n >= 1000; /* one page at a time: deleted before the next */
}

static int b_remove_dir(struct kcr_blob *b, const char *dir, struct kcr_err *err)
{
    struct blob_s3 *s = bs3(b);
    if (!names_is_safe(dir))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "bad blob directory '%s'", dir);
    char prefix[KCR_NAME_MAX + 2];
    snprintf(prefix, sizeof(prefix), "%s/", dir);
    /* List, delete what was listed, again until nothing is left: deleting
     * never races a continuation token. */
    for (;;) {
        struct collect col = {0};
        int r = list_prefix(s, prefix, collect_key, &col, err);
        for (size_t i = 0; i < col.n; i++) {
            if (r == 0 && delete_key(s, col.keys[i], err) < 0)
                r = -1;
            free(col.keys[i]);
        }
        free(col.keys);
        if (r < 0)
            return kcr_err_wrap(err, "remove blob directory '%s'", dir);
        if (col.n == 0)
            return 0;
    }
}

struct list_filter {
    kcr_blob_list_fn fn;
    void *ctx;
};

/* Only "dir/name" keys with safe parts are blobs of this store. */
static int list_one(const char *key, int64_t mtime_ms, void *ctx)
{
    struct list_filter *f = ctx;
    if (s3_check_key(key, NULL) < 0)
        return 0;
    return f->fn(key, mtime_ms, f->ctx);
}

static int b_list(struct kcr_blob *b, const char *dir, kcr_blob_list_fn fn, void *ctx,
                  struct kcr_err *err)
{
    char prefix[KCR_NAME_MAX + 2] = "";
    if (dir) {
        if (!names_is_safe(dir))
            return kcr_err_set(err, 0, KCR_ERR_INVALID, "bad blob directory '%s'", dir);
        snprintf(prefix, sizeof(prefix), "%s/", dir);
    }
    struct list_filter f = {fn, ctx};
    return list_prefix(bs3(b), prefix, list_one, &f, err);
}

static int b_ping(struct kcr_blob *b, struct kcr_err *err)
{
    struct s3_call c;
    call_init(&c, "HEAD", NULL, NULL);
    int r = s3_call_run(bs3(b), &c, err) < 0 ? -1 : s3_call_check(&c, "bucket", err);
    s3_call_done(&c);
    if (r < 0 && err && err->kind == KCR_ERR_NOT_FOUND)
        err->kind = KCR_ERR_UNAVAILABLE; /* the bucket is gone */
    return r;
}

static void b_free(struct kcr_blob *b)
{
    struct blob_s3 *s = bs3(b);
    /* The GET threads of open() use s: they end once their reader is gone
     * or after timeout_ms without progress. */
    pthread_mutex_lock(&s->lock);
    while (s->nstreams > 0)
        pthread_cond_wait(&s->streams_done, &s->lock);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < s->nidle; i++)
        curl_easy_cleanup(s->idle[i]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->streams_done);
    safe_close(s->spool_fd);
    free(s->base);
    free(s->bucket);
    free(s->region);
    free(s->sigv4);
    free(s->access_key);
    free(s->secret_key);
    free(s->ca_file);
    free(s);
}

static const struct kcr_blob_ops s3_ops = {
    .name = "s3",
    .tmpfile = b_tmpfile,
    .commit = b_commit,
    .put = b_put,
    .open = b_open,
    .remove = b_remove,
    .remove_dir = b_remove_dir,
    .list = b_list,
    .ping = b_ping,
    .free = b_free,
};

/*** Opening ***/

/* HEAD the bucket; on 404, PUT it (with its region unless us-east-1). */
static int ensure_bucket(struct blob_s3 *s, struct kcr_err *err)
{
    struct s3_call c;
    call_init(&c, "HEAD", NULL, NULL);
    int r = s3_call_run(s, &c, err);
    long status = c.status;
    if (r == 0 && status != 404)
        r = s3_call_check(&c, "bucket", err);
    s3_call_done(&c);
    if (r < 0 || status != 404)
        return r;
    _cleanup_free_ char *body =
        strcmp(s->region, "us-east-1")
            ? xasprintf("<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
                        "</CreateBucketConfiguration>",
                        s->region)
            : NULL;
    call_init(&c, "PUT", NULL, NULL);
    c.data = body;
    c.len = body ? strlen(body) : 0;
    c.content_type = body ? "application/xml" : NULL;
    r = s3_call_run(s, &c, err);
    _cleanup_free_ char *code = r == 0 ? s3_xml_text(c.body, c.body_len, "Code") : NULL;
    /* Another replica may have made it just now. */
    if (r == 0 && !(code && !strcmp(code, "BucketAlreadyOwnedByYou")))
        r = s3_call_check(&c, "create bucket", err);
    s3_call_done(&c);
    return r;
}

/* A size in MiB from the environment, or def. */
static uint64_t env_mib(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    char *end;
    unsigned long long x = v && *v ? strtoull(v, &end, 10) : 0;
    return v && *v && *end == '\0' && x > 0 && x < (1ull << 20) ? x << 20 : def;
}

static bool config_ok(const struct kcr_s3_config *cfg, struct kcr_err *err)
{
    if (!cfg->endpoint || !*cfg->endpoint || strpbrk(cfg->endpoint, "/?#@ "))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "MINIO_ENDPOINT must be host[:port]"), false;
    if (!cfg->bucket || !*cfg->bucket || strlen(cfg->bucket) > 63 ||
        strspn(cfg->bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(cfg->bucket))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "bad MINIO_BUCKET '%s'",
                           cfg->bucket ? cfg->bucket : ""),
               false;
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    if (strlen(region) > 60 || strpbrk(region, ":/ "))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "bad MINIO_REGION '%s'", region), false;
    if (!cfg->access_key || !cfg->secret_key || !cfg->spool_dir)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "MINIO_ACCESS_KEY, MINIO_SECRET_KEY and a spool directory are needed"),
               false;
    return true;
}

struct kcr_blob *blob_s3_open(const struct kcr_s3_config *cfg, struct kcr_err *err)
{
    if (!config_ok(cfg, err) || curl_init_once(err) < 0 ||
        fs_mkdir_p(cfg->spool_dir, 0700, err) < 0)
        return NULL;
    struct blob_s3 *s = xcalloc(1, sizeof(*s));
    s->super.ops = &s3_ops;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->streams_done, NULL);
    s->base = xasprintf("%s://%s/%s", cfg->secure ? "https" : "http", cfg->endpoint, cfg->bucket);
    s->bucket = xstrdup(cfg->bucket);
    s->region = xstrdup(cfg->region && *cfg->region ? cfg->region : "us-east-1");
    s->sigv4 = xasprintf("aws:amz:%s:s3", s->region);
    s->access_key = xstrdup(cfg->access_key);
    s->secret_key = xstrdup(cfg->secret_key);
    s->ca_file = cfg->ca_file && *cfg->ca_file ? xstrdup(cfg->ca_file) : NULL;
    s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    s->multipart_threshold = env_mib("S3_MULTIPART_THRESHOLD_MB", 16ull << 20);
    s->part_size = env_mib("S3_MULTIPART_PART_MB", 8ull << 20);
    if (s->part_size < S3_PART_MIN)
        s->part_size = S3_PART_MIN;
    s->spool_fd = open(cfg->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->spool_fd < 0) {
        kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "open spool directory '%s'", cfg->spool_dir);
        b_free(&s->super);
        return NULL;
    }
    if (ensure_bucket(s, err) < 0) {
        kcr_err_wrap(err, "s3 bucket '%s' at %s", cfg->bucket, cfg->endpoint);
        b_free(&s->super);
        return NULL;
    }
    return &s->super;
}
