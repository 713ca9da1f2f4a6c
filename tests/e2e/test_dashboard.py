"""The operator dashboard (GET /admin, issue 17) in a real headless Chromium
(tests/e2e/browser_util.py: Debian's chromium and chromium-driver over
WebDriver) against a live kcr serve that has run code in three languages:

- without the key the page shows its prompt and every admin API call is 401;
  the page's files carry a strict CSP, X-Frame-Options and no-store;
- a key created in the page (its name full of HTML) is shown once, runs
  /exec, is displayed as text, and once disabled in the page gets 401;
  another one is deleted from the page;
- the pool table, the two SVG charts and the execution counts, which match
  /metrics; a screenshot goes to $KCR_BUILD/dashboard.png (docs/dashboard.md)."""
import os
import re

import pytest
import requests

from api_util import BUILD, TEST_KEY, needs_pods, start_server
from browser_util import Browser, png_size

MASTER = "master-key-dashboard-0123456789"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
ADMIN_GETS = ("keys", "overview", "metrics/history", "sessions/summary", "config")
# A key name that would run script or load an image if it were ever HTML.
EVIL_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">&amp; "q"'
# The three languages run before the page is looked at (and what they print).
RUNS = (("py", "print(6 * 7)", "42\n"), ("js", "console.log(6 * 7)", "42\n"),
        ("bash", "echo $((6 * 7))", "42\n"), ("py", "raise SystemExit(3)", ""))


@pytest.fixture(scope="module")
def server():
    s = start_server({"MASTER_API_KEY": MASTER, "MAX_EXECUTION_TIME": "20"})
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
def browser():
    b = Browser(width=1400, height=2300)
    yield b
    b.close()


def admin(server, path, key=MASTER, method="GET", **kw):
    headers = {"x-api-key": key} if key else {}
    return requests.request(method, f"{server.url}/api/v1/admin/{path}", headers=headers,
                            timeout=30, **kw)


def metrics_exec_counts(server):
    text = server.get("/metrics").text
    return {(lang, outcome): int(n) for lang, outcome, n in re.findall(
        r'^kcr_executions_total\{language="([^"]+)",outcome="([^"]+)"\} (\d+)$', text, re.M)}


def severe_console_errors(browser):
    """The page's script errors and CSP violations; answers of 401 and 403,
    which these tests provoke, are the browser's "network" entries."""
    return [e for e in browser.console()
            if e.get("level") == "SEVERE" and e.get("source") != "network"]


def open_page(browser, server):
    browser.get(server.url + "/admin")
    browser.wait_js("return document.readyState === 'complete' && "
                    "(!document.getElementById('login').hidden || "
                    "!document.getElementById('dash').hidden)")


def sign_in(browser, key):
    browser.type("#login-key", key)
    browser.click("#login-form button[type=submit]")


def wait_loaded(browser):
    browser.wait_js("return document.body.dataset.loaded === 'true'", timeout=60,
                    what="the dashboard's first refresh")


def test_without_the_key_the_page_asks_for_it(server, browser):
    # The page's files: public, static, strict headers.
    for path, ctype in (("/admin", "text/html"), ("/admin/", "text/html"),
                        ("/v1/admin", "text/html"), ("/admin/dashboard.js", "text/javascript"),
                        ("/admin/dashboard.css", "text/css")):
        r = requests.get(server.url + path, timeout=10)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"].startswith(ctype), (path, r.headers)
        assert r.headers["Content-Security-Policy"] == CSP, path
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-store"
    html = requests.get(server.url + "/admin", timeout=10).text
    # No inline script or style: only the two files of its own.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/admin/dashboard.js" defer>']
    assert "<style" not in html and " style=" not in html and "onclick" not in html
    assert MASTER not in html and TEST_KEY not in html

    # Every admin API call without the key is 401, also with another key 403.
    for path in ADMIN_GETS:
        r = admin(server, path, key=None)
        assert r.status_code == 401 and r.json()["error"] == "API key is required", path
        assert admin(server, path, key=TEST_KEY).status_code == 403, path
    assert admin(server, "keys", key=None, method="POST", json={"name": "x"}).status_code == 401

    # In the browser: the prompt, no dashboard, no admin request made.
    open_page(browser, server)
    assert browser.js("return !document.getElementById('login').hidden")
    assert browser.js("return document.getElementById('dash').hidden")
    assert browser.js("return performance.getEntriesByType('resource')"
                      ".filter(e => e.name.includes('/api/v1/admin/')).length") == 0
    # The page's own fetch without the key: 401 too.
    status = browser.js("const x = new XMLHttpRequest();"
                        "x.open('GET', '/api/v1/admin/overview', false); x.send();"
                        "return x.status;")
    assert status == 401
    # A wrong key: refused (403), the prompt again, the key not kept.
    sign_in(browser, TEST_KEY)
    browser.wait_js("return /403/.test(document.getElementById('login-error').textContent)")
    assert browser.js("return document.getElementById('dash').hidden")
    assert browser.js("return sessionStorage.getItem('kcr-master-key')") is None
    assert severe_console_errors(browser) == []


