/* The kcr operator dashboard (docs/dashboard.md).
 *
 * Plain JavaScript, no library. The master key is asked for once, kept in
 * sessionStorage (this tab only) and sent as the x-api-key header, never in a
 * URL or a cookie. Every value from the server reaches the page through
 * textContent or an SVG attribute set with setAttribute, never as HTML: key
 * names are user input. The page polls every few seconds while it is visible
 * and stops when it is hidden, so it costs the server nothing when nobody
 * looks. */
(function () {
  "use strict";

  const API = "/api/v1/admin/";
  const KEY_ITEM = "kcr-master-key";
  const REFRESH_MS = 5000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const OUTCOMES = ["completed", "failed", "timeout", "oom", "error"];
  const OUTCOME_COLORS = {
    completed: "#2e7d32", failed: "#ef6c00", timeout: "#6a1b9a", oom: "#c62828", error: "#616161",
  };
  const PALETTE = ["#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#c62828", "#00838f", "#6d4c41",
    "#ad1457", "#9e9d24", "#455a64", "#283593", "#00695c", "#f9a825"];
  const LATENCY_LINES = [["p50_ms", "p50", "#1565c0"], ["p95_ms", "p95", "#ef6c00"],
    ["p99_ms", "p99", "#c62828"]];

  const $ = (id) => document.getElementById(id);
  let timer = null;
  let paused = false;
  let groupBy = "outcome";
  let lastHistory = null;
  let armedDelete = null; /* the key whose Delete was clicked once */

  /*** DOM helpers: text only ***/

  /* An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms === 0) return "0";
    if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + " ms";
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  }

  function fmtBytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }

  function fmtAge(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.floor(seconds);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function fmtTime(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function fmtLimit(v) {
    return v === null || v === undefined ? "default" : v === 0 ? "unlimited" : String(v);
  }

  /*** The API ***/

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const key = sessionStorage.getItem(KEY_ITEM);
    if (!key) throw new HttpError(401, "no key");
    const init = Object.assign({ cache: "no-store", credentials: "omit" }, options || {});
    init.headers = Object.assign({ "x-api-key": key }, init.headers || {});
    const r = await fetch(API + path, init);
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = null;
    }
    if (!r.ok) {
      const msg = body && typeof body.error === "string" ? body.error : "HTTP " + r.status;
      throw new HttpError(r.status, msg);
    }
    return body;
  }

  /*** Sign-in ***/

  function showLogin(message) {
    stopPolling();
    $("dash").hidden = true;
    $("signout").hidden = true;
    $("pause").hidden = true;
    $("banner").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("login-key").value = "";
    $("login-key").focus();
  }

  function showDashboard() {
    $("login").hidden = true;
    $("dash").hidden = false;
    $("signout").hidden = false;
    $("pause").hidden = false;
    refresh(true);
  }

  function forgetKey(message) {
    sessionStorage.removeItem(KEY_ITEM);
    showLogin(message);
  }

  /* A refused key (401, 403) sends the page back to its prompt. */
  function handleError(e) {
    if (e instanceof HttpError && (e.status === 401 || e.status === 403)) {
      forgetKey(e.status === 403 ? "That is not the master key (403)." : "A key is needed (401).");
      return;
    }
    $("banner").textContent = "Could not refresh: " + e.message;
    $("banner").hidden = false;
  }

  /*** Polling ***/

  function stopPolling() {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  function schedule() {
    stopPolling();
    if (!paused && !document.hidden && sessionStorage.getItem(KEY_ITEM))
      timer = setTimeout(() => refresh(false), REFRESH_MS);
  }

  async function refresh(withConfig) {
    stopPolling();
    try {
      const calls = [api("overview"), api("metrics/history"), api("sessions/summary"), api("keys")];
      if (withConfig) calls.push(api("config"));
      const [overview, history, sessions, keys, config] = await Promise.all(calls);
      renderOverview(overview);
      lastHistory = history;
      renderHistory(history);
      renderSessions(sessions);
      renderKeys(keys);
      if (config) renderConfig(config);
      $("banner").hidden = true;
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
      document.body.dataset.loaded = "true";
    } catch (e) {
      handleError(e);
    }
    schedule();
  }

  /*** Overview: health, pool, slots ***/

  function statusCell(status) {
    return el("td", {}, el("span", { class: "badge " + String(status) }, String(status)));
  }

  function renderOverview(o) {
    $("version").textContent = "v" + o.version + " · " + o.backend + " backend · up " +
      fmtAge(o.uptime_seconds);
    $("status").textContent = o.status;
    $("status").className = "badge " + o.status;
    const rows = [];
    for (const [name, s] of Object.entries(o.services || {})) {
      let details = s.error || "";
      if (name === "pods" && s.details) {
        const d = s.details;
        details = [s.backend, d.isolation, d.pods_live !== undefined ? d.pods_live + " pods live" : "",
          s.error || ""].filter(Boolean).join(" · ");
      }
      rows.push(el("tr", {}, el("td", {}, name + " (" + (s.service === "pods" ? s.backend || "none" :
        s.service) + ")"), statusCell(s.status), el("td", { class: "num" },
        s.response_time_ms !== undefined ? fmtMs(s.response_time_ms) : "–"), el("td", {}, details)));
    }
    fill($("health").tBodies[0], rows);

    const pool = (o.services && o.services.pods && o.services.pods.pool) || null;
    const prows = [];
    // A language's lite pods (preloading nothing) have a row of their own.
    const pools = [];
    for (const [lang, p] of Object.entries(pool || {})) {
      pools.push([lang, lang, p]);
      if (p.lite) pools.push([lang + "-lite", lang + " (lite)", p.lite]);
    }
    for (const [key, label, p] of pools) {
      if (!p.target && !p.warm && !p.in_use && !p.creating && !p.failures) continue;
      prows.push(el("tr", { "data-lang": key }, el("td", {}, label),
        el("td", { class: "num" }, p.warm), el("td", { class: "num" }, p.in_use),
        el("td", { class: "num" }, p.creating), el("td", { class: "num" }, p.target),
        el("td", { class: "num" }, p.failures)));
    }
    if (!prows.length)
      prows.push(el("tr", {}, el("td", { colspan: "6", class: "muted" },
        pool ? "no warm pods configured (POD_POOL_<LANG>)" : "no pod backend")));
    fill($("pool").tBodies[0], prows);
    const sl = o.exec_slots;
    $("slots").textContent = "Execution slots: " + sl.running + " running, " + sl.waiting +
      " waiting, " + sl.max + " at most; " + sl.refused + " refused since start. " +
      "Programmatic runs: " + o.programmatic.running + " running, " + o.programmatic.paused +
      " paused.";
  }

  /*** Sessions ***/

  function renderSessions(s) {
    const facts = [["Sessions", String(s.sessions)], ["Bytes stored", fmtBytes(s.bytes)],
      ["Files", s.files + " (" + fmtBytes(s.file_bytes) + ")"],
      ["Python states", s.states + " (" + fmtBytes(s.state_bytes) + ")"],
      ["Oldest", s.oldest_created_at ? fmtAge(s.oldest_age_seconds) + " old" : "–"]];
    const items = [];
    for (const [k, v] of facts) {
      items.push(el("dt", {}, k), el("dd", { "data-fact": k }, v));
    }
    $("sessions").replaceChildren(...items);
  }

  /*** Charts (SVG) ***/

  /* Charts are drawn at their container's width, so their text is not scaled. */
  const H = 220, PAD = { l: 56, r: 10, t: 10, b: 24 };

  /* A rounded-up axis maximum and a round tick step (1, 2 or 5 × 10^k), at
   * most about five ticks; whole steps for counts. */
  function niceMax(v, whole) {
    if (!(v > 0)) v = 1;
    const raw = v / 4;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw);
    if (whole) step = Math.max(1, Math.round(step));
    return { max: Math.ceil(v / step - 1e-9) * step, step: step };
  }

  /* The frame of a chart over the 60 minutes: axes, y ticks, time labels. */
  function frame(box, minutes, yMax, yLabel, whole) {
    const W = Math.max(360, box.clientWidth || 720);
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
      class: "plot" });
    const x0 = PAD.l, x1 = W - PAD.r, y0 = H - PAD.b, y1 = PAD.t;
    const axis = niceMax(yMax, whole);
    const y = (v) => y0 - (v / axis.max) * (y0 - y1);
    for (let k = 0; k * axis.step <= axis.max + 1e-9; k++) {
      const v = k * axis.step;
      root.append(svg("line", { x1: x0, x2: x1, y1: y(v), y2: y(v), class: "grid" }));
      root.append(svg("text", { x: x0 - 4, y: y(v) + 3, class: "tick", "text-anchor": "end" },
        yLabel(v)));
    }
    const n = minutes.length;
    const slot = (x1 - x0) / n;
    for (let i = 0; i < n; i += 10) {
      root.append(svg("text", { x: x0 + i * slot, y: H - 6, class: "tick" }, fmtTime(minutes[i].t)));
    }
    root.append(svg("line", { x1: x0, x2: x1, y1: y0, y2: y0, class: "axis" }));
    return { root: root, y: y, x: (i) => x0 + i * slot, slot: slot };
  }

  function legend(ul, entries) {
    ul.replaceChildren(...entries.map(([name, color]) =>
      el("li", {}, swatch(color), name)));
  }

  function swatch(color) {
    const s = svg("svg", { width: 10, height: 10, class: "swatch" });
    s.append(svg("rect", { width: 10, height: 10, fill: color }));
    return s;
  }

  /* Stacked bars per minute, by outcome or by language. */
  function renderExecChart(h) {
    const minutes = h.minutes;
    const langs = Object.keys(h.hour.languages || {}).sort();
    const series = groupBy === "outcome"
      ? OUTCOMES.map((o) => [o, OUTCOME_COLORS[o], (m) => m.outcomes[o] || 0])
      : langs.map((l, i) => [l, PALETTE[i % PALETTE.length], (m) => {
        const by = (m.languages || {})[l] || {};
        return Object.values(by).reduce((a, b) => a + b, 0);
      }]);
    const top = Math.max(1, ...minutes.map((m) => m.count));
    const f = frame($("chart-exec"), minutes, top, (v) => String(v), true);
    minutes.forEach((m, i) => {
      let acc = 0;
      for (const [name, color, get] of series) {
        const v = get(m);
        if (!v) continue;
        const rect = svg("rect", { x: f.x(i) + 1, width: Math.max(1, f.slot - 2), y: f.y(acc + v),
          height: f.y(acc) - f.y(acc + v), fill: color, class: "bar" });
        rect.append(svg("title", {}, fmtTime(m.t) + " " + name + ": " + v));
        f.root.append(rect);
        acc += v;
      }
    });
    $("chart-exec").replaceChildren(f.root);
    legend($("legend-exec"), series.map(([name, color]) => [name, color]));
  }

  /* p50/p95/p99 lines over the minutes that had executions. */
  function renderLatencyChart(h) {
    const minutes = h.minutes;
    const top = Math.max(1, ...minutes.map((m) => m.p99_ms || 0));
    const f = frame($("chart-latency"), minutes, top, (v) => fmtMs(v), false);
    for (const [field, name, color] of LATENCY_LINES) {
      let d = "";
      let prev = false;
      minutes.forEach((m, i) => {
        const v = m[field];
        if (v === null || v === undefined) {
          prev = false;
          return;
        }
        const x = f.x(i) + f.slot / 2, y = f.y(v);
        d += (prev ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1) + " ";
        prev = true;
        const dot = svg("circle", { cx: x, cy: y, r: 2.5, fill: color, class: "point" });
        dot.append(svg("title", {}, fmtTime(m.t) + " " + name + ": " + fmtMs(v)));
        f.root.append(dot);
      });
      if (d) f.root.append(svg("path", { d: d.trim(), stroke: color, fill: "none", class: "line" }));
    }
    $("chart-latency").replaceChildren(f.root);
    legend($("legend-latency"), LATENCY_LINES.map(([, name, color]) => [name, color]));
    const hr = h.hour;
    $("latency-hour").textContent = hr.count
      ? "Last hour: " + hr.count + " executions; p50 " + fmtMs(hr.p50_ms) + ", p95 " +
        fmtMs(hr.p95_ms) + ", p99 " + fmtMs(hr.p99_ms) + " (within 10%)."
      : "No executions in the last hour.";
  }

  function renderTotals(h) {
    const head = el("tr", {}, el("th", {}, "Language"),
      ...OUTCOMES.map((o) => el("th", { class: "num" }, o)), el("th", { class: "num" }, "total"));
    $("exec-totals").tHead.replaceChildren(head);
    const rows = [];
    for (const lang of Object.keys(h.totals).sort()) {
      const by = h.totals[lang];
      const total = OUTCOMES.reduce((a, o) => a + (by[o] || 0), 0);
      if (!total) continue;
      const hour = (h.hour.languages || {})[lang] || {};
      rows.push(el("tr", { "data-lang": lang }, el("td", {}, lang),
        ...OUTCOMES.map((o) => el("td", { class: "num", "data-outcome": o },
          el("span", { class: "count" }, by[o] || 0),
          el("span", { class: "muted" }, " (" + (hour[o] || 0) + ")"))),
        el("td", { class: "num" }, total)));
    }
    if (!rows.length)
      rows.push(el("tr", {}, el("td", { colspan: String(OUTCOMES.length + 2), class: "muted" },
        "No executions yet.")));
    fill($("exec-totals").tBodies[0], rows);
  }

  function renderSlowest(h) {
    const rows = h.slowest.map((e) => el("tr", {}, el("td", {}, e.language),
      el("td", { class: "num" }, fmtMs(e.duration_ms)), el("td", {}, e.outcome),
      el("td", {}, el("code", {}, e.request_id)), el("td", {}, new Date(e.at_ms).toLocaleTimeString())));
    if (!rows.length)
      rows.push(el("tr", {}, el("td", { colspan: "5", class: "muted" }, "None in the last hour.")));
    fill($("slowest").tBodies[0], rows);
  }

  function renderHistory(h) {
    renderExecChart(h);
    renderLatencyChart(h);
    renderTotals(h);
    renderSlowest(h);
  }

  /*** Keys ***/

  function keyButton(label, onclick) {
    return el("button", { type: "button", onclick: onclick }, label);
  }

  async function keyAction(fn) {
    try {
      await fn();
      await refresh(false);
    } catch (e) {
      handleError(e);
    }
  }

  function renderKeys(keys) {
    const rows = keys.map((k) => {
      const actions = el("td", { class: "actions" });
      if (k.source === "managed") {
        actions.append(keyButton(k.enabled ? "Disable" : "Enable", () => keyAction(() =>
          api("keys/" + encodeURIComponent(k.key_hash), {
            method: "PATCH", headers: { "content-type": "application/json" },
            body: JSON.stringify({ enabled: !k.enabled }),
          }))));
        /* Two clicks delete, no modal dialog; the armed key survives a refresh. */
        const del = keyButton(armedDelete === k.key_hash ? "Really delete?" : "Delete", () => {
          if (armedDelete !== k.key_hash) {
            armedDelete = k.key_hash;
            del.textContent = "Really delete?";
            return;
          }
          armedDelete = null;
          keyAction(() => api("keys/" + encodeURIComponent(k.key_hash), { method: "DELETE" }));
        });
        del.classList.add("danger");
        actions.append(del);
      }
      const rl = k.rate_limits || {};
      return el("tr", { "data-hash": k.key_hash, "data-enabled": String(k.enabled) },
        el("td", { class: "key-name" }, k.name), el("td", {}, el("code", {}, k.key_prefix + "…")),
        el("td", {}, k.source), el("td", {}, el("span", { class: "badge " +
          (k.enabled ? "healthy" : "disabled") }, k.enabled ? "enabled" : "disabled")),
        el("td", {}, fmtLimit(rl.exec_per_minute)), el("td", {}, fmtLimit(rl.upload_per_minute)),
        el("td", {}, fmtLimit(rl.download_per_minute)),
        el("td", {}, new Date(k.created_at).toLocaleString()), actions);
    });
    if (!rows.length)
      rows.push(el("tr", {}, el("td", { colspan: "9", class: "muted" }, "No keys.")));
    fill($("keys").tBodies[0], rows);
  }

  function limitValue(input) {
    return input.value === "" ? null : Number(input.value);
  }

  async function createKey(ev) {
    ev.preventDefault();
    const name = $("key-name").value;
    const body = {
      name: name,
      rate_limits: {
        exec_per_minute: limitValue($("key-exec")),
        upload_per_minute: limitValue($("key-upload")),
        download_per_minute: limitValue($("key-download")),
      },
    };
    try {
      const r = await api("keys", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
      });
      $("new-key-name").textContent = r.record.name;
      $("new-key-value").textContent = r.api_key;
      $("new-key").hidden = false;
      $("key-form").reset();
      await refresh(false);
    } catch (e) {
      handleError(e);
    }
  }

  /*** Configuration ***/

  function renderConfig(cfg) {
    const rows = Object.keys(cfg).sort().map((k) => {
      const v = cfg[k];
      const text = v === null ? "(unset)" : typeof v === "object" ? JSON.stringify(v) : String(v);
      return el("tr", {}, el("td", {}, el("code", {}, k)),
        el("td", { class: v === null ? "muted" : String(v).startsWith("[redacted]") ? "redacted" : "" },
          text));
    });
    fill($("config").tBodies[0], rows);
  }

  /*** Start ***/

  function start() {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const key = $("login-key").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_ITEM, key);
      $("login-key").value = "";
      showDashboard();
    });
    $("signout").addEventListener("click", () => forgetKey("The key was forgotten."));
    $("pause").addEventListener("click", () => {
      paused = !paused;
      $("pause").textContent = paused ? "Resume" : "Pause";
      paused ? stopPolling() : refresh(false);
    });
    $("key-form").addEventListener("submit", createKey);
    $("new-key-done").addEventListener("click", () => {
      $("new-key-value").textContent = "";
      $("new-key").hidden = true;
    });
    $("new-key-copy").addEventListener("click", () => {
      if (navigator.clipboard) navigator.clipboard.writeText($("new-key-value").textContent);
    });
    for (const b of document.querySelectorAll(".group-by")) {
      b.addEventListener("click", () => {
        groupBy = b.dataset.group;
        for (const o of document.querySelectorAll(".group-by"))
          o.setAttribute("aria-pressed", String(o === b));
        if (lastHistory) renderExecChart(lastHistory);
      });
    }
    window.addEventListener("resize", () => {
      if (lastHistory && !$("dash").hidden) {
        renderExecChart(lastHistory);
        renderLatencyChart(lastHistory);
      }
    });
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) stopPolling();
      else if (sessionStorage.getItem(KEY_ITEM) && !paused) refresh(false);
    });
    if (sessionStorage.getItem(KEY_ITEM)) showDashboard();
    else showLogin();
  }

  start();
})();
