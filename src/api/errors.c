#include "api/errors.h"

#include <time.h>

int errors_status(enum kcr_err_kind kind)
{
    switch (kind) {
    case KCR_ERR_INVALID:
        return 400;
    case KCR_ERR_FORBIDDEN:
        return 403;
    case KCR_ERR_NOT_FOUND:
        return 404;
    case KCR_ERR_LIMIT:
        return 413;
    case KCR_ERR_UNAVAILABLE:
    case KCR_ERR_BUSY:
        return 503;
    case KCR_ERR_TIMEOUT:
        return 504;
    case KCR_ERR_NONE:
    case KCR_ERR_INTERNAL:
        break;
    }
    return 500;
}

const char *errors_type(int status)
{
    switch (status) {
    case 400:
    case 415:
    case 422:
        return "validation";
    case 401:
        return "authentication";
    case 403:
        return "authorization";
    case 404:
        return "resource_not_found";
    case 405:
        return "method_not_allowed";
    case 409:
        return "resource_conflict";
    case 413:
        return "resource_exhausted";
    case 429:
        return "rate_limited";
    case 502:
        return "external_service";
    case 503:
        return "service_unavailable";
    case 504:
        return "timeout";
    default:
        return "internal_server";
    }
}

double errors_timestamp(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000) / 1e6;
}

json_t *errors_detail(const char *field, const char *message, const char *code)
{
    return json_pack("{s:o,s:s,s:o}", "field", field ? json_string(field) : json_null(), "message",
                     message, "code", code ? json_string(code) : json_null());
}

struct kcr_http_resp *errors_app(struct kcr_http_req *req, int status, const char *msg,
                                 json_t *details)
{
    json_t *body =
        json_pack("{s:s,s:s,s:o,s:s,s:f}", "error", msg, "error_type", errors_type(status),
                  "details", details ? details : json_null(), "request_id",
                  req ? http_req_id(req) : "", "timestamp", errors_timestamp());
    return http_resp_json(status, body);
}

struct kcr_http_resp *errors_from_err(struct kcr_http_req *req, const struct kcr_err *err)
{
    return errors_app(req, errors_status(err->kind), err->msg, NULL);
}

struct kcr_http_resp *errors_middleware(int status, const char *msg)
{
    return http_resp_json(status,
                          json_pack("{s:s,s:f}", "error", msg, "timestamp", errors_timestamp()));
}

struct kcr_http_resp *errors_http_hook(struct kcr_http_req *req, int status, const char *msg,
                                       void *ctx)
{
    (void)ctx;
    struct kcr_http_resp *r = errors_app(req, status, msg, NULL);
    return r;
}
