#!/usr/bin/env python3
"""Runs every bench/bench_*.py in turn (make bench).

Each benchmark measures its baseline (e.g. bare /usr/bin/python3 -c) in the same
run and prints ratios; nothing here asserts on time."""
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    env = dict(os.environ)
    env.setdefault("KCR_BUILD", os.path.join(os.path.dirname(HERE), "build"))
    only = sys.argv[1:]
    failed = 0
    for path in sorted(glob.glob(os.path.join(HERE, "bench_*.py"))):
        name = os.path.basename(path)[len("bench_"):-3]
        if only and name not in only:
            continue
        print(f"== bench {name}", flush=True)
        rc = subprocess.call([sys.executable, path], env=env)
        if rc:
            print(f"bench {name} failed with exit {rc}", flush=True)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
