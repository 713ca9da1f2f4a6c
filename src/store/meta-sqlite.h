/* meta-sqlite — the embedded metadata store: one SQLite database in WAL mode
 * with synchronous=FULL, so a record is on disk once its call returns. */
#pragma once

#include "common/err.h"
#include "store/meta.h"

/* Opens (creating if needed) the database at path and its schema. Free with meta_free(). */
struct kcr_meta *meta_sqlite_open(const char *path, struct kcr_err *err);
