"""All 13 languages through the live API (`POST /exec` of a real `kcr serve`
with local pods): hello world, runtime errors, exit statuses, compile errors,
args and stdin, files written and downloaded byte-exact, Unicode, and the
libraries users expect (Python's scientific stack, R plots, npm libraries).

Snippets live in lang_cases.py; docs/languages.md explains the table."""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import lang_cases as C  # noqa: E402
from conftest import BUILD  # noqa: E402

import api_util  # noqa: E402

LANGS = list(C.CASES)
COMPILED = [lang for lang in LANGS if "compile_error" in C.CASES[lang]]

pytestmark = [pytest.mark.needs_root, pytest.mark.slow]


@pytest.fixture(scope="module")
def api():
    if not os.path.exists(os.path.join(BUILD, "kcr-sidecar")):
        pytest.skip(f"{BUILD}/kcr-sidecar is not built (local pods need it)")
    if not api_util.have_pods():
        pytest.skip(f"needs {api_util.SIDECAR} and {api_util.NSEXEC} (local pods)")
    # One warm pod per language keeps the suite quick; the default 30 s limit
    # (times each language's multiplier) leaves room for compilers on a busy machine.
    env = {f"POD_POOL_{lang.upper()}": "1" for lang in LANGS}
    env["MAX_EXECUTION_TIME"] = "30"
    s = api_util.start_server(env)
    yield s
    s.cleanup()


def run(api, lang, code, heavy=False, **fields):
    """heavy: imports of big libraries, retried when the machine's load made
    them reach the time limit (api_util.exec_heavy)."""
    r = api_util.exec_heavy(api, code, lang=lang, **fields) if heavy else api.exec(code, lang=lang, **fields)
    assert r.status_code == 200, f"{lang}: HTTP {r.status_code}: {r.text[:2000]}"
    body = r.json()
    for key in ("session_id", "files", "stdout", "stderr"):
        assert key in body, body
    return body


def describe(body):
    return f"stdout={body['stdout'][:1500]!r}\nstderr={body['stderr'][:3000]!r}"


def download(api, body, name):
    match = [f for f in body["files"] if f["name"] == name]
    assert match, f"{name} not in files: {body['files']}"
    r = api.get(f"/download/{body['session_id']}/{match[0]['id']}")
    assert r.status_code == 200, r.text[:500]
    return r.content


# --- every language ---------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_hello_world(api, lang):
    body = run(api, lang, C.CASES[lang]["hello"])
    assert body["stdout"] == C.HELLO_OUT, describe(body)
    assert body["stderr"] == "", describe(body)
    # Compilers leave nothing in /mnt/data (Code.class, *.o, *.mod go to /tmp).
    assert body["files"] == [], body["files"]


@pytest.mark.parametrize("lang", LANGS)
def test_runtime_error(api, lang):
    case = C.CASES[lang]
    body = run(api, lang, case["error"])
    assert case["error_msg"] in body["stderr"], describe(body)
    assert body["stdout"] == "", describe(body)


@pytest.mark.parametrize("lang", LANGS)
def test_silent_nonzero_exit_is_reported(api, lang):
    body = run(api, lang, C.CASES[lang]["exit3"])
    assert body["stdout"] == "", describe(body)
    assert "exit code 3" in body["stderr"], describe(body)


@pytest.mark.parametrize("lang", COMPILED)
def test_compile_error(api, lang):
    case = C.CASES[lang]
    body = run(api, lang, case["compile_error"])
    assert case["compile_msg"] in body["stderr"], describe(body)
    assert body["stdout"] == "", describe(body)
    assert body["files"] == [], body["files"]


@pytest.mark.parametrize("lang", LANGS)
def test_args_and_stdin(api, lang):
    body = run(api, lang, C.CASES[lang]["echo"], args=C.ECHO_ARGS, stdin=C.ECHO_STDIN)
    assert body["stdout"] == C.ECHO_OUT, describe(body)


@pytest.mark.parametrize("lang", LANGS)
def test_written_file_downloads_byte_exact(api, lang):
    body = run(api, lang, C.CASES[lang]["write"])
    assert [f["name"] for f in body["files"]] == [C.FILE_NAME], describe(body) + str(body["files"])
    assert download(api, body, C.FILE_NAME) == C.FILE_CONTENT.encode("utf-8")


