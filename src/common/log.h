/* log — one JSON object per line on stderr.
 *
 * Every line has "ts", "level", "component" and "msg"; request handlers add
 * "request_id" and whatever fields describe the event. Only top-level code
 * (handlers, main loops) logs; library code returns errors instead. */
#pragma once

#include <jansson.h>

enum kcr_log_level { KCR_LOG_DEBUG, KCR_LOG_INFO, KCR_LOG_WARN, KCR_LOG_ERROR };

/* Sets the component name printed on every line; call once at start. */
void log_init(const char *component);

/* Logs msg with extra fields (taken; may be NULL). request_id may be NULL. */
void log_json(enum kcr_log_level level, const char *request_id, const char *msg, json_t *fields);

/* printf-style convenience without extra fields. */
void log_msg(enum kcr_log_level level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
