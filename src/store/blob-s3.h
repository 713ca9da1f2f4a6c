/* blob-s3 — blobs as objects of one S3 bucket (AWS S3, MinIO, any
 * S3-compatible server), shared by several `kcr serve` replicas
 * (docs/scale-out.md). Requests are signed with SigV4 by libcurl.
 *
 * An object becomes visible only complete (a single PUT, or a multipart
 * upload completed after its last part), so a crash leaves the old bytes or
 * the new ones. A request without an answer within timeout_ms fails with
 * KCR_ERR_UNAVAILABLE. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "store/blob.h"

/* MINIO_* settings (serve-config.c reads them). Strings are borrowed for the
 * call only. */
struct kcr_s3_config {
    const char *endpoint;   /* MINIO_ENDPOINT: host[:port], no scheme */
    bool secure;            /* MINIO_SECURE: https (default true) */
    const char *access_key; /* MINIO_ACCESS_KEY */
    const char *secret_key; /* MINIO_SECRET_KEY */
    const char *bucket;     /* MINIO_BUCKET, "kubecoderun-files"; created if missing */
    const char *region;     /* MINIO_REGION, "us-east-1" */
    const char *ca_file;    /* MINIO_CA_CERTS: a PEM file, or NULL = the system's */
    const char *spool_dir;  /* local directory for tmpfile() and the upload spool */
    long timeout_ms;        /* S3_TIMEOUT_SECONDS, 30 s without progress */
};

/* Checks the bucket (creating it if missing). Free with blob_free(). */
struct kcr_blob *blob_s3_open(const struct kcr_s3_config *cfg, struct kcr_err *err);
