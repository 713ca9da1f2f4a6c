/* names — file names that cross a trust boundary. */
#pragma once

#include <stdbool.h>

#define KCR_NAME_MAX 255

/* True for a single safe path component: non-empty, at most 255 bytes, no '/',
 * not starting with '.', not containing "..". */
bool names_is_safe(const char *name);

/* True for a relative path of safe components separated by single '/'
 * (e.g. "plots/a.png"), at most depth components. */
bool names_is_safe_path(const char *path, int depth);

/* The upload file-name rule (api-contract rule 7): basename, every byte outside
 * [A-Za-z0-9.-] becomes '_', a leading '.' or an empty result gets a '_' prefix,
 * capped at 255 bytes keeping the extension. Returns a new string. */
char *names_sanitize(const char *filename);
