# kcr: loaded by Python at start-up in every py pod (PYTHONPATH=/opt/kcr/python).
#
# The code file is /mnt/data/code.py. With the script directory first on
# sys.path (Python's default), it shadows the standard library's `code` module,
# which pdb imports -- and sympy imports pdb, so `import sympy` broke. The pod
# sets PYTHONSAFEPATH=1 (no script directory in front) and this hook puts the
# working directory at the END of sys.path instead: the user's uploaded modules
# stay importable, and can no longer hide the standard library or packages.
import sys

if "/mnt/data" not in sys.path:
    sys.path.append("/mnt/data")
