#!/usr/bin/python3
"""check-layers — every #include of src/<module>/ against the dependency table.

The table is the Makefile's, written once there (docs/architecture.md,
"Modules and the dependency table"):

    MODULES := api core lint pod ...     link order: users before what they use
    DEPS_api := core http common         what src/api/ may include, directly

A file of src/<module>/ may include its own module's headers and those of
the modules in DEPS_<module>; tests/fakes/ is checked as the module `fakes`.
An include of another module, of a directory that is no module, or one that
climbs out with "../", is a forbidden edge: each is printed as
file:line: <module> -> <target> (and why), and the exit status is 1.

Also checked: every directory of src/ has a row and every row a directory,
rows name only modules, and MODULES lists each module before its DEPS (so
the derived link lines are in a valid order and the graph has no cycle).

Usage: scripts/check-layers.py [--makefile PATH] [--root DIR]
"""
import argparse
import os
import re
import sys

ASSIGN = re.compile(r"^(MODULES|DEPS_([A-Za-z0-9_]+))\s*:?=\s*(.*?)\s*(?:#.*)?$")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')
# Modules that are not directories of src/ (name -> directory).
EXTRA_DIRS = {"fakes": "tests/fakes"}


def read_table(makefile):
    """MODULES (a list) and DEPS (module -> list), from the Makefile's lines."""
    modules, deps = None, {}
    with open(makefile, encoding="utf-8") as f:
        for line in f:
            m = ASSIGN.match(line.rstrip("\n"))
            if not m:
                continue
            words = m.group(3).split()
            if m.group(1) == "MODULES":
                modules = words
            else:
                deps[m.group(2)] = words
    return modules, deps


def table_problems(modules, deps, root):
    out = []
    if not modules:
        return ["Makefile: no MODULES line"]
    src_dirs = sorted(d for d in os.listdir(os.path.join(root, "src"))
                      if os.path.isdir(os.path.join(root, "src", d)))
    known = set(modules) | set(EXTRA_DIRS)
    for d in src_dirs:
        if d not in modules:
            out.append(f"src/{d}/: a module missing from MODULES (and the table)")
    for m in modules:
        if m not in deps:
            out.append(f"Makefile: module '{m}' has no DEPS_{m} row")
        if m not in src_dirs:
            out.append(f"Makefile: module '{m}' has no directory src/{m}/")
    for m, ds in deps.items():
        if m not in known:
            out.append(f"Makefile: DEPS_{m} is the row of no module")
        for d in ds:
            if d not in modules:
                out.append(f"Makefile: DEPS_{m} names '{d}', which is no module")
            elif d == m:
                out.append(f"Makefile: DEPS_{m} names the module itself")
            elif m in modules and modules.index(d) < modules.index(m):
                out.append(f"Makefile: MODULES lists '{d}' before '{m}', which uses it "
                           f"(link order: users first; or a cycle)")
    return out


def module_files(root, modules):
    """(module, path relative to root) of every .c/.h the table governs."""
    dirs = [(m, f"src/{m}") for m in modules] + list(EXTRA_DIRS.items())
    for m, d in dirs:
        full = os.path.join(root, d)
        if not os.path.isdir(full):
            continue
        for name in sorted(os.listdir(full)):
            if name.endswith((".c", ".h")) and os.path.isfile(os.path.join(full, name)):
                yield m, f"{d}/{name}"


def check_file(root, module, path, allowed, modules):
    """Forbidden edges of one file, [(line number, message)], and how many
    includes of a module it has."""
    out, edges = [], 0
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, target = m.group(1), m.group(2)
            first = target.split("/", 1)[0]
            edges += first in modules or first in EXTRA_DIRS
            if target.startswith("../") or "/../" in target:
                out.append((n, f"{module} -> {target}: an include that climbs out of the "
                               f"include path"))
            elif "/" not in target:
                continue  # a file of the same directory, or a system header
            elif kind == "<" and first not in modules and first not in EXTRA_DIRS:
                continue  # a system or library header (<sys/...>, <curl/...>)
            elif first == module:
                continue
            elif first not in modules and first not in EXTRA_DIRS:
                out.append((n, f"{module} -> {first} ({target}): '{first}' is no module "
                               f"of the table"))
            elif first not in allowed:
                what = f" ({EXTRA_DIRS[first]}, test-only)" if first in EXTRA_DIRS else ""
                out.append((n, f"{module} -> {first}{what} ({target}): not in DEPS_{module} "
                               f"({' '.join(allowed) or 'nothing'})"))
    return out, edges


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(here))
    ap.add_argument("--makefile", default=None)
    a = ap.parse_args()
    makefile = a.makefile or os.path.join(a.root, "Makefile")
    modules, deps = read_table(makefile)
    problems = table_problems(modules, deps, a.root)
    if problems:
        for p in problems:
            print(f"check-layers: {p}")
        return 1
    nfiles = nincludes = 0
    bad = []
    for module, path in module_files(a.root, modules):
        nfiles += 1
        found, edges = check_file(a.root, module, path, deps.get(module, []), modules)
        nincludes += edges
        for n, msg in found:
            bad.append(f"{path}:{n}: forbidden include {msg}")
    for line in bad:
        print(line)
    rows = len(modules) + sum(1 for m in EXTRA_DIRS if m in deps)
    if bad:
        print(f"check-layers: {len(bad)} forbidden include(s) in {nfiles} files "
              f"(the table: DEPS_<module> in {os.path.relpath(makefile, a.root)})")
        return 1
    print(f"check-layers: {nincludes} includes in {nfiles} files of {rows} modules follow "
          f"the dependency table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
