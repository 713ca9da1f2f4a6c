/* pod-table — a FAKE pod's /mnt/data as a table, for unit tests only
 * (tests/fakes/: built into build/libfakes.a, which only unit tests link).
 *
 * The fake sidecar of pod-fake.h answers the file routes from the table:
 * POST /files (uploads land in it), GET /files? (a listing of it) and
 * GET /files/<name> (a download from it); it counts them and records the
 * names. The test's own handler answers the routes that run a program
 * (/execute, /programmatic...) and, while it does, writes the code file and
 * what the test said the program writes into the table
 * (pod_table_put_code, pod_table_put_writes). Pods are single-use and every
 * pod shares the one fake sidecar: pod_table_new_pod empties the table
 * between runs. Nothing here runs user code. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fakes/pod-fake.h"

#define POD_TABLE_MAX_FILES 32
#define POD_TABLE_MAX_SEEN  32

struct pod_table_file {
    char name[256];
    char *data;
    size_t len;
    int64_t mtime_ns;
};

/* Read by the tests directly; under mu while a run may be in flight. The
 * test's own fake state may share mu. */
struct pod_table {
    pthread_mutex_t mu;
    pthread_cond_t cond;                              /* hold_upload cleared */
    struct pod_table_file files[POD_TABLE_MAX_FILES]; /* the pod's /mnt/data */
    size_t nfiles;
    struct pod_table_file writes[POD_TABLE_MAX_FILES]; /* what the program writes */
    size_t nwrites;
    char code_file[64]; /* written when the program starts, as the real sidecar does */
    bool hold_upload;   /* POST /files waits until cleared (at most 10 s) */
    /* Seen by the sidecar. */
    unsigned n_list, n_put, n_get;
    char puts[POD_TABLE_MAX_SEEN][256]; /* names uploaded, in order */
    char gets[POD_TABLE_MAX_SEEN][256]; /* names downloaded, in order */
};

#define POD_TABLE_INIT                                                                             \
    {                                                                                              \
        .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER                          \
    }

/* A new, empty pod: no files, nothing seen. The writes and the code file
 * stay. */
void pod_table_new_pod(struct pod_table *t);
/* Forgets everything (files, writes, code file, what was seen) and lets go
 * of a held upload. */
void pod_table_clear(struct pod_table *t);
/* The program will write name: len bytes of data, or of 'x' when data is
 * NULL (replacing an earlier write of that name). */
void pod_table_will_write(struct pod_table *t, const char *name, const char *data, size_t len);
/* The program writes nothing (forgets the writes said so far). */
void pod_table_no_writes(struct pod_table *t);
/* The code file a program's start writes (the language's file name). */
void pod_table_set_code_file(struct pod_table *t, const char *name);
/* While true, uploads wait (counted in n_put and puts first). */
void pod_table_hold_uploads(struct pod_table *t, bool hold);

/* For the test's handler, with t->mu held: the program starts (its code
 * file lands in the table) or writes (its writes land). */
void pod_table_put_code(struct pod_table *t);
void pod_table_put_writes(struct pod_table *t);

/* With t->mu held: the table as GET /files?recursive=1 answers it
 * ({"files", "truncated"}, new reference), for a handler whose /execute
 * answers list_files. Not counted in n_list. */
json_t *pod_table_listing(const struct pod_table *t);

/* A pod_fake_handler (userdata: the table) for the file routes; anything
 * else is a 404. */
void pod_table_handler(const struct pod_fake_request *req, int fd, void *table);
