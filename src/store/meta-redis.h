/* meta-redis — the shared metadata store for several `kcr serve` replicas:
 * every record of store/meta.h in one Redis database (docs/scale-out.md).
 *
 * Records with a lifetime expire as Redis keys; updates two replicas can race
 * (a session for one entity, a key, a counter) are atomic on the server. A
 * call that gets no answer within socket_timeout_ms fails with
 * KCR_ERR_UNAVAILABLE, never hangs; the next call reconnects. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "store/meta.h"

/* REDIS_URL, or REDIS_HOST/PORT/PASSWORD/DB, and the rest (serve-config.c
 * reads them; docs/scale-out.md). Strings are borrowed for the call only. */
struct kcr_redis_config {
    const char *host;       /* REDIS_HOST, or the URL's host */
    int port;               /* REDIS_PORT, 6379 */
    const char *username;   /* the URL's user (ACL), or NULL */
    const char *password;   /* REDIS_PASSWORD, or the URL's, or NULL */
    int db;                 /* REDIS_DB, or the URL's path, 0 */
    const char *key_prefix; /* REDIS_KEY_PREFIX, "" */
    bool tls;               /* REDIS_SSL, or a rediss:// URL */
    const char *tls_ca;     /* REDIS_SSL_CA_CERTS: a PEM file, or NULL = the system's */
    const char *tls_cert;   /* REDIS_SSL_CERTFILE, with tls_key: a client certificate */
    const char *tls_key;    /* REDIS_SSL_KEYFILE */
    bool tls_verify;        /* REDIS_SSL_CERT_REQS != none: check the server (default) */
    long socket_timeout_ms; /* REDIS_SOCKET_TIMEOUT (s), 5 s: connect and each reply */
    size_t max_connections; /* REDIS_MAX_CONNECTIONS, 20: the pool's size */
};

/* Connects once to check the settings (a wrong password or db fails with
 * KCR_ERR_INVALID, an unreachable server with KCR_ERR_UNAVAILABLE). Free with
 * meta_free(). */
struct kcr_meta *meta_redis_open(const struct kcr_redis_config *cfg, struct kcr_err *err);
