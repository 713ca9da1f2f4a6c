#include "common/curl-init.h"

#include <curl/curl.h>
#include <pthread.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc = CURLE_FAILED_INIT;

static void init_global(void)
{
    init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int curl_init_once(struct kcr_err *err)
{
    pthread_once(&init_once, init_global);
    if (init_rc != CURLE_OK)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "curl_global_init: %s",
                           curl_easy_strerror(init_rc));
    return 0;
}
