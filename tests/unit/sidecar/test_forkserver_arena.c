/* forkserver-arena: CPython's arenas from one reserved region, reused when
 * freed, and from mmap once the region is full or for what it never gave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>

#include "sidecar/forkserver-arena.h"

#define ARENA (1UL << 20) /* CPython's ARENA_SIZE since 3.10 */

/* The mapping of /proc/self/maps that holds p: its size, or 0. */
static size_t mapping_size(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "re");
    assert_non_null(f);
    char line[512];
    size_t size = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)p >= lo && (uintptr_t)p < hi)
            size = hi - lo;
    }
    fclose(f);
    return size;
}

/* A machine that refuses the reservation (a small RLIMIT_AS, say) leaves
 * CPython's own arenas in use: slower, not wrong. Skipped there, saying so. */
static bool reserved(void)
{
    int r = forkserver_arena_reserve();
    if (r < 0)
        fprintf(stderr, "skipped: the region cannot be reserved here: %s\n", strerror(-r));
    return r == 0;
}

static void test_arenas_are_contiguous_and_reused(void **state)
{
    (void)state;
    if (!reserved())
        skip();
    assert_int_equal(forkserver_arena_reserve(), 0); /* once only */
    char *a = forkserver_arena_alloc(NULL, ARENA);
    char *b = forkserver_arena_alloc(NULL, ARENA);
    char *c = forkserver_arena_alloc(NULL, ARENA);
    assert_non_null(a);
    /* One region, starting on a 2 MiB boundary, one arena after the other:
     * what a collapse into 2 MiB pages needs. */
    assert_int_equal((uintptr_t)a % (2UL << 20), 0);
    assert_ptr_equal(b, a + ARENA);
    assert_ptr_equal(c, b + ARENA);
    assert_true(mapping_size(a) >= (256UL << 20));
    memset(a, 1, ARENA);
    memset(b, 2, ARENA);
    /* A freed arena gives its pages back and its addresses are the next. */
    forkserver_arena_free(NULL, b, ARENA);
    char *again = forkserver_arena_alloc(NULL, ARENA);
    assert_ptr_equal(again, b);
    assert_int_equal(again[0], 0);
    assert_int_equal(again[ARENA - 1], 0);
    assert_int_equal(a[ARENA - 1], 1);
    forkserver_arena_free(NULL, a, ARENA);
    forkserver_arena_free(NULL, again, ARENA);
    forkserver_arena_free(NULL, c, ARENA);
}

static void test_full_region_falls_back_to_mmap(void **state)
{
    (void)state;
    if (!reserved())
        skip();
    char *first = forkserver_arena_alloc(NULL, ARENA);
    size_t region = mapping_size(first);
    /* Fill the region (freed slots first, then the rest). */
    size_t n = region / ARENA + 4, in = 0;
    char **all = calloc(n, sizeof(char *));
    assert_non_null(all);
    all[0] = first;
    for (size_t i = 1; i < n; i++) {
        all[i] = forkserver_arena_alloc(NULL, ARENA);
        assert_non_null(all[i]);
    }
    char *outside = forkserver_arena_alloc(NULL, ARENA);
    assert_non_null(outside);
    /* Not the region (the kernel may merge it with its mmap()ed neighbours). */
    assert_true(mapping_size(outside) < region);
    outside[0] = 7;
    forkserver_arena_free(NULL, outside, ARENA); /* munmap()ed */
    assert_int_equal(mapping_size(outside), 0);
    for (size_t i = 0; i < n; i++) {
        if (mapping_size(all[i]) >= (256UL << 20))
            in++;
        forkserver_arena_free(NULL, all[i], ARENA);
    }
    assert_true(in >= 250);
    free(all);
    /* Memory CPython mapped itself before the switch is unmapped on free. */
    char *own = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(own, MAP_FAILED);
    forkserver_arena_free(NULL, own, ARENA);
    assert_int_equal(mapping_size(own), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arenas_are_contiguous_and_reused),
        cmocka_unit_test(test_full_region_falls_back_to_mmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
