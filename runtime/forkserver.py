# kcr fork-server template (docs/local-pods.md, "Fork-server").
#
# One per preloaded language, started by the pod manager as root in a mount
# namespace built like every main container's (so every path a module
# remembers is the path it has in a pod), with the language's environment and
# a bounding set of exactly what a child needs to enter a pod. It imports the
# preload set once, freezes the heap for the garbage collector and then only
# answers kcr-nsexec inits on its socket. It never runs user code and never
# reads anything from a request but the program's stdio, the `python -c`
# command line, the environment (which must equal its own) and limits; which
# pod to enter comes from the kernel (the sender's credentials).
#
# Per request:  template --vfork--> entrant (in C, sharing the template's
#   memory): joins the sender's cgroups and namespaces, forks, exits
#   --fork--> program: pid N of the sender's pid namespace, drops exactly as
#   kcr-nsexec does (forkserver_drop, in C), then runs the code the way
#   `python -c CODE ARGS` does, with fresh RNG state (forkserver_spawn).
import ctypes
import errno
import gc
import importlib
import os
import socket
import struct
import sys
import types

_ENV0 = dict(os.environ)  # the language's environment, before preloading
_lib = None  # kcr-forkserver.so (ctypes), set by main()
_spawn_c = None  # its forkserver_spawn, called with the GIL held
_REQ = struct.Struct("=6I4Q")  # struct forkserver_req (forkserver-proto.h)
_MAGIC = 0x6B636673
_MSG_MAX = 65536
# Preloaded libraries must not start thread pools: only the forking thread
# survives a fork. Set for the preload only (they read it when loaded).
_SINGLE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class _Job:
    __slots__ = ("code", "args", "env")

    def __init__(self, code, args, env):
        self.code, self.args, self.env = code, args, env


def _log(msg):
    sys.stderr.write("kcr-forkserver: %s\n" % msg)


def _options(argv):
    opts = {"cgroup": [], "preload": ""}
    it = iter(argv)
    for key in it:
        val = next(it)
        if key == "--cgroup":
            fd, kind = val.split(":")
            opts["cgroup"].append((int(fd), kind == "v1"))
        else:
            opts[key.lstrip("-")] = val
    return opts


def _preload(names):
    for k in _SINGLE_THREAD:
        os.environ[k] = "1"
    for name in filter(None, (n.strip() for n in names.split(","))):
        try:
            importlib.import_module(name)
        except Exception as e:  # a missing library is not the template's end
            _log("preload %s: %s" % (name, e))
    for k in _SINGLE_THREAD:
        del os.environ[k]
    _warm_matplotlib()