@needs_pods
def test_keys_made_in_the_page(server, browser):
    open_page(browser, server)
    sign_in(browser, MASTER)
    wait_loaded(browser)
    # The key is in sessionStorage only: not in the URL, not in a cookie.
    assert browser.js("return sessionStorage.getItem('kcr-master-key')") == MASTER
    assert MASTER not in browser.js("return location.href + document.cookie")

    browser.type("#key-name", EVIL_NAME)
    browser.type("#key-exec", "50")
    browser.click("#key-form button[type=submit]")
    key = browser.wait_js("const v = document.getElementById('new-key-value').textContent;"
                          "return !document.getElementById('new-key').hidden && v;")
    assert key.startswith("sk-")
    # Shown as text everywhere: nothing ran, no element was made of it.
    browser.wait_js("return [...document.querySelectorAll('#keys td.key-name')]"
                    ".some(td => td.textContent === arguments[0])", EVIL_NAME)
    assert browser.js("return document.getElementById('new-key-name').textContent") == EVIL_NAME
    assert browser.js("return window.__xss === undefined")
    assert browser.js("return document.querySelectorAll('script').length") == 1
    assert browser.js("return document.querySelectorAll('img').length") == 0
    assert browser.alert_text() is None
    # Its limits as set, and it runs code.
    listed = [k for k in admin(server, "keys").json() if k["name"] == EVIL_NAME]
    assert len(listed) == 1 and listed[0]["rate_limits"]["exec_per_minute"] == 50
    key_hash = listed[0]["key_hash"]
    r = requests.post(server.url + "/exec", json={"lang": "py", "code": "print('made in page')"},
                      headers={"x-api-key": key}, timeout=120)
    assert r.status_code == 200 and r.json()["stdout"] == "made in page\n", r.text

    # Disabled in the page: /exec refuses the key.
    row = f'#keys tr[data-hash="{key_hash}"]'
    browser.click(row + " td.actions button")
    browser.wait_js("const r = document.querySelector(arguments[0]);"
                    "return r && r.dataset.enabled === 'false'", row)
    r = requests.post(server.url + "/exec", json={"lang": "py", "code": "print(1)"},
                      headers={"x-api-key": key}, timeout=60)
    assert r.status_code == 401, r.text
    assert [k["enabled"] for k in admin(server, "keys").json() if k["key_hash"] == key_hash] == [
        False]
    # Another key, deleted in the page (two clicks, no dialog): gone from the
    # list and the store, and refused.
    browser.click("#new-key-done")
    browser.type("#key-name", "temporary")
    browser.click("#key-form button[type=submit]")
    other = browser.wait_js("const v = document.getElementById('new-key-value').textContent;"
                            "return !document.getElementById('new-key').hidden && v;")
    assert other != key
    (tmp,) = [k["key_hash"] for k in admin(server, "keys").json() if k["name"] == "temporary"]
    delete = f'#keys tr[data-hash="{tmp}"] td.actions button.danger'
    browser.wait_js("return document.querySelector(arguments[0]) !== null", delete)
    browser.click(delete)
    assert browser.js("return document.querySelector(arguments[0]).textContent",
                      delete) == "Really delete?"
    browser.click(delete)
    browser.wait_js("return document.querySelector(arguments[0]) === null", delete)
    assert tmp not in [k["key_hash"] for k in admin(server, "keys").json()]
    r = requests.get(server.url + "/files/x", headers={"x-api-key": other}, timeout=30)
    assert r.status_code == 401
    assert severe_console_errors(browser) == []


