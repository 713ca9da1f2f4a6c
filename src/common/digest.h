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