@pytest.mark.parametrize("lang", LANGS)
def test_unicode_source_and_output(api, lang):
    body = run(api, lang, C.CASES[lang]["unicode"])
    assert body["stdout"] == C.UNICODE_OUT, describe(body)


def test_language_code_is_case_insensitive(api):
    body = run(api, "Py", C.CASES["py"]["hello"])
    assert body["stdout"] == C.HELLO_OUT, describe(body)
    body = run(api, "BASH", C.CASES["bash"]["hello"])
    assert body["stdout"] == C.HELLO_OUT, describe(body)


# --- the libraries users expect -------------------------------------------------


def test_python_libraries_import(api):
    body = run(api, "py", C.PY_LIBS, heavy=True)
    assert body["stdout"].splitlines() == C.PY_LIBS_OUT, describe(body)


def test_python_numpy_starts_no_blas_threads(api):
    """OpenBLAS starts a thread per CPU of the node at import unless told
    otherwise: in a pod that is one process per node CPU against MAX_PIDS.
    The pod's environment keeps it at one thread (the reference BLAS has none)."""
    code = ("import os, numpy\n"
            "numpy.ones((64, 64)) @ numpy.ones((64, 64))\n"
            "print(len(os.listdir('/proc/self/task')), os.environ.get('OPENBLAS_NUM_THREADS'))\n")
    body = run(api, "py", code, heavy=True)
    assert body["stdout"] == "1 1\n", describe(body)


def test_python_pandas_csv(api):
    body = run(api, "py", C.PY_PANDAS_CSV, heavy=True)
    assert body["stdout"] == "6\n", describe(body)
    assert download(api, body, "data.csv").decode("utf-8") == C.PY_PANDAS_CSV_CONTENT


