/* names — file names that cross a trust boundary. */
#pragma once

#include <stdbool.h>

#define KCR_NAME_MAX 255
/* The longest relative path names_is_safe_path accepts (PATH_MAX less the NUL). */
#define KCR_PATH_MAX 4095

/* True for a single safe path component: non-empty, at most 255 bytes, no '/',
 * not starting with '.', not containing "..". */
bool names_is_safe(const char *name);

/* True for a relative path of safe components separated by single '/'
 * (e.g. "plots/a.png"), at most depth components and KCR_PATH_MAX bytes. */
bool names_is_safe_path(const char *path, int depth);

/* The upload file-name rule (docs/api-contract.md rule 7): basename, every byte outside
 * [A-Za-z0-9.-] becomes '_', a leading '.' or an empty result gets a '_' prefix,
 * capped at 255 bytes keeping the extension (at most 16 bytes), then in every run
 * of dots all but the last become '_' ("a..b" -> "a_.b", ".." -> "__."), so the
 * result always passes names_is_safe. Returns a new string. */
char *names_sanitize(const char *filename);

/* The upload rule for a relative path ("notes/out.txt"): split on '/', empty, "."
 * and ".." components dropped ("a/../../x" -> "a/x"), each other component as
 * names_sanitize gives it, joined by '/'; nothing left gives "_". Returns a new
 * string that passes names_is_safe_path(result, max_depth), or NULL when there are
 * more than max_depth components or the result would exceed KCR_PATH_MAX bytes. */
char *names_sanitize_path(const char *filename, int max_depth);

/* The rule for the name a client asks a stored file to be mounted under: NULL
 * unless name is a relative path of at most max_depth non-empty components, none
 * "." or "..", and at most KCR_PATH_MAX bytes (before and after sanitising). Each
 * component is sanitised as by names_sanitize ("my data.csv" -> "my_data.csv").
 * Returns a new string that passes names_is_safe_path(result, max_depth). */
char *names_mount_path(const char *name, int max_depth);
