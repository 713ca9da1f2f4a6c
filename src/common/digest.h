/* digest — SHA-256 (OpenSSL libcrypto) as lowercase hex, for ETags, state
 * hashes and managed API keys. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* sha256 of len bytes at data into out (64 hex digits and a NUL). */
void digest_sha256_hex(const void *data, size_t len, char out[65]);

/* sha256 of everything fd holds from offset 0 (read with pread). Returns 0,
 * or -errno. */
int digest_sha256_fd(int fd, char out[65]);

/* sha256 of the len bytes of fd at off (pread; UINT64_MAX: up to EOF).
 * Returns 0, or -errno (-EIO if fd ends before off + len). */
int digest_sha256_range(int fd, uint64_t off, uint64_t len, char out[65]);

/* Incremental sha256, for bytes seen once as they stream by. */
struct digest_sha256;
struct digest_sha256 *digest_sha256_new(void); /* NULL when out of memory */
void digest_sha256_update(struct digest_sha256 *d, const void *data, size_t len);
/* The hex digest of everything updated so far; d stays usable only for _free. */
void digest_sha256_final_hex(struct digest_sha256 *d, char out[65]);
void digest_sha256_free(struct digest_sha256 *d);
