/* output — turns a program's raw stdout/stderr bytes into the strings /exec
 * returns (docs/api-contract.md rule 4). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define OUTPUT_TRUNCATED_MARK "\n[Output truncated - size limit exceeded]"

/* Decodes data as UTF-8 (each invalid sequence becomes U+FFFD), removes control
 * characters other than \t \n \r, keeps at most cap_chars characters (then
 * appends OUTPUT_TRUNCATED_MARK), keeps leading whitespace, and for stdout
 * ends a non-empty result with '\n'. `truncated` says the producer already cut
 * the stream. Returns a new NUL-terminated string (never NULL). */
char *output_process(const char *data, size_t len, size_t cap_chars, bool is_stdout,
                     bool truncated);
