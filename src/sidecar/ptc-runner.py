# The Python runner of programmatic tool calling (docs/ptc-sandbox.md),
# compiled into kcr-sidecar and run as user code:
#
#   python -c <this file> FILE TOOLS [ARGS...]
#
# TOOLS is a JSON array of [identifier, original tool name] pairs. FILE runs
# as `python FILE ARGS...` would (sys.argv, sys.path[0], a fresh __main__,
# tracebacks without this runner's frames), with one async function per tool,
# `asyncio` and `ToolError` already in its namespace, and top-level `await`.
# Tool calls travel on fd 4, a socket to the sidecar: a call waits on a
# future; the first waiting call schedules a flush a few loop iterations
# later, so that calls made together (asyncio.gather) leave as one message.
# The flush writes the message and blocks until the answer: the sidecar
# pauses the whole program while the client runs the tools anyway.
# Everything of the runner lives in the module of `-c`, which the program
# never sees; it opens no fd that outlives this start-up but asyncio's own
# (its loop, while a program with top-level await runs).
import os, sys

# The runner's imports must not find the program's files: under `-c`,
# sys.path[0] is '' (the working directory, /mnt/data) unless safe-path mode
# (PYTHONSAFEPATH) left it out. FILE's directory takes its place afterwards,
# as for `python FILE`.
_safe_path = getattr(sys.flags, 'safe_path', False)
if not _safe_path:
    del sys.path[0]
import ast, asyncio, json, threading, types, weakref
from importlib.machinery import SourceFileLoader

_path, _tools, *_args = sys.argv[1:]
sys.argv = [_path] + _args
if not _safe_path:
    sys.path.insert(0, os.path.dirname(_path))

_FD = 4
_MAX_MESSAGE = 1 << 20
_MAX_CALLS = 64
_MAX_HEADER = 20
# Loop iterations between the first call and the flush: gather() starts its
# awaitables one per iteration, a call nested in a coroutine takes a few more.
_HOPS = 4


class ToolError(Exception):
    """A tool call that failed: the message is the tool's error."""


_io_lock = threading.Lock()  # one message in flight (programs with threads)
_waiting = weakref.WeakKeyDictionary()  # loop -> [(id, name, input JSON, future)]
_last_id = 0


def _default(o):
    # numpy arrays and scalars, which pandas hands out everywhere
    for m in ('tolist', 'item'):
        f = getattr(o, m, None)
        if callable(f):
            return f()
    raise TypeError(f'Object of type {type(o).__name__} is not JSON serializable')


def _int64(text):
    # The sidecar keeps integers in 64 bits: a larger one would make the
    # whole message invalid, and the run would end.
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError('tool input integers must fit in 64 bits')
    return value


def _encode(value):
    """value as JSON (UTF-8 bytes), or the reason it cannot be a tool input
    raised here, at the call."""
    text = json.dumps(value, allow_nan=False, default=_default, ensure_ascii=False,
                      separators=(',', ':'))
    json.loads(text, parse_int=_int64)
    return text.encode()  # a lone surrogate fails here


def _call(ident, name, args, kwargs):
    if len(args) > 1:
        raise TypeError(f'{ident}() takes keyword arguments or one dict')
    if args and isinstance(args[0], dict):
        value = {**args[0], **kwargs}
    elif args:
        if kwargs:
            raise TypeError(f'{ident}() takes keyword arguments or one dict')
        value = args[0]
    else:
        value = kwargs
    data = _encode(value)
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    queue = _waiting.get(loop)
    if queue is None:
        queue = _waiting[loop] = []
    if not queue:
        loop.call_soon(_hop, loop, _HOPS)
    global _last_id
    _last_id += 1
    queue.append((_last_id, name, data, fut))
    return fut


def _make(ident, name):
    async def tool(*args, **kwargs):
        return await _call(ident, name, args, kwargs)

    tool.__name__ = tool.__qualname__ = ident
    return tool


def _hop(loop, n):
    if n:
        loop.call_soon(_hop, loop, n - 1)
    else:
        _flush(loop)