@needs_pods
def test_the_page_shows_what_metrics_counts(server, browser):
    for lang, code, out in RUNS:
        r = server.exec(code, lang=lang)
        assert r.status_code == 200, r.text
        assert r.json()["stdout"] == out, (lang, r.text)
    # A new load of the page: the key is still in this tab's sessionStorage.
    open_page(browser, server)
    wait_loaded(browser)
    assert browser.js("return document.getElementById('login').hidden")

    # The warm pool: the configured py pool (POD_POOL_PY=1, api_util).
    pool = browser.js("""
        const out = {};
        for (const tr of document.querySelectorAll('#pool tbody tr[data-lang]'))
          out[tr.dataset.lang] = [...tr.cells].slice(1).map(td => Number(td.textContent));
        return out;""")
    assert "py" in pool and pool["py"][3] == 1, pool
    assert all(all(n >= 0 for n in row) for row in pool.values()), pool

    # The charts: bars and latency points drawn in SVG.
    bars = browser.js("return [...document.querySelectorAll('#chart-exec svg rect.bar')]"
                      ".map(r => Number(r.getAttribute('height')))")
    assert bars and all(h > 0 for h in bars), bars
    points = browser.js("return document.querySelectorAll('#chart-latency svg circle.point')"
                        ".length")
    assert points >= 3  # p50, p95 and p99 of this minute at least
    assert browser.js("return document.querySelectorAll('#chart-exec svg text').length") > 3
    # Grouped by language: one series per language that ran.
    browser.click('button[data-group="language"]')
    legend = browser.js("return [...document.querySelectorAll('#legend-exec li')]"
                        ".map(li => li.textContent)")
    assert {"py", "js", "bash"} <= set(legend), legend
    browser.click('button[data-group="outcome"]')

    # The execution counts are those of /metrics, language by language.
    shown = browser.js("""
        const out = {};
        for (const tr of document.querySelectorAll('#exec-totals tbody tr[data-lang]')) {
          const by = {};
          for (const td of tr.querySelectorAll('td[data-outcome]'))
            by[td.dataset.outcome] = Number(td.querySelector('.count').textContent);
          out[tr.dataset.lang] = by;
        }
        return out;""")
    counts = metrics_exec_counts(server)
    assert {"py", "js", "bash"} <= set(shown), shown
    assert shown["py"]["failed"] >= 1 and shown["js"]["completed"] >= 1
    for lang, by in shown.items():
        for outcome, n in by.items():
            assert counts[(lang, outcome)] == n, (lang, outcome, n, counts)
    assert {lang for (lang, _), n in counts.items() if n} == set(shown)

    # The slowest recent executions: request ids, no code.
    slowest = browser.js("return [...document.querySelectorAll('#slowest tbody tr')]"
                         ".map(tr => [...tr.cells].map(td => td.textContent))")
    assert len(slowest) >= len(RUNS)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{21}", row[3]) for row in slowest), slowest
    text = browser.js("return document.body.innerText")
    assert "6 * 7" not in text and "SystemExit" not in text
    # Sessions, and the configuration with its secrets redacted.
    sessions = browser.js("return document.querySelector('#sessions dd').textContent")
    assert int(sessions) >= len(RUNS)
    assert MASTER not in text and TEST_KEY not in text
    config = browser.js("return Object.fromEntries([...document.querySelectorAll("
                        "'#config tbody tr')].map(tr => [tr.cells[0].textContent,"
                        " tr.cells[1].textContent]))")
    assert config["MASTER_API_KEY"] == "[redacted]" and config["API_KEYS"].startswith("[redacted]")
    assert config["MAX_EXECUTION_TIME"] == "20"
    assert browser.js("return document.getElementById('status').textContent") in (
        "healthy", "degraded")
    assert severe_console_errors(browser) == []

    png = browser.screenshot(os.path.join(BUILD, "dashboard.png"))
    width, height = png_size(png)
    assert width >= 1000 and height >= 1000, (width, height)
