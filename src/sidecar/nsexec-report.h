/* nsexec-report — what kcr-nsexec tells the sidecar through --report-fd.
 *
 * Exactly one fixed-size record is written (smaller than PIPE_BUF, so the
 * write is atomic): how the user program ended, or which setup step failed
 * with which errno. No record at all means kcr-nsexec was killed (timeout). */
#pragma once

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>

#define NSEXEC_REPORT_MAGIC 0x6b637231u /* "kcr1" */

enum nsexec_outcome {
    NSEXEC_EXITED = 1,   /* code = exit status */
    NSEXEC_SIGNALED = 2, /* code = signal number */
    NSEXEC_FAILED = 3,   /* step/errnum say what failed before exec */
};

/* Setup steps, in the order kcr-nsexec runs them. */
enum nsexec_step {
    NSEXEC_STEP_NONE = 0,
    NSEXEC_STEP_ENVIRON,
    NSEXEC_STEP_OPEN_NS,
    NSEXEC_STEP_OPEN_ROOT,
    NSEXEC_STEP_VERIFY_TARGET,
    NSEXEC_STEP_SETNS,
    NSEXEC_STEP_UNSHARE,
    NSEXEC_STEP_MAKE_PRIVATE,
    NSEXEC_STEP_CHROOT,
    NSEXEC_STEP_CHDIR,
    NSEXEC_STEP_FORK,
    NSEXEC_STEP_PDEATHSIG,
    NSEXEC_STEP_MOUNT_PROC,
    NSEXEC_STEP_CLOSE_FDS,
    NSEXEC_STEP_DROP_PRIVS,
    NSEXEC_STEP_NO_NEW_PRIVS,
    NSEXEC_STEP_OOM_ADJ,
    NSEXEC_STEP_RLIMIT,
    NSEXEC_STEP_RESOLVE,
    NSEXEC_STEP_SECCOMP,
    NSEXEC_STEP_EXEC,
    NSEXEC_STEP_ARGS,
    NSEXEC_STEP_CGROUP, /* fork-server: join the pod's cgroups */
    NSEXEC_STEP_MASK_PROC,
    NSEXEC_STEP__MAX,
};

struct nsexec_report {
    uint32_t magic;
    int32_t outcome; /* enum nsexec_outcome */
    int32_t code;    /* exit status or signal number */
    int32_t step;    /* enum nsexec_step when FAILED */
    int32_t errnum;  /* errno of the failed step */
};

/* A short name of a step ("setns", "exec"). */
const char *nsexec_report_step_name(int step);

/* A program that has finished, flushed and closed its stdio may tell init
 * so before its exit: sigqueue(1, NSEXEC_DONE_SIGNAL, {.sival_int = exit
 * status}). init then reports at once, rather than after the kernel has
 * torn down the program's address space (milliseconds for a preloaded
 * interpreter). Only a signal naming init's program as its sender counts
 * (a sender can forge that with rt_sigqueueinfo, but every process that can
 * signal this init belongs to the same run: lying only ends that run
 * early). */
#define NSEXEC_DONE_SIGNAL SIGUSR1

/* Writes one record to fd (async-signal-safe). Returns 0 or -errno. */
int nsexec_report_write(int fd, enum nsexec_outcome outcome, int code, int step, int errnum);

/* Validates a record read by the sidecar (magic, ranges). */
bool nsexec_report_valid(const struct nsexec_report *r);
