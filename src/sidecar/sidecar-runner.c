#include "sidecar/sidecar-runner.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <string.h>

/* The Python runner (`python -c`). The header is read with os.read, byte by
 * byte up to the newline, then exactly n bytes: nothing of the user's stdin
 * is taken into a buffer, so sys.stdin sees all of it. The program runs in a
 * fresh __main__ module, from the -c module's top level (one frame more than
 * `python FILE`, the least exec allows). sys.path[0] is the script's
 * directory, unless safe-path mode (PYTHONSAFEPATH, the py image's choice)
 * leaves it out, as it does for FILE too. An uncaught exception goes to
 * sys.excepthook with the runner's frame cut off the exception itself (the
 * default hook prints __traceback__, not its argument); a SyntaxError from
 * compile() keeps no frame at all, as `python FILE` prints it. The runner's
 * names live in the -c module, which the program never sees. Its one optional
 * argument (RUNNER_PRELOAD) lists modules to import while it waits, leaving
 * the environment as it found it (sklearn sets KMP_* variables); a runner
 * that preloaded freezes what it imported for the collector and ends without
 * the interpreter's teardown of those modules (below). */
static const char py_runner[] =
    "import os, sys\n"
    "_pre = bool(sys.argv[1:])\n"
    "if _pre:\n"
    "    import importlib\n"
    "    _e = dict(os.environ)\n"
    "    for _n in sys.argv[1].split(','):\n"
    "        try:\n"
    "            importlib.import_module(_n)\n"
    "        except Exception:\n"
    "            pass\n"
    "    if dict(os.environ) != _e:\n"
    "        os.environ.clear()\n"
    "        os.environ.update(_e)\n"
    "    import gc\n"
    "    gc.collect()\n"
    "    gc.freeze()\n"
    "_h = b''\n"
    "while not _h.endswith(b'\\n'):\n"
    "    _c = os.read(0, 1)\n"
    "    if not _c:\n"
    "        os._exit(0)\n"
    "    _h += _c\n"
    "_n, _p = int(_h), b''\n"
    "while len(_p) < _n:\n"
    "    _c = os.read(0, _n - len(_p))\n"
    "    if not _c:\n"
    "        os._exit(0)\n"
    "    _p += _c\n"
    "_path, *_args = [os.fsdecode(x) for x in _p.split(b'\\0')]\n"
    "sys.argv = [_path] + _args\n"
    "if not getattr(sys.flags, 'safe_path', False):\n"
    "    sys.path[0] = os.path.dirname(_path)\n"
    "import types\n"
    "from importlib.machinery import SourceFileLoader\n"
    "_m = types.ModuleType('__main__')\n"
    "_m.__file__, _m.__cached__, _m.__annotations__ = _path, None, {}\n"
    "_m.__loader__ = SourceFileLoader('__main__', _path)\n"
    "_m.__builtins__ = __builtins__\n"
    "sys.modules['__main__'] = _m\n"
    "try:\n"
    "    with open(_path, 'rb') as _f:\n"
    "        _code = compile(_f.read(), _path, 'exec')\n"
    "    exec(_code, _m.__dict__)\n"
    "    _st = 0\n"
    "except SystemExit as _e:\n"
    "    if not _pre:\n"
    "        raise\n"
    "    _st = _e.code\n"
    "    if _st is None:\n"
    "        _st = 0\n"
    "    elif not isinstance(_st, int) or not -2**31 <= _st < 2**31:\n"
    "        if not isinstance(_st, int):\n"
    "            try:\n"
    "                sys.stderr.write('%s\\n' % (_st,))\n"
    "            except Exception:\n"
    "                pass\n"
    "        _st = 1\n"
    "    del _e\n"
    "except BaseException as _e:\n"
    "    _e = _e.with_traceback(_e.__traceback__.tb_next)\n"
    "    sys.excepthook(type(_e), _e, _e.__traceback__)\n"
    "    del _e\n"
    "    if not _pre:\n"
    "        sys.exit(1)\n"
    "    _st = 1\n"
    /* A preloaded interpreter's own teardown of numpy, pandas,
     * sklearn... takes 0.1-0.3 s after the program is done:
     * what a program can observe of an exit happens, in the
     * interpreter's order, then init is told the status
     * (NSEXEC_DONE_SIGNAL) and the process _exits. As the
     * fork-server's runner does (runtime/forkserver.py). */
    "if _pre:\n"
    "    import _io, atexit, gc, threading\n"
    "    threading._shutdown()\n"
    "    atexit._run_exitfuncs()\n"
    "    try:\n"
    "        sys.modules['__main__'].__dict__.clear()\n"
    "    except Exception:\n"
    "        pass\n"
    "    gc.collect()\n"
    "    for _o in gc.get_objects():\n"
    "        if isinstance(_o, _io._IOBase):\n"
    "            try:\n"
    "                if not _o.closed:\n"
    "                    _o.flush()\n"
    "            except Exception:\n"
    "                pass\n"
    "    for _o in (sys.stdout, sys.stderr):\n"
    "        try:\n"
    "            _o.flush()\n"
    "        except Exception:\n"
    "            _st = 120\n"
    "    try:\n"
    "        import ctypes, signal\n"
    "        for _o in (0, 1, 2):\n"
    "            try:\n"
    "                os.close(_o)\n"
    "            except OSError:\n"
    "                pass\n"
    "        _q = ctypes.CDLL(None).sigqueue\n"
    "        _q.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_long)\n"
    "        _q(1, signal.SIGUSR1, _st & 255)\n"
    "    finally:\n"
    "        os._exit(_st)\n";

struct runner {
    const char *lang;
    const char *argv[4];
};

/* argv[0] is the language's interpreter as its run step names it. */
static const struct runner runners[] = {
    {"py", {"python", "-c", py_runner, NULL}},
    /* runtime/ts-runner.js: "/dev/stdin" makes it a runner (same header);
     * it warms the compiler up while it waits. */
    {"ts", {"node", "/opt/kcr/ts-runner.js", "/dev/stdin", NULL}},
};

const char *const *sidecar_runner_argv(const struct kcr_lang *lang)
{
    if (lang_nsteps(lang) != 1)
        return NULL;
    for (size_t i = 0; i < sizeof(runners) / sizeof(runners[0]); i++)
        if (!strcmp(runners[i].lang, lang->code) && !strcmp(runners[i].argv[0], lang->steps[0][0]))
            return runners[i].argv;
    return NULL;
}

char *sidecar_runner_input(const char *path, const char *const *args, size_t nargs,
                           const char *stdin_data, size_t stdin_len, size_t *ret_len)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < nargs; i++)
        n += 1 + strlen(args[i]);
    char head[32];
    int hl = snprintf(head, sizeof(head), "%zu\n", n);
    size_t total = (size_t)hl + n + stdin_len;
    char *out = xmalloc(total), *w = out;
    memcpy(w, head, (size_t)hl), w += hl;
    memcpy(w, path, strlen(path)), w += strlen(path);
    for (size_t i = 0; i < nargs; i++) {
        *w++ = '\0';
        memcpy(w, args[i], strlen(args[i])), w += strlen(args[i]);
    }
    if (stdin_len)
        memcpy(w, stdin_data, stdin_len);
    *ret_len = total;
    return out;
}
