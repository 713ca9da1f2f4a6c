/* pyimports — which Python programs need nothing a preload would give them.
 *
 * A lite pod's runner (pod/pod.h) starts from an interpreter that imported
 * nothing, which costs a fraction of the CPU of a fork of the preloaded
 * one. The orchestrator gives it the programs this module says import only
 * standard-library modules. It is a guess, never a matter of correctness:
 * both kinds of pods run any program the same way; a program that does
 * import numpy on a lite pod only pays the import. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Whether every import in code (len bytes) names a module of a fixed list
 * of standard-library modules, and code mentions no way of importing by
 * name (__import__, importlib, exec, eval, compile, runpy). Comments and
 * string literals are skipped. */
bool pyimports_stdlib_only(const char *code, size_t len);
