#include "store/meta.h"

struct kcr_meta *meta_free(struct kcr_meta *m)
{
    if (m)
        m->ops->free(m);
    return NULL;
}
