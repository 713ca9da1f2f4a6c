/* store-config — which stores `kcr serve` keeps its data in, read once from
 * the environment with KubeCodeRun's names (docs/scale-out.md).
 *
 * Unset, the data stays on this machine: SQLite and files in KCR_DATA_DIR.
 * REDIS_URL (or REDIS_HOST) puts the metadata in Redis; MINIO_ENDPOINT puts
 * the bytes in an S3 bucket. Any mix works; replicas need both. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"
#include "store/blob-s3.h"
#include "store/meta-redis.h"

enum kcr_meta_kind { KCR_META_SQLITE, KCR_META_REDIS };
enum kcr_blob_kind { KCR_BLOB_FS, KCR_BLOB_S3 };

struct kcr_redis_settings {
    char *host, *username, *password, *key_prefix;
    char *tls_ca, *tls_cert, *tls_key;
    int port, db;
    bool tls, tls_verify;
    long timeout_s, max_connections;
};

struct kcr_s3_settings {
    char *endpoint, *access_key, *secret_key, *bucket, *region, *ca_file;
    bool secure;
    long timeout_s;
};

struct kcr_store_settings {
    enum kcr_meta_kind meta;
    enum kcr_blob_kind blob;
    struct kcr_redis_settings redis; /* meta == KCR_META_REDIS */
    struct kcr_s3_settings s3;       /* blob == KCR_BLOB_S3 */
};

/* Reads the REDIS_* and MINIO_* variables into s (zeroed first). A bad or
 * incomplete setting fails naming the variable. */
int store_config_load(struct kcr_store_settings *s, struct kcr_err *err);

/* Frees the strings of s. */
void store_config_done(struct kcr_store_settings *s);

/* The settings for meta_redis_open / blob_s3_open; they borrow s's strings. */
void store_config_redis(const struct kcr_store_settings *s, struct kcr_redis_config *ret);
void store_config_s3(const struct kcr_store_settings *s, const char *spool_dir,
                     struct kcr_s3_config *ret);

/* The settings for the operator dashboard, keyed by variable; REDIS_PASSWORD
 * and MINIO_SECRET_KEY are "[redacted]" when set, MINIO_ACCESS_KEY too. */
json_t *store_config_describe(const struct kcr_store_settings *s);
