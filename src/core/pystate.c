#include "core/pystate.h"
#include "common/buf.h"
#include "common/limits.h"

#include <string.h>

/* PYSTATE_MAX_BYTES as Python source. */
#define PYSTATE_MAX_BYTES_STR "52428800"
_Static_assert(PYSTATE_MAX_BYTES == 52428800u, "PYSTATE_MAX_BYTES_STR is PYSTATE_MAX_BYTES");

/* The wrapper. Its own names live inside a function so that the user's
 * globals are exactly what the program defines. The user's code is compiled
 * with the file name the sidecar gives it and written there first, so
 * tracebacks show the user's lines; the wrapper's own frame is cut from them.
 * State is saved only after a successful run (exit status 0). Nothing is
 * imported that the run does not need: linecache alone costs ~4 ms (tokenize,
 * re, enum), pickle ~1 ms, so pickle comes only with state to load or save.
 * Likewise nothing is compiled that it does not need: loading and saving
 * state are source in a string (__kcr_lib), compiled only when there is state
 * to load or a global to save; compiling all of it every time cost ~0.6 ms,
 * a twentieth of `print(1)`. */
static const char wrapper_head[] =
    "def __kcr_run(__kcr_b64):\n"
    "    import sys, binascii\n"
    "    fn = '" KCR_WORKDIR "/code.py'\n"
    "    st = '" KCR_WORKDIR "/" PYSTATE_FILE "'\n"
    "    src = binascii.a2b_base64(__kcr_b64)\n"
    "    try:\n"
    "        with open(fn, 'wb') as f:\n"
    "            f.write(src)\n"
    "    except OSError:\n"
    "        pass\n"
    "    ns = {'__name__': '__main__', '__builtins__': __builtins__, '__file__': fn,\n"
    "          '__doc__': None, '__package__': None, '__spec__': None}\n"
    "    try:\n"
    "        with open(st, 'rb') as f:\n"
    "            blob = f.read()\n"
    "    except OSError:\n"
    "        blob = b''\n"
    "    had = len(blob) > 1\n"
    "    if had:\n"
    "        __kcr_lib()['load'](blob, ns)\n"
    "    ok = False\n"
    "    try:\n"
    "        exec(compile(src, fn, 'exec'), ns)\n"
    "        ok = True\n"
    "    except SystemExit as e:\n"
    "        ok = e.code is None or e.code == 0\n"
    "        raise\n"
    "    except BaseException as e:\n"
    "        import traceback\n"
    "        tb = e.__traceback__.tb_next if e.__traceback__ else None\n"
    "        traceback.print_exception(type(e), e, tb)\n"
    "        sys.stderr.flush()\n"
    "        sys.exit(1)\n"
    "    finally:\n"
    "        if ok and (had or any(not k.startswith('_') for k in ns)):\n"
    "            __kcr_lib()['save'](ns, st, had)\n"
    "\n"
    "def __kcr_lib():\n"
    "    lib = {}\n"
    "    exec(__kcr_lib_src, lib)\n"
    "    return lib\n"
    "\n"
    /* A raw string: its backslashes reach the compiler as written. */
    "__kcr_lib_src = r'''\n"
    "def load(blob, ns):\n"
    "    import sys\n"
    "    try:\n"
    "        payload = memoryview(blob)[1:]\n"
    "        if blob[0] == 2:\n"
    "            import lz4.frame\n"
    "            payload = lz4.frame.decompress(payload)\n"
    "        import pickle\n"
    "        saved = pickle.loads(payload)\n"
    "        mods = saved.pop('__kcr_modules__', {})\n"
    "        ns.update(saved)\n"
    "        import importlib\n"
    "        for k, m in mods.items():\n"
    "            try:\n"
    "                ns[k] = importlib.import_module(m)\n"
    "            except Exception:\n"
    "                pass\n"
    "    except Exception as e:\n"
    "        sys.stderr.write('note: the session state could not be restored: %r\\n' % (e,))\n"
    "\n"
    "def save(ns, st, had):\n"
    "    import pickle\n"
    "    keep, mods, cp = {}, {}, None\n"
    "    for k in [k for k in ns if not k.startswith('_')]:\n"
    "        v = ns[k]\n"
    "        if isinstance(v, type(pickle)):\n"
    "            mods[k] = v.__name__\n"
    "        else:\n"
    "            keep[k] = v\n"
    "    if not keep and not mods and not had:\n"
    "        return\n"
    /* Usually every value pickles: one pass over all of them. Testing each
     * value first and then pickling them together paid twice (a matplotlib
     * figure: ~6 ms a time, its axes as much again). */
    "    if dump(st, pickle, dict(keep, __kcr_modules__=mods) if mods else keep):\n"
    "        return\n"
    "    ok = {}\n"
    "    for k, v in keep.items():\n"
    "        try:\n"
    "            pickle.dumps(v)\n"
    "            ok[k] = v\n"
    "            continue\n"
    "        except Exception:\n"
    "            pass\n"
    "        try:\n"
    "            if cp is None:\n"
    "                import cloudpickle as cp\n"
    "            cp.dumps(v)\n"
    "            ok[k] = v\n"
    "        except Exception:\n"
    "            pass\n"
    "    keep = ok\n"
    "    if not keep and not mods and not had:\n"
    "        return\n"
    "    if mods:\n"
    "        keep['__kcr_modules__'] = mods\n"
    "    dump(st, cp or pickle, keep)\n"
    "\n"
    /* Streamed into the file with protocol 5: an array's bytes go from its
     * own memory to the file, where dumps() copied them twice more (~2 ms
     * for two 300x300 arrays). A dump that fails or outgrows the cap leaves
     * an empty file, which the orchestrator does not keep (the session's
     * previous state stays). */
    "def dump(st, mod, obj):\n"
    "    class Capped:\n"
    "        def __init__(self, f):\n"
    "            self.f, self.n = f, 1\n"
    "        def write(self, b):\n"
    "            self.n += memoryview(b).nbytes\n"
    "            if self.n > " PYSTATE_MAX_BYTES_STR ":\n"
    "                raise OverflowError('state too large')\n"
    "            return self.f.write(b)\n"
    "    try:\n"
    "        with open(st, 'wb') as f:\n"
    "            f.write(b'\\x01')\n"
    "            mod.dump(obj, Capped(f), protocol=5)\n"
    "        return True\n"
    "    except Exception:\n"
    "        pass\n"
    "    try:\n"
    "        open(st, 'wb').close()\n"
    "    except OSError:\n"
    "        pass\n"
    "    return False\n"
    "'''\n"
    "\n"
    "__kcr_run('";
static const char wrapper_tail[] = "')\n";

static void base64(struct kcr_buf *b, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char out[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                       i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
        buf_append(b, out, 4);
    }
}

char *pystate_wrap(const char *code, size_t len)
{
    struct kcr_buf b;
    buf_init(&b, 0);
    buf_append(&b, wrapper_head, strlen(wrapper_head));
    base64(&b, (const unsigned char *)code, len);
    buf_append(&b, wrapper_tail, strlen(wrapper_tail));
    return buf_take(&b, NULL);
}
