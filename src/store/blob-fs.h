/* blob-fs — blobs as files under a root directory: <root>/<dir>/<name>, with
 * unnamed temporaries in <root>/.tmp (same filesystem, so commit is a link
 * and a rename, never a copy). */
#pragma once

#include "common/err.h"
#include "store/blob.h"

/* Opens (creating) the store at root and removes temporaries a crash left. */
struct kcr_blob *blob_fs_open(const char *root, struct kcr_err *err);
