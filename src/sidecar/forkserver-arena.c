#include "sidecar/forkserver-arena.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* Address space, not memory: the default preload's arenas take ~70 MiB; a
 * program's arenas go on from there and fall back to mmap beyond it. */
#define REGION_BYTES (256UL << 20)
#define HUGE_BYTES   (2UL << 20)
#define FREE_MAX     256

struct freed {
    char *ptr;
    size_t size;
};

/* The template's only instance, copied into each program with the rest of
 * its memory (a program's arenas are its own from then on). */
static struct {
    char *base, *next, *end;
    size_t page;
    struct freed freed[FREE_MAX];
    size_t nfreed;
} region;

int forkserver_arena_reserve(void)
{
    if (region.base)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return -EINVAL;
    /* One 2 MiB more, to start on a 2 MiB boundary: a collapse works on
     * aligned 2 MiB ranges only. */
    char *p = mmap(NULL, REGION_BYTES + HUGE_BYTES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    region.page = (size_t)page;
    region.base = (char *)(((uintptr_t)p + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1));
    region.next = region.base;
    region.end = region.base + REGION_BYTES;
    return 0;
}

static size_t page_round(size_t n)
{
    return (n + region.page - 1) & ~(region.page - 1);
}

static int in_region(const void *ptr)
{
    return region.base && (const char *)ptr >= region.base && (const char *)ptr < region.end;
}

void *forkserver_arena_alloc(void *ctx, size_t size)
{
    (void)ctx;
    if (region.base && size > 0) {
        size_t n = page_round(size);
        for (size_t i = 0; i < region.nfreed; i++) {
            if (region.freed[i].size == n) {
                char *ptr = region.freed[i].ptr;
                region.freed[i] = region.freed[--region.nfreed];
                return ptr;
            }
        }
        if ((size_t)(region.end - region.next) >= n) {
            char *ptr = region.next;
            region.next += n;
            return ptr;
        }
    }
    void *ptr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return ptr == MAP_FAILED ? NULL : ptr;
}

void forkserver_arena_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (!ptr)
        return;
    if (!in_region(ptr)) {
        (void)munmap(ptr, size);
        return;
    }
    size_t n = page_round(size);
    /* The pages go back to the system; the addresses stay reserved. With no
     * slot left they are not reused, which costs address space only. */
    (void)madvise(ptr, n, MADV_DONTNEED);
    if (region.nfreed < FREE_MAX)
        region.freed[region.nfreed++] = (struct freed){ptr, n};
}