def _flush(loop):
    queue = _waiting.pop(loop, [])
    while queue:
        batch, size = [], 16
        while queue and len(batch) < _MAX_CALLS:
            cid, name, data, fut = queue[0]
            if fut.done():  # cancelled while it waited
                queue.pop(0)
                continue
            part = b'{"id":%d,"name":%s,"input":%s}' % (cid, json.dumps(name).encode(), data)
            if size + len(part) + 1 > _MAX_MESSAGE:
                if batch:
                    break
                queue.pop(0)
                fut.set_exception(ValueError('tool call input too large (1 MiB at most)'))
                continue
            batch.append((cid, fut, part))
            size += len(part) + 1
            queue.pop(0)
        if batch:
            _exchange(batch)


def _write_all(data):
    view = memoryview(data)
    while view:
        view = view[os.write(_FD, view):]


def _read_exact(n):
    out = bytearray()
    while len(out) < n:
        chunk = os.read(_FD, n - len(out))
        if not chunk:
            raise ConnectionError('the tool channel was closed')
        out += chunk
    return bytes(out)


def _read_message():
    head = b''
    while not head.endswith(b'\n'):
        if len(head) > _MAX_HEADER:
            raise ConnectionError('bad answer on the tool channel')
        head += _read_exact(1)
    return _read_exact(int(head))


def _exchange(batch):
    body = b'{"calls":[' + b','.join(p for _, _, p in batch) + b']}'
    try:
        with _io_lock:
            _write_all(b'%d\n' % len(body) + body)
            results = json.loads(_read_message())['results']
        by_id = {}
        for r in results:
            by_id.setdefault(r.get('id'), r)
    except Exception as e:
        for _, fut, _ in batch:
            if not fut.done():
                fut.set_exception(ToolError(f'tool call failed: {e}'))
        return
    for cid, fut, _ in batch:
        r = by_id.get(cid)
        if fut.done():
            continue
        if r is None:
            fut.set_exception(ToolError('no result for this call'))
        elif r.get('ok'):
            fut.set_result(r.get('value'))
        else:
            fut.set_exception(ToolError(str(r.get('error', 'tool call failed'))))


_runner_code = {f.__code__ for f in (_call, _make, _hop, _flush, _exchange, _write_all,
                                      _read_exact, _read_message, _default, _int64, _encode)}
_runner_code.add(_make('', '').__code__)


def _clean(exc):
    """Cuts the runner's frames (and asyncio's, before the program's first
    frame) off exc and the exceptions chained to it: a traceback starts in
    FILE, as under `python FILE`, and ends where the program called a tool."""
    todo, seen = [exc], set()
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != _path:
            tb = tb.tb_next
        kept = []
        while tb is not None and tb.tb_frame.f_code not in _runner_code:
            kept.append(tb)
            tb = tb.tb_next
        if kept:
            kept[-1].tb_next = None
        e.__traceback__ = kept[0] if kept else None
        todo += [e.__cause__, e.__context__]


_m = types.ModuleType('__main__')
_m.__file__, _m.__cached__, _m.__annotations__ = _path, None, {}
_m.__loader__ = SourceFileLoader('__main__', _path)
_m.__builtins__ = __builtins__
_m.asyncio = asyncio
_m.ToolError = ToolError
for _ident, _name in json.loads(_tools):
    setattr(_m, _ident, _make(_ident, _name))
sys.modules['__main__'] = _m
try:
    with open(_path, 'rb') as _f:
        _code = compile(_f.read(), _path, 'exec', flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                        dont_inherit=True)
    if _code.co_flags & 0x80:  # inspect.CO_COROUTINE: the program awaits at top level
        asyncio.run(eval(_code, _m.__dict__))
    else:
        exec(_code, _m.__dict__)
except SystemExit:
    raise
except BaseException as _e:
    _clean(_e)
    sys.excepthook(type(_e), _e, _e.__traceback__)
    del _e
    sys.exit(1)
