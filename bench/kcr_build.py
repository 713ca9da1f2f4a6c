"""Where a benchmark finds kcr. Imported before the tests' helpers: puts
tests/e2e on sys.path (api_util, lang_cases, ...) and settles the build
directory, KCR_BUILD (default ./build), exported for the servers the bench
starts. Not a benchmark itself (bench/run.py runs only bench_*.py)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

BUILD = os.environ.get("KCR_BUILD", os.path.join(ROOT, "build"))
os.environ["KCR_BUILD"] = BUILD
RUNTIME = os.path.join(BUILD, "runtime")
