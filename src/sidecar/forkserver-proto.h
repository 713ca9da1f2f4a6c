/* forkserver-proto — what kcr-nsexec's init and the fork-server template say
 * to each other (docs/local-pods.md, "Fork-server").
 *
 * init → template, one SOCK_SEQPACKET message: struct forkserver_req, then
 * NUL-terminated strings: the working directory, nargv arguments ("python",
 * "-c", code, args...) and nenv environment entries. SCM_RIGHTS carries
 * [stdin, stdout, stderr, status pipe]; the kernel adds the sender's
 * credentials (the template sets SO_PASSCRED), which is how the template
 * knows the pod: never from the message.
 *
 * template → init: one int32, 0 once the entrant has run and exited (the
 * program, if it forked one, is then init's orphan; failures are on the
 * status pipe), else -errno: refused, and nothing was started (init then
 * starts the program itself).
 *
 * status pipe (entrant and program → init): struct forkserver_status records.
 * The program writes FORKSERVER_HELLO with its pid (in init's namespace)
 * first; a failing step writes {step, errno} (enum nsexec_step). EOF without
 * a failure after the hello means the program dropped its privileges. */
#pragma once

#include <stdint.h>

#define FORKSERVER_MAGIC   0x6b636673u /* "kcfs" */
#define FORKSERVER_MSG_MAX 65536
#define FORKSERVER_HELLO   (-1)

struct forkserver_req {
    uint32_t magic;
    uint32_t uid, gid;
    uint32_t nargv, nenv;
    uint32_t reserved;
    uint64_t cpu_s, fsize, nofile, nproc; /* struct kcr_rlimits */
};
_Static_assert(sizeof(struct forkserver_req) == 56, "Python reads it as '=6I4Q'");

struct forkserver_status {
    int32_t step;  /* FORKSERVER_HELLO, or enum nsexec_step */
    int32_t value; /* the pid, or errno */
};
