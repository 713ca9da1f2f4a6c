#include "store/blob.h"

struct kcr_blob *blob_free(struct kcr_blob *b)
{
    if (b)
        b->ops->free(b);
    return NULL;
}
