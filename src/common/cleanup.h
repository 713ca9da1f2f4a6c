/* cleanup — scope-bound ownership (GNU cleanup attribute), as in systemd.
 *
 *   _cleanup_free_ char *s = xstrdup(x);      freed at scope end
 *   _cleanup_close_ int fd = open(...);        closed at scope end
 *   return TAKE_PTR(s);                        hands ownership to the caller
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>
#include <jansson.h>

/* Closes fd (if >= 0) keeping errno; returns -1 so callers write fd = safe_close(fd). */
static inline int safe_close(int fd)
{
    if (fd >= 0) {
        int saved = errno;
        (void)close(fd); /* Linux frees the fd even on EINTR: never retry close. */
        errno = saved;
    }
    return -1;
}

static inline void freep(void *p)
{
    free(*(void **)p);
}
static inline void closep(const int *fd)
{
    (void)safe_close(*fd);
}
static inline void fclosep(FILE **f)
{
    if (*f)
        (void)fclose(*f);
}
static inline void closedirp(DIR **d)
{
    if (*d)
        (void)closedir(*d);
}
/* jansson >= 2.9 provides json_decrefp() for its own json_auto_t. */

#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_dir_    _cleanup_(closedirp)
#define _cleanup_json_   _cleanup_(json_decrefp)

#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        typeof(p) _tp = (p);                                                                       \
        (p) = NULL;                                                                                \
        _tp;                                                                                       \
    })
#define TAKE_FD(fd)                                                                                \
    ({                                                                                             \
        int _tf = (fd);                                                                            \
        (fd) = -1;                                                                                 \
        _tf;                                                                                       \
    })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
