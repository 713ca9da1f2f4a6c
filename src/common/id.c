#include "common/id.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

static void fill_random(unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            abort(); /* the kernel's CSPRNG failing is not recoverable */
        }
        p += r;
        n -= (size_t)r;
    }
}

void id_new(char out[KCR_ID_LEN + 1])
{
    unsigned char rnd[64];
    size_t used = sizeof(rnd);
    for (int i = 0; i < KCR_ID_LEN; i++) {
        /* 64 symbols: 6 random bits each, so no modulo bias. First and last
         * characters draw again until alphanumeric (62 of 64). */
        bool edge = (i == 0 || i == KCR_ID_LEN - 1);
        char c;
        do {
            if (used == sizeof(rnd)) {
                fill_random(rnd, sizeof(rnd));
                used = 0;
            }
            c = alphabet[rnd[used++] & 63];
        } while (edge && (c == '_' || c == '-'));
        out[i] = c;
    }
    out[KCR_ID_LEN] = '\0';
}

bool id_is_valid(const char *s)
{
    if (!s || strlen(s) != KCR_ID_LEN)
        return false;
    return strspn(s, alphabet) == KCR_ID_LEN;
}
