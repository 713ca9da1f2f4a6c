"""Shared fixtures for the black-box suite. Feature-specific helpers live in
tests/e2e/<feature>_util.py so that suites stay independent."""
import os
import socket
import time
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("KCR_BUILD", os.path.join(ROOT, "build"))


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_root: requires uid 0 (namespaces, cgroups)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    if not config.pluginmanager.hasplugin("timeout"):
        # pytest-timeout missing (deps/test.txt): its marker stays known.
        config.addinivalue_line("markers", "timeout(seconds): this test's own time limit")


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (namespaces, cgroups, pivot_root)")
    for item in items:
        if "needs_root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def build_dir():
    return BUILD


def free_port():
    """A free TCP port on 127.0.0.1 (bind to 0, read it back, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.05, what=None):
    """Calls predicate() until it returns something true, and returns that;
    after timeout seconds raises AssertionError naming what was awaited
    (what: a string, or a function called then, to describe the state).
    For tests that wait for an event (a log line, a socket, a process state)
    rather than sleeping for a guessed time."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            name = (what() if callable(what) else what) or getattr(
                predicate, "__name__", "a condition")
            raise AssertionError(f"timed out after {timeout} s waiting for {name}")
        time.sleep(interval)