def _warm_matplotlib():
    """Draws one small figure with pyplot, to nowhere, and closes it. A
    program's first figure would otherwise load the font and build the text
    and PNG machinery's caches in its own copy: ~15-20 ms of a simple plot
    (fork microbenchmark here). Nothing visible remains: no figure is open
    (the next is number 1 again), rcParams are untouched, and the caches hold
    the same values a program would compute; the equality of a plot's PNG
    with a fresh interpreter's is tested."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    try:
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1], label="x")
        ax.set_title("t")
        ax.legend()
        with open(os.devnull, "wb") as f:
            fig.savefig(f, format="png")
        plt.close(fig)
    except Exception as e:  # a warm-up that fails only costs its time
        _log("matplotlib warm-up: %s" % (e,))


def _strings(blob, count):
    out, pos = [], 0
    for _ in range(count):
        end = blob.index(b"\0", pos)  # ValueError when missing
        out.append(os.fsdecode(blob[pos:end]))
        pos = end + 1
    return out, blob[pos:]


def _parse(msg, fds):
    if len(msg) < _REQ.size or len(fds) != 4:
        raise ValueError("short request")
    magic, uid, gid, nargv, nenv, _, cpu, fsize, nofile, nproc = _REQ.unpack_from(msg)
    if magic != _MAGIC or nargv < 3 or nargv > 4096 or nenv > 4096:
        raise ValueError("bad header")
    (wd,), rest = _strings(msg[_REQ.size :], 1)
    argv, rest = _strings(rest, nargv)
    env, rest = _strings(rest, nenv)
    if rest or argv[1] != "-c":
        raise ValueError("not `python -c CODE`")
    envd = dict(e.split("=", 1) for e in env if "=" in e)
    # Start-up state (sys.flags, sys.path, encodings) came from our own
    # environment: only an identical one gives the program what a fresh
    # interpreter would have.
    if envd != _ENV0:
        raise PermissionError(errno.EPERM, "environment differs from the template's")
    return (wd, uid, gid, cpu, fsize, nofile, nproc), _Job(argv[2], argv[3:], envd)


def _program(lib, fds, limits, job, sockets):
    for s in sockets:
        s.detach()  # the fd numbers are about to be closed or reused
    wd, uid, gid, cpu, fsize, nofile, nproc = limits
    if lib.forkserver_drop(fds[3], fds[0], fds[1], fds[2], os.fsencode(wd), uid, gid,
                           cpu, fsize, nofile, nproc) != 0:
        os._exit(127)
    # Exactly the main container's environment: preloaded modules may have
    # set variables of their own (sklearn sets KMP_*).
    os.environ.clear()
    os.environ.update(job.env)
    # The template's import caches describe its own /mnt/data and /tmp (and
    # the working directory). Only those go: dropping all of them would free
    # hundreds of finders, writing to (so copying) their pages, ~40 ms.
    for path in list(sys.path_importer_cache):
        if not path.startswith("/") or path.startswith(("/mnt/", "/tmp")):
            del sys.path_importer_cache[path]
    # random reseeds itself in every fork child (os.register_at_fork);
    # numpy's legacy global generator does not.
    if "numpy.random" in sys.modules:
        sys.modules["numpy.random"].seed()
    return job


def _spawn(pidfd, pod, status):
    """os.fork(), but the child is the program inside the pod (forkserver_spawn):
    the same interpreter hooks run around it. True in the program."""
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    r = _spawn_c(pidfd, pod, status)
    if r == 1:
        api.PyOS_AfterFork_Child()
        return True
    api.PyOS_AfterFork_Parent()
    if r < 0:
        raise OSError(-r, "starting the entrant: " + os.strerror(-r))
    return False


def _serve_one(lib, listener):
    conn, _ = listener.accept()
    conn.settimeout(2.0)
    fds, peer = [], None
    try:
        msg, anc, flags, _ = conn.recvmsg(
            _MSG_MAX, socket.CMSG_SPACE(4 * 4) + socket.CMSG_SPACE(struct.calcsize("3i")))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += struct.unpack("%di" % (len(data) // 4), data[: len(data) // 4 * 4])
            elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                peer = struct.unpack("3i", data)[0]
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or not peer or peer <= 1:
            raise ValueError("truncated request or no credentials")
        limits, job = _parse(msg, fds)
        pod = ctypes.create_string_buffer(64)
        pidfd = lib.forkserver_check(peer, pod, len(pod))
        if pidfd < 0:
            raise PermissionError(-pidfd, "not kcr-nsexec in a pod: " + os.strerror(-pidfd))
        fds.append(pidfd)
        sys.stdout.flush()
        sys.stderr.flush()
        if _spawn(pidfd, pod.value, fds[3]):
            job = _program(lib, fds, limits, job, (listener, conn))
            fds = []  # the program's: closed (but its stdio) by forkserver_drop
            return job
        conn.sendall(struct.pack("=i", 0))
    except (OSError, ValueError) as e:
        err = getattr(e, "errno", None) or 22
        _log("request refused: %s" % e)
        try:
            conn.sendall(struct.pack("=i", -err))
        except OSError:
            pass
    finally:
        for fd in fds:
            os.close(fd)
        conn.close()
    return None


def _reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


class _ArenaAllocator(ctypes.Structure):
    """CPython's PyObjectArenaAllocator."""
    _fields_ = [("ctx", ctypes.c_void_p), ("alloc", ctypes.c_void_p), ("free", ctypes.c_void_p)]


def _arenas(lib):
    """Puts the objects the preload makes into one region that _huge_pages
    can back with 2 MiB pages (src/sidecar/forkserver-arena.h). The region is
    address space reserved without a commit charge, which strict overcommit
    (vm.overcommit_memory=2) would charge to the template and every fork of
    it: there CPython keeps its own arenas."""
    try:
        with open("/proc/sys/vm/overcommit_memory") as f:
            strict = f.read().strip() == "2"
    except OSError:
        strict = True
    r = 0 if strict else lib.forkserver_arena_reserve()
    if strict or r != 0:
        _log("no arena region (%s): CPython's own arenas" %
             ("vm.overcommit_memory=2" if strict else os.strerror(-r)))
        return
    alloc = _ArenaAllocator(None, ctypes.cast(lib.forkserver_arena_alloc, ctypes.c_void_p),
                            ctypes.cast(lib.forkserver_arena_free, ctypes.c_void_p))
    ctypes.pythonapi.PyObject_SetArenaAllocator(ctypes.byref(alloc))


