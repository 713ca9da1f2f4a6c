/* kcr-podmgr — the local backend's privileged pod manager (podmgr.h).
 *
 * kcr execs it rather than running the manager in a fork of itself: every pod
 * starts as a fork of this process (pod init, then the main container and the
 * sidecar), and the kernel copies a forked process's mappings one by one. A
 * fork of kcr carries kcr's ~250 (libcurl, OpenSSL, SQLite, libmicrohttpd and
 * all they load), which cost a few milliseconds of CPU on every pod; this
 * program links only what managing pods needs. It also keeps the server's
 * HTTP, TLS and SQL code out of the one process that stays root.
 *
 * Started with the socketpair to kcr as fd 3; everything else it needs comes
 * over it (podmgr-config.c). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"
#include "pod/podmgr-internal.h"

int main(int argc, char **argv)
{
    (void)argv;
    log_init("kcr-podmgr");
    int flags = fcntl(PODMGR_FD, F_GETFD);
    if (argc != 1 || flags < 0) {
        fprintf(stderr, "kcr-podmgr: started by kcr only (it needs kcr's socket as fd %d)\n",
                PODMGR_FD);
        return 2;
    }
    /* Nothing this process starts may inherit it. */
    (void)fcntl(PODMGR_FD, F_SETFD, flags | FD_CLOEXEC);
    /* Non-dumpable, as kcr serve makes itself (the exec made us dumpable
     * again): no core file, /proc files and ptrace for root only; pod init
     * (a fork) inherits it and lifts it only for its id-map writes. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    podmgr_manager_main(PODMGR_FD);
}
