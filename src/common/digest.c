#include "common/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

static void hex(const unsigned char *md, char out[65])
{
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

void digest_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    hex(md, out);
}

int digest_sha256_fd(int fd, char out[65])
{
    return digest_sha256_range(fd, 0, UINT64_MAX, out);
}

/* The struct is OpenSSL's context itself: no wrapper to allocate. */
struct digest_sha256 *digest_sha256_new(void)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return (struct digest_sha256 *)ctx;
}

void digest_sha256_update(struct digest_sha256 *d, const void *data, size_t len)
{
    EVP_DigestUpdate((EVP_MD_CTX *)d, data, len);
}

void digest_sha256_final_hex(struct digest_sha256 *d, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex((EVP_MD_CTX *)d, md, &n);
    hex(md, out);
}

void digest_sha256_free(struct digest_sha256 *d)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)d);
}

int digest_sha256_range(int fd, uint64_t off, uint64_t len, char out[65])
{
    struct digest_sha256 *d = digest_sha256_new();
    if (!d)
        return -ENOMEM;
    char chunk[65536];
    uint64_t left = len;
    while (left > 0) {
        size_t want = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
        ssize_t n = pread(fd, chunk, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n == 0 && len != UINT64_MAX)) {
            int e = n < 0 ? errno : EIO; /* shorter than the caller said */
            digest_sha256_free(d);
            return -e;
        }
        if (n == 0)
            break;
        digest_sha256_update(d, chunk, (size_t)n);
        off += (uint64_t)n;
        if (len != UINT64_MAX)
            left -= (uint64_t)n;
    }
    digest_sha256_final_hex(d, out);
    digest_sha256_free(d);
    return 0;
}
