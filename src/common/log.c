#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Set once before any thread starts; read-only afterwards. */
static const char *log_component = "kcr";

void log_init(const char *component)
{
    log_component = component;
}

static const char *level_name(enum kcr_log_level level)
{
    switch (level) {
    case KCR_LOG_DEBUG:
        return "debug";
    case KCR_LOG_INFO:
        return "info";
    case KCR_LOG_WARN:
        return "warn";
    case KCR_LOG_ERROR:
        return "error";
    }
    return "info";
}

void log_json(enum kcr_log_level level, const char *request_id, const char *msg, json_t *fields)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

    json_t *o = json_object();
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(level_name(level)));
    json_object_set_new(o, "component", json_string(log_component));
    if (request_id)
        json_object_set_new(o, "request_id", json_string(request_id));
    json_object_set_new(o, "msg", json_string(msg ? msg : ""));
    if (fields)
        json_object_update(o, fields);
    json_decref(fields);

    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!line)
        return;
    size_t len = strlen(line);
    line[len] = '\n'; /* overwrite the NUL: one write() keeps concurrent lines whole */
    (void)!write(STDERR_FILENO, line, len + 1);
    free(line);
}

void log_msg(enum kcr_log_level level, const char *request_id, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_json(level, request_id, msg, NULL);
}