def _huge_pages():
    """Backs the template's anonymous heap with 2 MiB pages (MADV_COLLAPSE,
    Linux 6.1+; elsewhere nothing happens): every fork copies, and every
    runner's exit tears down, one entry per 2 MiB instead of 512."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    huge = 1 << 21
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    for f in regions:
        if "w" not in f[1] or (len(f) > 5 and f[5] != "[heap]"):
            continue  # file mappings and stacks stay as they are
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        lo = (lo + huge - 1) & ~(huge - 1)
        hi &= ~(huge - 1)
        if hi > lo:
            # No MADV_HUGEPAGE hint: the runners' own faults stay 4 KiB ones.
            libc.madvise(lo, hi - lo, 25)  # MADV_COLLAPSE


def main():
    opts = _options(sys.argv[1:])
    global _lib
    lib = _lib = ctypes.CDLL("/proc/self/fd/%d" % int(opts["lib"]))
    lib.forkserver_check.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    # With the GIL held, as os.fork() calls fork(): the program resumes
    # inside this call and must find the interpreter as the template left it.
    global _spawn_c
    _spawn_c = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)(
        ("forkserver_spawn", lib))
    lib.forkserver_drop.argtypes = [ctypes.c_int] * 4 + [ctypes.c_char_p] + \
        [ctypes.c_uint] * 2 + [ctypes.c_ulonglong] * 4
    lib.forkserver_exit.argtypes = [ctypes.c_int]
    cg = opts["cgroup"]
    fds = (ctypes.c_int * len(cg))(*[fd for fd, _ in cg])
    v1 = (ctypes.c_int * len(cg))(*[int(v) for _, v in cg])
    if lib.forkserver_config(os.fsencode(opts["cgroup-parent"]), fds, v1, len(cg)) != 0:
        _log("bad cgroup configuration, or the seccomp filter failed to compile")
        return None
    listener = socket.socket(fileno=int(opts["socket"]))
    _arenas(lib)
    _preload(opts["preload"])
    # Everything imported so far is never collected: a collection in a child
    # would otherwise write to (and so copy) every page of the heap.
    gc.collect()
    gc.freeze()
    _huge_pages()
    listener.settimeout(1.0)
    listener.listen(64)  # connecting works from now on (before: refused)
    os.write(int(opts["ready"]), b"1")
    os.close(int(opts["ready"]))
    while True:
        _reap()
        try:
            job = _serve_one(lib, listener)
        except socket.timeout:
            continue
        if job is not None:
            return job


def _exit_status(e):
    """What the interpreter makes of SystemExit(code)."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code if -(2**31) <= code < 2**31 else 1
    try:
        sys.stderr.write("%s\n" % (code,))
    except Exception:
        pass
    return 1


def _finish(status):
    """The interpreter's exit, less the teardown of preloaded modules: that
    teardown writes to every object of the template's heap, which would copy
    all of it into this process (about half a second) for nothing. What a
    program can observe still happens, in the interpreter's order: threads
    are joined, atexit handlers run, stdio is flushed; then __main__ is
    cleared, the program's garbage is collected, and every file it left open
    is flushed, as finalization would have done."""
    import _io
    import atexit

    # As the interpreter does: threads are joined only when the program (or
    # a module it imported) imported threading; importing it here would cost
    # a runner of the template of nothing (lite pods) ~1 ms for nothing.
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    sys.modules["__main__"].__dict__.clear()
    gc.collect()
    # io.IOBase is an ABC: isinstance against it walks the registry of every
    # io class (~0.7 ms); every file object derives from the C base anyway.
    for obj in gc.get_objects():  # the template's objects are frozen: not listed
        if isinstance(obj, _io._IOBase):
            try:
                if not obj.closed:
                    obj.flush()
            except Exception:
                pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            status = 120  # what the interpreter exits with when flushing fails
    # Exits as os._exit would, telling init first (nsexec-report.h,
    # NSEXEC_DONE_SIGNAL): the run is reported without waiting for the
    # kernel to unmap this copy of the template.
    try:
        _lib.forkserver_exit(status & 0xFF)
    finally:
        os._exit(status)  # only if the program broke ctypes


if __name__ == "__main__":
    _job = main()
    if _job is None:
        sys.exit(1)
    # The program: what `python -c CODE ARGS` would run, in a fresh __main__.
    sys.argv = ["-c"] + _job.args
    sys.orig_argv = ["python", "-c", _job.code] + _job.args
    _main = types.ModuleType("__main__")
    _main.__builtins__ = __builtins__
    _main.__loader__ = importlib.machinery.BuiltinImporter
    sys.modules["__main__"] = _main
    try:
        exec(compile(_job.code, "<string>", "exec"), _main.__dict__)
    except SystemExit as e:
        _finish(_exit_status(e))
    except BaseException:
        sys.excepthook(*sys.exc_info())
        _finish(1)
    _finish(0)
