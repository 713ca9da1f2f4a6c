"""Shared fixtures for the black-box suite. Feature-specific helpers live in
tests/e2e/<feature>_util.py so that suites stay independent."""
import os
import socket
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("KCR_BUILD", os.path.join(ROOT, "build"))


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_root: requires uid 0 (namespaces, cgroups)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


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
