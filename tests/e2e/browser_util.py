"""A headless Chromium for the black-box tests, driven over WebDriver (W3C)
by Debian's chromedriver with nothing but urllib: no pip, no npm.

    with Browser() as b:
        b.get(url)
        b.click("#button")
        b.js("return document.title")
        b.screenshot(path)

Chromium and chromium-driver come from deps/test.txt. Browser() skips the
test only when they are not installed or when Chromium cannot start at all on
this machine (its own self-check fails); anything after that is a failure."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request

import pytest

from conftest import free_port, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# What Chromium needs to run headless as root in a container, and to stay
# off the network (no updates, no sync, no QUIC probes).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps",
    "--hide-scrollbars", "--mute-audio", "--lang=en-US",
]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def skip_unless_chromium():
    """Skips (with the reason) when Chromium is missing or cannot start here."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (deps/test.txt: chromium, "
                    "chromium-driver; `make test` installs them)")
    profile = tempfile.mkdtemp(prefix="kcr-chromium-check-")
    try:
        p = subprocess.run([CHROMIUM, *CHROMIUM_ARGS, f"--user-data-dir={profile}",
                            "--dump-dom", "data:text/html,<p>ok</p>"],
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.skip("chromium cannot start here: its self-check did not finish in 120 s")
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if "<p>ok</p>" not in p.stdout:
        pytest.skip(f"chromium cannot start here (exit {p.returncode}): {p.stderr[-600:]}")


class WebDriverError(AssertionError):
    pass


class Browser:
    """One chromedriver process and one Chromium session with its own profile."""

    def __init__(self, width=1400, height=1000):
        skip_unless_chromium()
        self.tmp = tempfile.mkdtemp(prefix="kcr-browser-")
        self.port = free_port()
        self.log_path = os.path.join(self.tmp, "chromedriver.log")
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}", f"--log-path={self.log_path}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = None
        try:
            wait_for(self._ready, timeout=60, what="chromedriver's /status")
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": CHROMIUM_ARGS + [f"--user-data-dir={self.tmp}/profile",
                                             f"--window-size={width},{height}"],
                },
                "goog:loggingPrefs": {"browser": "ALL"},
                "timeouts": {"script": 30000, "pageLoad": 60000, "implicit": 0},
            }}}
            self.session = self._call("POST", "/session", caps, timeout=120)["sessionId"]
        except BaseException:
            self.close()
            raise

    # -- plumbing --

    def _ready(self):
        try:
            with urllib.request.urlopen(self.base + "/status", timeout=5) as r:
                return json.load(r)["value"].get("ready")
        except (OSError, ValueError, KeyError):
            return False

    def _call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise WebDriverError(f"WebDriver {method} {path}: {e.code} {detail[:2000]}\n"
                                 f"chromedriver log:\n{self.log_tail()}") from None

    def _s(self, path):
        return f"/session/{self.session}{path}"

    def log_tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # -- what tests use --

    def get(self, url):
        self._call("POST", self._s("/url"), {"url": url})

    def js(self, script, *args):
        """Runs script (a function body: `return ...`) in the page."""
        return self._call("POST", self._s("/execute/sync"), {"script": script, "args": list(args)})

    def find(self, css):
        return self._call("POST", self._s("/element"), {"using": "css selector", "value": css})[
            ELEMENT]

    def click(self, css):
        self._call("POST", self._s(f"/element/{self.find(css)}/click"), {})

    def type(self, css, text):
        eid = self.find(css)
        self._call("POST", self._s(f"/element/{eid}/clear"), {})
        self._call("POST", self._s(f"/element/{eid}/value"), {"text": text})

    def wait_js(self, script, *args, timeout=60, what=None):
        """Waits until script returns something true, and returns that."""
        return wait_for(lambda: self.js(script, *args), timeout=timeout, interval=0.2,
                        what=what or script)

    def console(self):
        """The browser console's entries since the last call."""
        try:
            return self._call("POST", self._s("/se/log"), {"type": "browser"})
        except WebDriverError:
            return []

    def alert_text(self):
        """The text of an open alert, or None."""
        try:
            return self._call("GET", self._s("/alert/text"))
        except WebDriverError:
            return None

    def screenshot(self, path):
        png = base64.b64decode(self._call("GET", self._s("/screenshot")))
        with open(path, "wb") as f:
            f.write(png)
        return png

    def close(self):
        try:
            if self.session:
                self._call("DELETE", self._s(""), timeout=30)
        except Exception:
            pass
        self.session = None
        if self.driver.poll() is None:
            self.driver.terminate()
            try:
                self.driver.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def png_size(data):
    """(width, height) of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
