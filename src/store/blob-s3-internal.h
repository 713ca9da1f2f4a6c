/* blob-s3-internal — what the files of the S3 blob store share: the
 * instance, one signed request (blob-s3-http.c), the XML of the replies
 * (blob-s3-xml.c) and the streamed GET behind open() (blob-s3-get.c). */
#pragma once

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "store/blob.h"

/* Bounds on what a reply may make us keep in memory. */
#define S3_REPLY_MAX      (64 * 1024)  /* errors, UploadId, CompleteMultipartUpload */
#define S3_LIST_REPLY_MAX (4u << 20)   /* one ListObjectsV2 page (1000 keys) */
#define S3_HANDLES_IDLE   8            /* curl handles kept with their connections */
#define S3_PART_MIN       (5ull << 20) /* S3's smallest part but the last */
#define S3_PARTS_MAX      10000        /* S3's most parts of one upload */

struct blob_s3 {
    struct kcr_blob super;
    char *base; /* "http(s)://<endpoint>/<bucket>", no trailing slash */
    char *bucket;
    char *region;
    char *sigv4; /* "aws:amz:<region>:s3" */
    char *access_key;
    char *secret_key;
    char *ca_file; /* or NULL */
    int spool_fd;  /* spool_dir, for unnamed files */
    long timeout_ms;
    uint64_t multipart_threshold; /* bytes: a commit above it is a multipart upload */
    uint64_t part_size;

    pthread_mutex_t lock;
    pthread_cond_t streams_done;
    int nstreams; /* GET threads still running (open()'s streams) */
    CURL *idle[S3_HANDLES_IDLE];
    size_t nidle;
};

/* One request and its reply. Set the request fields, then s3_call_run. */
struct s3_call {
    const char *method; /* GET PUT POST DELETE HEAD */
    const char *key;    /* object key ("dir/name"), or NULL: the bucket */
    const char *query;  /* canonical query (sorted, encoded, "a=b&c="), or NULL */
    /* The body: data/len in memory, or len bytes of fd at off (fd >= 0). */
    const void *data;
    size_t len;
    int fd;
    uint64_t off;
    uint64_t flen;
    const char *content_type;
    size_t reply_max; /* S3_REPLY_MAX when 0 */
    /* A streamed GET: the 2xx body goes to sink (returns false to stop), and
     * on_headers runs once the final header block is in. */
    bool (*sink)(const char *p, size_t n, void *ctx);
    void (*on_headers)(struct s3_call *c, void *ctx);
    void *ctx;

    /* The reply. */
    long status;
    bool have_length;
    uint64_t length; /* Content-Length */
    char etag[130];
    char *body; /* NUL-terminated; up to reply_max bytes */
    size_t body_len;
    bool truncated;
    bool sink_stopped;
    /* Private to s3_call_run. */
    uint64_t sent;
    long timeout_ms;
    int64_t progress_ms; /* when bytes last moved */
    uint64_t moved;
    bool stalled;
};

/* Runs c: 0 once an answer came back (any status; the reply in c), or -1
 * with err (KCR_ERR_UNAVAILABLE: no connection, or no progress for
 * timeout_ms). The reply body is freed by s3_call_done. */
int s3_call_run(struct blob_s3 *s, struct s3_call *c, struct kcr_err *err);
void s3_call_done(struct s3_call *c);

/* 0 for a 2xx reply; else -1 with err naming what, the status and S3's
 * error code: 404 NOT_FOUND, 403 (bad credentials), 5xx UNAVAILABLE. */
int s3_call_check(const struct s3_call *c, const char *what, struct kcr_err *err);

/* Appends to out (at most outsz) s URI-encoded as SigV4 wants it: every
 * byte but A-Za-z0-9-._~ as %XX; '/' kept when keep_slash. false if it did
 * not fit. */
bool s3_uri_encode(const char *s, bool keep_slash, char *out, size_t outsz);

/* Checks "dir/name", both safe names (common/names.h), as blob-fs does. */
int s3_check_key(const char *key, struct kcr_err *err);

/* The text of the first element called name (any namespace) of an XML
 * reply, malloc'd; NULL if none or not XML. */
char *s3_xml_text(const char *xml, size_t len, const char *name);

/* One ListObjectsV2 page: fn for each Contents (Key, LastModified);
 * *ret_next is the NextContinuationToken (malloc'd) or NULL at the end.
 * Returns 1 if fn stopped, 0, or -1 on a reply that is no list. */
int s3_xml_list(const char *xml, size_t len, kcr_blob_list_fn fn, void *ctx, char **ret_next);

/* The streamed GET of open() (blob-s3-get.c). */
int s3_get_open(struct blob_s3 *s, const char *key, uint64_t *ret_size, struct kcr_err *err);
