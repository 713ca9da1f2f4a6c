# kcr: loaded by Python at start-up in every py pod (PYTHONPATH=/opt/kcr/python).
#
# 1. The code file is /mnt/data/code.py. With the script directory first on
#    sys.path (Python's default), it shadows the standard library's `code`
#    module, which pdb imports -- and sympy imports pdb, so `import sympy`
#    broke. The pod sets PYTHONSAFEPATH=1 (no script directory in front) and
#    this hook puts the working directory at the END of sys.path instead: the
#    user's uploaded modules stay importable, and can no longer hide the
#    standard library or installed packages.
# 2. Every pod starts with an empty MPLCONFIGDIR (/tmp/matplotlib), so
#    matplotlib would rebuild its font cache (0.2-1 s) on each run. The
#    runtime dir ships one built at set-up time; copy it in (34 KB, only when
#    missing). Best effort: nothing here may break the user's program.
import os
import sys

if "/mnt/data" not in sys.path:
    sys.path.append("/mnt/data")


def _seed_matplotlib_cache():
    src_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "matplotlib")
    dst_dir = os.environ.get("MPLCONFIGDIR")
    if not dst_dir or not os.path.isdir(src_dir):
        return
    for name in os.listdir(src_dir):
        if not name.startswith("fontlist-"):
            continue
        dst = os.path.join(dst_dir, name)
        if os.path.exists(dst):
            continue
        os.makedirs(dst_dir, mode=0o700, exist_ok=True)
        with open(os.path.join(src_dir, name), "rb") as f:
            data = f.read()
        with open(dst, "wb") as f:
            f.write(data)


try:
    _seed_matplotlib_cache()
except Exception:
    pass
