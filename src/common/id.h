/* id — 21-character nanoid ids over [A-Za-z0-9_-] with alphanumeric first and
 * last characters (what LibreChat validates: ^[A-Za-z0-9_-]{21}$). */
#pragma once

#include <stdbool.h>

#define KCR_ID_LEN 21

/* Writes a fresh random id and its NUL into out. */
void id_new(char out[KCR_ID_LEN + 1]);

/* True if s has the id shape (21 chars of the alphabet). */
bool id_is_valid(const char *s);
