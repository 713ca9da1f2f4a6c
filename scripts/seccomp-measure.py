#!/usr/bin/python3
"""Measure the system calls the 13 languages and their toolchains make.

Runs every program of the language suite (tests/e2e/lang_cases.py: hello,
error, compile_error, echo, write, unicode, exit3, and the library checks of
tests/e2e/test_languages.py) through the steps src/common/lang.c gives its
language (compilers, then the compiled program, or the interpreter), and the
pre-started runners (python -c <runner>, node ts-runner.js /dev/stdin), on
the host under `strace -f -qq`, outside the sandbox, with the language's
environment (/opt/kcr is the runtime dir, /tmp and /mnt/data are private
temporary directories). Prints the union of the system-call names, one per
line; with --check, also what the policy in src/sandbox/seccomp.c does not
allow (and what it allows that was not measured). This is how the allowlist
of seccomp.c was made: see docs/sidecar.md, "seccomp".

    /usr/bin/python3 scripts/seccomp-measure.py [--check] [--by-lang]
        [--langs py,js,...] [--runtime DIR] [--keep DIR]

Needs strace (apt-get install strace) and the toolchains the language suite
uses; a language whose first program is missing is skipped with a note on
stderr. Takes a few minutes (rustc, javac, R and tsc dominate).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import lang_cases as C  # noqa: E402

CASE_NAMES = ("hello", "error", "compile_error", "echo", "write", "unicode", "exit3")

# test_languages.py's library checks: language -> [(name, file name, source)].
EXTRAS = {
    "py": [
        ("libs", None, C.PY_LIBS),
        ("pandas", None, C.PY_PANDAS_CSV),
        ("matplotlib", None, C.PY_MATPLOTLIB_PNG),
        ("no-network", None,
         "import requests\ntry:\n    requests.get('http://127.0.0.1:9/', timeout=3)\n"
         "except requests.exceptions.ConnectionError:\n    print('no network')\n"),
        ("threads", None,
         "import concurrent.futures as f, subprocess, multiprocessing as m\n"
         "print(sum(f.ThreadPoolExecutor(4).map(abs, range(9))))\n"
         "print(subprocess.run(['true']).returncode)\n"
         "with m.Pool(2) as p: print(p.map(abs, [1, -2]))\n"),
    ],
    "r": [("plot", None, C.R_PLOT_PNG), ("ggplot", None, C.R_GGPLOT_PNG)],
    "js": [("libs", None, C.JS_LIBS)],
    "ts": [("libs", None, C.TS_LIBS)],
    "java": [("other-class", "Greeter.java", C.JAVA_OTHER_CLASS)],
    "go": [("offline", None,
            'package main\n\nimport "github.com/google/uuid"\n\n'
            "func main() { println(uuid.NewString()) }\n")],
}


def c_strings(text):
    return [bytes(s, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
            for s in re.findall(r'"((?:[^"\\]|\\.)*)"', text)]


def parse_langs(path):
    """{code: (file, [steps], [env])} from src/common/lang.c."""
    src = open(path, encoding="utf-8").read()
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    macros = {}
    for name, body in re.findall(r"#define (\w+_ENV)\s+((?:.*\\\n)*.*)", src):
        macros[name] = c_strings(body)
    langs = {}
    for block in re.split(r"\n    \{\n", src)[1:]:
        code = re.search(r'\.code = "([^"]+)"', block)
        steps = re.search(r"\.steps = \{(.*?)\}\},\n", block, re.S)
        env = re.search(r"\.env = \{(.*?)\},\n", block, re.S)
        fname = re.search(r'\.file = "([^"]+)"', block)
        if not (code and steps and env and fname):
            continue
        step_list, cur = [], []
        for tok in re.findall(r'"(?:[^"\\]|\\.)*"|\bNULL\b', steps.group(1)):
            if tok == "NULL":
                step_list.append(cur)
                cur = []
            else:
                cur += c_strings(tok)
        env_list = []
        for tok in re.findall(r'"(?:[^"\\]|\\.)*"|\b[A-Z_]+_ENV\b', env.group(1)):
            env_list += macros[tok] if tok in macros else c_strings(tok)
        langs[code.group(1)] = (fname.group(1), step_list, env_list)
    return langs


def py_runner_source(path):
    """The `python -c` runner of src/sidecar/sidecar-runner.c."""
    src = open(path, encoding="utf-8").read()
    m = re.search(r"py_runner\[\] =\s*((?:\s*\"(?:[^\"\\]|\\.)*\"\s*)+);", src)
    return "".join(c_strings(m.group(1))) if m else None


SYSCALL = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z_][a-z0-9_]*)(?:\(| resumed>)")


def parse_strace(path, into):
    with open(path, errors="replace") as f:
        for line in f:
            m = SYSCALL.match(line)
            if m:
                into.add(m.group(1))


class Runner:
    def __init__(self, args):
        self.args = args
        self.runtime = args.runtime
        self.tmp_root = args.keep or tempfile.mkdtemp(prefix="kcr-seccomp-measure.")
        self.n = 0
        self.by_lang = {}
        self.bin = os.path.join(self.tmp_root, "bin")
        os.makedirs(self.bin, exist_ok=True)

    def paths(self, s, tmp, data):
        s = re.sub(r"(?<![\w/])/tmp(?=/|$|:)", tmp, s)
        s = s.replace("/mnt/data", data)
        return s.replace("/opt/kcr", self.runtime)

    def run(self, lang, name, fname, code, steps, env, stdin=b"", args=(), runner_input=None):
        self.n += 1
        case_dir = os.path.join(self.tmp_root, "%s-%s" % (lang, name))
        tmp, data = os.path.join(case_dir, "tmp"), os.path.join(case_dir, "data")
        os.makedirs(tmp, exist_ok=True)
        os.makedirs(data, exist_ok=True)
        path = os.path.join(data, fname)
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        environ = {}
        for kv in env:
            k, _, v = kv.partition("=")
            environ[k] = self.paths(v, tmp, data)
        environ["PATH"] = self.bin + ":" + environ.get("PATH", "/usr/bin:/bin")
        calls = self.by_lang.setdefault(lang, set())
        for i, step in enumerate(steps):
            argv = []
            for a in step:
                if a == "{file}":
                    argv.append(path)
                elif a == "{args}":
                    argv += list(args)
                elif a == "{class}":
                    argv.append(os.path.splitext(fname)[0])
                else:
                    argv.append(self.paths(a, tmp, data))
            log = os.path.join(case_dir, "strace.%d" % i)
            inp = stdin if runner_input is None else runner_input(path) + stdin
            try:
                p = subprocess.run(["strace", "-f", "-qq", "-o", log, "--"] + argv, cwd=data,
                                   env=environ, input=inp, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=300)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            if os.path.exists(log):
                parse_strace(log, calls)
            if self.args.verbose:
                print("%s %s step %d: %s" % (lang, name, i, rc), file=sys.stderr)
            if rc != 0:
                break
        if not self.args.keep:
            shutil.rmtree(case_dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--langs", default="", help="comma-separated codes (default: all)")
    ap.add_argument("--runtime", default=os.environ.get("KCR_RUNTIME_DIR",
                                                        os.path.join(ROOT, "build", "runtime")),
                    help="what /opt/kcr is in a pod (default build/runtime)")
    ap.add_argument("--keep", help="work in this directory and keep the traces")
    ap.add_argument("--check", action="store_true",
                    help="compare with the allowlist in src/sandbox/seccomp.c")
    ap.add_argument("--by-lang", action="store_true", help="also list each language's calls")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if not shutil.which("strace"):
        sys.exit("seccomp-measure: strace not found (apt-get install -y strace)")
    langs = parse_langs(os.path.join(ROOT, "src", "common", "lang.c"))
    want = [c for c in args.langs.split(",") if c] or list(langs)
    r = Runner(args)
    # /opt/kcr/bin has the version-agnostic names (python, node).
    for name, target in (("python", "/usr/bin/python3"),):
        if not os.path.exists(os.path.join(r.runtime, "bin", name)) and shutil.which(target):
            os.symlink(shutil.which(target), os.path.join(r.bin, name))
    for code in want:
        fname, steps, env = langs[code]
        first = r.paths(steps[0][0], "/tmp", "/mnt/data")
        path = ":".join([r.bin] + [r.paths(d, "/tmp", "/mnt/data") for kv in env
                                   if kv.startswith("PATH=") for d in kv[5:].split(":")])
        if not os.path.isabs(first) and not shutil.which(first, path=path):
            print("seccomp-measure: %s: %s not found, skipped" % (code, first), file=sys.stderr)
            continue
        cases = C.CASES[code]
        for name in CASE_NAMES:
            if name not in cases:
                continue
            stdin = C.ECHO_STDIN.encode() if name == "echo" else b""
            args_ = C.ECHO_ARGS if name == "echo" else ()
            r.run(code, name, fname, cases[name], steps, env, stdin, args_)
        for name, other, src in EXTRAS.get(code, []):
            r.run(code, name, other or fname, src, steps, env)
    # The pre-started runners (src/sidecar/sidecar-runner.c): header, path, stdin.
    header = lambda path: b"%d\n%s" % (len(path.encode()), path.encode())  # noqa: E731
    if "py" in want:
        src = py_runner_source(os.path.join(ROOT, "src", "sidecar", "sidecar-runner.c"))
        if src:
            fname, _, env = langs["py"]
            r.run("py", "runner", fname, C.CASES["py"]["echo"], [["python", "-c", src]], env,
                  C.ECHO_STDIN.encode(), runner_input=header)
    if "ts" in want:
        fname, _, env = langs["ts"]
        r.run("ts", "runner", fname, C.CASES["ts"]["echo"],
              [["node", "/opt/kcr/ts-runner.js", "/dev/stdin"]], env, C.ECHO_STDIN.encode(),
              runner_input=header)
    union = set().union(*r.by_lang.values()) if r.by_lang else set()
    if args.by_lang:
        for code in sorted(r.by_lang):
            print("# %s (%d): %s" % (code, len(r.by_lang[code]), " ".join(sorted(r.by_lang[code]))))
    print("# %d programs, %d languages, %d distinct system calls" % (r.n, len(r.by_lang),
                                                                   len(union)))
    for name in sorted(union):
        print(name)
    if args.check:
        text = open(os.path.join(ROOT, "src", "sandbox", "seccomp.c"), encoding="utf-8").read()
        allowed = set(re.findall(r'"(\w+)"', re.search(r"allowed\[\] = \{(.*?)\n\};", text,
                                                       re.S).group(1)))
        denied = set(re.findall(r'"(\w+)"', re.search(r"denied\[\] = \{(.*?)\n\};", text,
                                                      re.S).group(1)))
        # clone/socket/personality are allowed by argument-checked rules.
        allowed |= {"clone", "socket", "socketpair", "personality"}
        miss = sorted(union - allowed)
        print("# measured but not allowed (%d): %s" % (len(miss), " ".join(miss)))
        print("#   of which explicitly denied (EPERM): %s" % " ".join(sorted(set(miss) & denied)))
        extra = sorted(allowed - union)
        print("# allowed but not measured here (%d): %s" % (len(extra), " ".join(extra)))
    if not args.keep:
        shutil.rmtree(r.tmp_root, ignore_errors=True)


if __name__ == "__main__":
    main()
