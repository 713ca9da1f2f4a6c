/* forkserver-arena — one contiguous region for the template's Python objects.
 *
 * CPython's small-object allocator takes its memory in 1 MiB arenas, each
 * mmap()ed on its own: after the preload the template's objects are spread
 * over hundreds of separate mappings, which stay 4 KiB-paged. Every fork
 * copies one page-table entry per 4 KiB page of them and every program's
 * exit tears them down again. Served from one region instead, they can be
 * collapsed into 2 MiB pages with the rest of the heap (runtime/forkserver.py,
 * _huge_pages): one entry per 2 MiB. A fork-and-exit of the default preload
 * measured 12.3 -> 7.9 ms of CPU here.
 *
 * Built into kcr-forkserver.so; the template installs the two functions as
 * CPython's arena allocator (PyObject_SetArenaAllocator, through ctypes)
 * before it imports anything. Not privileged: it only decides addresses. */
#pragma once

#include <stddef.h>

#include "sidecar/forkserver-child.h" /* KCR_FS_EXPORT */

/* Reserves the region (address space only: MAP_NORESERVE, no page is
 * touched). Returns 0, or -errno (then leave CPython's allocator as it is). */
KCR_FS_EXPORT int forkserver_arena_reserve(void);

/* CPython's PyObjectArenaAllocator functions. An arena comes from the region
 * while it has room (a freed one of the same size first), else from mmap as
 * CPython's own allocator does; one freed inside the region gives its pages
 * back (MADV_DONTNEED) and its addresses are reused, one outside is
 * munmap()ed (arenas made before the switch). Called with the GIL held. */
KCR_FS_EXPORT void *forkserver_arena_alloc(void *ctx, size_t size);
KCR_FS_EXPORT void forkserver_arena_free(void *ctx, void *ptr, size_t size);