def test_python_matplotlib_png(api):
    body = run(api, "py", C.PY_MATPLOTLIB_PNG, heavy=True)
    assert body["stdout"] == "saved\n", describe(body)
    png = download(api, body, "plot.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000, len(png)


def test_python_imports_uploaded_module_without_shadowing_stdlib(api):
    """code.py must not hide the stdlib's `code` (pdb imports it); a module
    written next to it is still importable."""
    src = (
        "import importlib, pdb, code\n"
        "print(code.__file__.startswith('/usr/lib/python3'))\n"
        "open('helper_mod.py', 'w').write('X = 42\\n')\n"
        "importlib.invalidate_caches()\n"
        "import helper_mod\n"
        "print(helper_mod.X)\n"
    )
    body = run(api, "py", src)
    assert body["stdout"] == "True\n42\n", describe(body)


def test_r_plot_png(api):
    body = run(api, "r", C.R_PLOT_PNG)
    assert body["stdout"] == "saved\n", describe(body)
    png = download(api, body, "plot.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n"), png[:16]


def test_r_ggplot2_png(api):
    body = run(api, "r", C.R_GGPLOT_PNG)
    assert body["stdout"] == "saved\n", describe(body)
    png = download(api, body, "gg.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n"), png[:16]


def test_js_npm_libraries(api):
    body = run(api, "js", C.JS_LIBS)
    assert body["stdout"] == C.JS_LIBS_OUT, describe(body)
    xlsx = download(api, body, "book.xlsx")
    assert xlsx.startswith(b"PK\x03\x04"), xlsx[:8]  # a zip, as .xlsx files are


def test_js_libraries_are_read_only(api):
    """The preinstalled npm libraries are shared by every pod: read-only."""
    body = run(api, "js", (
        "const fs = require('fs');\n"
        "const dir = require.resolve('lodash').replace(/[/][^/]*$/, '');\n"
        "try { fs.writeFileSync(dir + '/planted.js', 'x'); console.log('written'); }\n"
        "catch (e) { console.log(e.code); }\n"))
    assert body["stdout"] == "EROFS\n", describe(body)


def test_go_builds_offline(api):
    """GOPROXY=off: a module outside the standard library cannot be fetched;
    the compiler says so instead of hanging on the network."""
    body = run(api, "go", (
        "package main\n\nimport \"github.com/google/uuid\"\n\n"
        "func main() { println(uuid.NewString()) }\n"))
    assert "github.com/google/uuid" in body["stderr"], describe(body)
    assert re.search(r"GOPROXY=off|cannot find module|no required module|disabled", body["stderr"]), \
        describe(body)
    assert body["stdout"] == "", describe(body)


def test_python_requests_has_no_network(api):
    body = run(api, "py", (
        "import requests\n"
        "try:\n"
        "    requests.get('http://93.184.216.34/', timeout=3)\n"
        "    print('reached')\n"
        "except requests.exceptions.ConnectionError:\n"
        "    print('no network')\n"))
    assert body["stdout"] == "no network\n", describe(body)


def test_ts_npm_libraries_typed(api):
    body = run(api, "ts", C.TS_LIBS)
    assert body["stdout"] == C.TS_LIBS_OUT, describe(body)


def test_java_public_class_names_the_file(api):
    body = run(api, "java", C.JAVA_OTHER_CLASS)
    assert body["stdout"] == "Hello from Greeter\n", describe(body)
    assert body["files"] == [], body["files"]


# --- per-language multipliers: configurable and enforced ------------------------


def _own_server(env):
    if not os.path.exists(os.path.join(BUILD, "kcr-sidecar")):
        pytest.skip("needs build/kcr-sidecar")
    return api_util.start_server(env)


def test_time_multiplier_override_is_enforced():
    s = _own_server({"MAX_EXECUTION_TIME": "2", "LANG_TIME_MULT_BASH": "3",
                     "POD_POOL_PY": "0"})
    try:
        # bash: 2 s x 3 = 6 s, so a 3 s sleep completes.
        body = run(s, "bash", "sleep 3\necho done\n")
        assert body["stdout"] == "done\n", describe(body)
        # py keeps its table multiplier (1.0): the same sleep hits the 2 s limit.
        body = run(s, "py", "import time\ntime.sleep(3)\nprint('done')\n")
        assert body["stdout"] == "", describe(body)
        assert "Execution timed out after 2 seconds" in body["stderr"], describe(body)
    finally:
        s.cleanup()


MEM_HOG = (
    "b = bytearray(160 * 1024 * 1024)\n"
    "for i in range(0, len(b), 4096):\n"
    "    b[i] = 1\n"
    "print('allocated')\n"
)


@pytest.mark.parametrize("mult,fits", [(None, False), ("4", True)])
def test_memory_multiplier_override_is_enforced(mult, fits):
    env = {"MAX_MEMORY_MB": "96", "POD_POOL_PY": "0"}
    if mult:
        env["LANG_MEM_MULT_PY"] = mult  # 96 MB x 4 = 384 MB
    s = _own_server(env)
    try:
        body = run(s, "py", MEM_HOG)
        if fits:
            assert body["stdout"] == "allocated\n", describe(body)
        else:
            assert body["stdout"] == "", describe(body)
            # The cgroup limit killed it (reported as out of memory, or at
            # least as SIGKILL) or Python's allocation failed (MemoryError).
            err = body["stderr"].lower()
            assert "memory" in err or "signal 9" in err, describe(body)
    finally:
        s.cleanup()


def test_bad_multiplier_stops_the_start():
    if api_util is None or not os.path.exists(api_util.KCR):
        pytest.skip("needs build/kcr and tests/e2e/api_util.py")
    code, out, err = api_util.run_server_once({"LANG_MEM_MULT_JAVA": "0"})
    assert code != 0
    assert "LANG_MEM_MULT_JAVA" in err, err


def test_ts_program_is_the_main_module(api):
    """The `if (require.main === module) main()` idiom runs, argv looks like
    `node code.ts a` (the runner, and its snapshot, stay out of the way)."""
    src = (
        "function main(): void {\n"
        "    console.log(process.argv.slice(1).join(' '));\n"
        "}\n"
        "if (require.main === module) main();\n"
    )
    body = run(api, "ts", src, args=["a"])
    assert body["stdout"] == "/mnt/data/code.ts a\n", describe(body)
