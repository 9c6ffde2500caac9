// CCM dashboard: plain ES module, no third-party code. Talks to /api/v1 with X-API-Key and to /ws/metrics.
const STATUSES = ["healthy", "warning", "margin_call", "liquidation", "bankrupt"];
const STATUS_COLOURS = { healthy: "#1e7d32", warning: "#e0b000", margin_call: "#e06c00", liquidation: "#c62828",
  bankrupt: "#7f0000" };
const KEY = "ccm.apiKey";
const PAGE = 50;
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

const state = { sort: "coverage_ratio", order: "asc", status: "", q: "", offset: 0, total: 0, account: null,
  ws: null, wsRetry: 0, system: null };

// ---------- formatting ----------
const usdFmt = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const numFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });
function usd(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  const a = Math.abs(v);
  if (a >= 1e9) return `${v < 0 ? "-" : ""}$${(a / 1e9).toFixed(2)}B`;
  if (a >= 1e6) return `${v < 0 ? "-" : ""}$${(a / 1e6).toFixed(2)}M`;
  return usdFmt.format(v);
}
function ratio(v, unbounded) {
  if (unbounded || v === null || v === undefined) return "∞";
  if (!Number.isFinite(v)) return "∞";
  return `${v.toFixed(2)}×`;
}
function pct(v) { return v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`; }
function when(at) {
  if (!at) return "—";
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : `${d.toISOString().slice(11, 19)} UTC`;
}
function label(s) { return String(s || "").replace("_", " "); }
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function badge(status) { return el("span", { class: `badge ${status}`, "data-testid": "status-badge" }, label(status)); }
function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// ---------- API ----------
class AuthError extends Error {}
class ForbiddenError extends Error {}
async function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY);
  const headers = { "X-API-Key": key || "", Accept: "application/json", ...(options.headers || {}) };
  if (options.body) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { ...options, headers });
  if (res.status === 401) throw new AuthError("401");
  if (res.status === 403) throw new ForbiddenError("this key's role may not do this");
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  if (!res.ok) throw new Error((body && (body.detail?.toString?.() || body.error)) || `HTTP ${res.status}`);
  return { status: res.status, body };
}
function handle(err) {
  if (err instanceof AuthError) { logout("Key rejected or expired — sign in again."); return; }
  console.error(err);
}

// ---------- login ----------
function showLogin(message = "") {
  $("login").hidden = false; $("app").hidden = true; $("logout").hidden = true;
  $("login-error").textContent = message;
  $("api-key").focus();
}
function logout(message = "") {
  sessionStorage.removeItem(KEY);
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  setWs(false);
  showLogin(message);
}
async function login(key) {
  sessionStorage.setItem(KEY, key);
  try {
    await api("/api/v1/accounts?limit=1"); // every role may list (an account key sees its own accounts)
  } catch (err) {
    sessionStorage.removeItem(KEY);
    showLogin(err instanceof AuthError ? "That key was not accepted." : `Cannot reach the service: ${err.message}`);
    return;
  }
  $("login").hidden = true; $("app").hidden = false; $("logout").hidden = false;
  loadSystem();
  connectWs();
  route();
  loadAlerts();
}

// ---------- system gauges ----------
async function loadSystem() {
  try {
    const { body } = await api("/api/v1/system");
    $("gauges").hidden = false;
    renderSystem(body);
  } catch (err) {
    if (err instanceof ForbiddenError) { $("gauges").hidden = true; return; } // account keys: no system view
    handle(err);
  }
}
function dial(value) {
  // Semicircle gauge 0..2× coverage; thresholds shaded.
  const s = svg("svg", { viewBox: "0 0 200 110", role: "img", "aria-label": `system coverage ${ratio(value)}` });
  const arc = (a0, a1, colour, w = 14) => {
    const p = (a) => [100 - 80 * Math.cos(a), 100 - 80 * Math.sin(a)];
    const [x0, y0] = p(a0); const [x1, y1] = p(a1);
    return svg("path", { d: `M${x0},${y0} A80,80 0 0 1 ${x1},${y1}`, stroke: colour, "stroke-width": w, fill: "none" });
  };
  const max = 2;
  const ang = (v) => Math.PI * Math.min(Math.max(v, 0), max) / max;
  s.append(arc(0, ang(1), "#f4c7c3"), arc(ang(1), ang(1.2), "#ffe3b0"), arc(ang(1.2), Math.PI, "#cfe8d2"));
  if (value !== null && value !== undefined && Number.isFinite(value)) {
    const a = ang(value);
    const colour = value < 1 ? STATUS_COLOURS.liquidation : value < 1.2 ? STATUS_COLOURS.margin_call
      : STATUS_COLOURS.healthy;
    s.append(arc(0, Math.max(a, 0.001), colour, 6));
    const nx = 100 - 70 * Math.cos(a); const ny = 100 - 70 * Math.sin(a);
    s.append(svg("line", { x1: 100, y1: 100, x2: nx, y2: ny, stroke: "#1b1f24", "stroke-width": 3 }));
  }
  s.append(svg("circle", { cx: 100, cy: 100, r: 5, fill: "#1b1f24" }));
  return s;
}
function renderStatusCounts(counts) {
  const ul = $("g-status"); ul.replaceChildren();
  for (const st of STATUSES) {
    const n = (counts && counts[st]) || 0;
    ul.append(el("li", { "data-testid": `count-${st}` }, badge(st), el("span", {}, n.toLocaleString("en-US"))));
  }
}
function renderGauges({ coverage, shortfall, fund, counts, at, source = "rest" }) {
  $("g-coverage").textContent = ratio(coverage);
  $("g-coverage").className = `value ${coverage !== null && coverage < 1 ? "bad" : "good"}`;
  $("g-coverage-dial").replaceChildren(dial(coverage));
  $("g-shortfall").textContent = usd(shortfall);
  $("g-shortfall").className = `value big ${shortfall > 0 ? "bad" : "good"}`;
  $("g-fund").textContent = fund === null || fund === undefined ? "n/a" : ratio(fund);
  const noFund = fund === null || fund === undefined;
  $("g-fund").className = `value big ${noFund ? "muted" : fund < 1 ? "bad" : "good"}`;
  if (counts) renderStatusCounts(counts);
  const t = $("g-updated");
  t.textContent = when(at); t.dateTime = at || ""; t.dataset.at = at || ""; t.dataset.source = source;
}
function renderSystem(sys) {
  state.system = sys;
  $("g-equity").textContent = usd(sys.total_adjusted_equity);
  $("g-mm").textContent = usd(sys.total_maintenance_margin);
  renderGauges({ coverage: sys.system_coverage_ratio, shortfall: sys.total_shortfall,
    fund: sys.fund_coverage, counts: sys.by_status, at: sys.at || "" }); // no wall clock: the feed may run on its own
}

// ---------- accounts table ----------
async function loadAccounts() {
  const p = new URLSearchParams({ sort: state.sort, order: state.order, limit: PAGE, offset: state.offset });
  if (state.status) p.set("status", state.status);
  if (state.q) p.set("q", state.q);
  try {
    const { body } = await api(`/api/v1/accounts?${p}`);
    renderAccounts(body);
  } catch (err) { handle(err); }
}
function renderAccounts(body) {
  state.total = body.total;
  const tbody = document.querySelector("#accounts tbody");
  tbody.replaceChildren();
  for (const r of body.items) {
    const tr = el("tr", { class: `st-${r.status}`, tabindex: "0", "data-testid": "account-row",
      "data-account": r.account, "aria-label": `open account ${r.account}` },
      el("td", { "data-testid": "cell-account" }, r.account),
      el("td", {}, r.model || ""),
      el("td", { "data-testid": "cell-status" }, badge(r.status)),
      el("td", { class: "num", "data-testid": "cell-coverage" }, ratio(r.coverage_ratio, r.unbounded)),
      el("td", { class: "num" }, usd(r.adjusted_equity)),
      el("td", { class: "num" }, usd(r.maintenance_margin)),
      el("td", { class: "num" }, usd(r.shortfall)),
      el("td", { class: "num" }, pct(r.distance_to_liquidation?.down)));
    const open = () => { location.hash = `#/account/${encodeURIComponent(r.account)}`; };
    tr.addEventListener("click", open);
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
    tbody.append(tr);
  }
  if (!body.items.length) tbody.append(el("tr", {}, el("td", { colspan: 8, class: "muted" }, "no accounts match")));
  $("acc-total").textContent = `(${body.total.toLocaleString("en-US")})`;
  const last = Math.min(state.offset + PAGE, body.total);
  $("page-info").textContent = body.total ? `${state.offset + 1}–${last} of ${body.total.toLocaleString("en-US")}` : "";
  $("prev").disabled = state.offset === 0;
  $("next").disabled = last >= body.total;
  for (const th of document.querySelectorAll("#accounts th[data-sort]")) {
    th.setAttribute("aria-sort", th.dataset.sort === state.sort
      ? (state.order === "asc" ? "ascending" : "descending") : "none");
  }
}

// ---------- account page ----------
async function openAccount(id) {
  state.account = id;
  $("overview").hidden = true; $("account").hidden = false;
  $("a-id").textContent = id; $("a-status").textContent = ""; $("a-kv").replaceChildren();
  $("a-chart").replaceChildren(el("p", { class: "muted" }, "loading…"));
  subscribe();
  try {
    const [{ body: rec }, hist] = await Promise.all([
      api(`/api/v1/accounts/${encodeURIComponent(id)}`),
      api(`/api/v1/accounts/${encodeURIComponent(id)}/history`).catch((e) => {
        if (e instanceof AuthError) throw e; return { body: { items: [] } }; }),
    ]);
    if (state.account !== id) return;
    state.record = rec;
    renderAccountRecord(rec);
    renderPositions(rec);
    state.history = hist.body.items || [];
    renderHistory(state.history);
  } catch (err) {
    if (err instanceof AuthError) { handle(err); return; }
    $("a-chart").replaceChildren(el("p", { class: "error" }, `account not available: ${err.message}`));
  }
}
function renderAccountRecord(r) {
  const st = $("a-status"); st.className = `badge ${r.status}`; st.textContent = label(r.status);
  const items = [["Coverage", ratio(r.coverage_ratio, r.unbounded)], ["Model", r.model],
    ["Equity", usd(r.equity)], ["Collateral value", usd(r.collateral_value)],
    ["Adjusted equity", usd(r.adjusted_equity)], ["Initial margin", usd(r.initial_margin)],
    ["Maintenance margin", usd(r.maintenance_margin)], ["Shortfall", usd(r.shortfall)],
    ["Distance to liq. (down)", pct(r.distance_to_liquidation?.down)],
    ["Distance to liq. (up)", pct(r.distance_to_liquidation?.up)],
    ["Health factor", r.health_factor === null || r.health_factor === undefined ? "—" : ratio(r.health_factor)]];
  $("a-kv").replaceChildren(...items.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v ?? "—"))));
  const tb = $("a-contrib"); tb.replaceChildren();
  for (const c of r.contributors || []) {
    const share = Number(c.share) || 0;
    tb.append(el("tr", { "data-testid": "contributor-row" }, el("td", {}, c.instrument || c.asset || "?"),
      el("td", { class: "num" }, el("span", { class: "bar", style: `width:${Math.round(Math.min(Math.abs(share), 1) * 60)}px` }),
        pct(share)),
      el("td", { class: "num" }, usd(c.amount))));
  }
  if (!(r.contributors || []).length) tb.append(el("tr", {}, el("td", { colspan: 3, class: "muted" }, "none")));
}
function renderPositions(r) {
  const tp = $("a-pos"); tp.replaceChildren();
  for (const p of r.positions || []) {
    tp.append(el("tr", { "data-testid": "position-row" }, el("td", {}, p.instrument),
      el("td", { class: "num" }, numFmt.format(p.quantity))));
  }
  if (!(r.positions || []).length) tp.append(el("tr", {}, el("td", { colspan: 2, class: "muted" }, "no positions")));
  const tc = $("a-coll"); tc.replaceChildren();
  for (const [asset, qty] of Object.entries(r.collateral || {})) {
    tc.append(el("tr", {}, el("td", {}, asset), el("td", { class: "num" }, numFmt.format(qty))));
  }
  if (!Object.keys(r.collateral || {}).length) tc.append(el("tr", {}, el("td", { colspan: 2, class: "muted" }, "none")));
}
function niceTicks(lo, hi, n = 5) {
  const span = hi - lo || 1;
  const raw = span / (n - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) || 10 * mag;
  const start = Math.floor(lo / step) * step;
  const out = [];
  for (let v = start; v <= hi + step * 1e-9; v += step) out.push(+v.toFixed(10));
  if (out[out.length - 1] < hi) out.push(+(out[out.length - 1] + step).toFixed(10));
  return out;
}
function renderHistory(items) {
  const fig = $("a-chart");
  const pts = items.filter((h) => h.coverage_ratio !== null && h.coverage_ratio !== undefined
    && Number.isFinite(h.coverage_ratio)).map((h) => ({ t: new Date(h.at).getTime(), v: h.coverage_ratio }))
    .filter((p) => Number.isFinite(p.t)).sort((a, b) => a.t - b.t);
  if (!pts.length) { fig.replaceChildren(el("p", { class: "muted", "data-testid": "history-empty" }, "no history yet")); return; }
  const W = 800, H = 220, L = 50, R = 10, T = 10, B = 28;
  const t0 = pts[0].t, t1 = pts.length > 1 ? pts[pts.length - 1].t : pts[0].t + 1;
  let lo = Math.min(...pts.map((p) => p.v)), hi = Math.max(...pts.map((p) => p.v));
  if (lo < 1.6) { lo = Math.min(lo, 0.9); hi = Math.max(hi, 1.3); } // show the margin-call / liquidation band
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.05 || 0.1;
  const ticks = niceTicks(lo - pad, hi + pad);
  const vmin = ticks[0], vmax = ticks[ticks.length - 1];
  const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0 || 1);
  const y = (v) => T + (H - T - B) * (1 - (v - vmin) / (vmax - vmin || 1));
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img",
    "aria-label": `coverage history, ${pts.length} points, latest ${ratio(pts[pts.length - 1].v)}` });
  const digits = vmax - vmin < 0.5 ? 3 : 2;
  for (const v of ticks) {
    s.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    const tx = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }); tx.textContent = v.toFixed(digits);
    s.append(tx);
  }
  for (const [thr, colour] of [[1, STATUS_COLOURS.liquidation], [1.2, STATUS_COLOURS.margin_call]]) {
    if (thr > vmin && thr < vmax) {
      s.append(svg("line", { class: "thr", x1: L, x2: W - R, y1: y(thr), y2: y(thr), stroke: colour }));
    }
  }
  s.append(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }),
    svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    const tx = svg("text", { x: x(t), y: H - 8, "text-anchor": anchor }); tx.textContent = when(new Date(t).toISOString());
    s.append(tx);
  }
  const d = pts.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
  s.append(svg("path", { class: "line", d, "data-testid": "history-line" }));
  if (pts.length === 1) s.append(svg("circle", { cx: x(pts[0].t), cy: y(pts[0].v), r: 3, fill: "#1f5fbf" }));
  fig.replaceChildren(s);
}

// ---------- stress ----------
async function runStress() {
  const btn = $("run-stress"); btn.disabled = true;
  $("stress-state").textContent = "running historical scenarios…";
  try {
    let { status, body } = await api("/api/v1/stress", { method: "POST", body: JSON.stringify({ scenarios: "historical" }) });
    if (status === 202 && body && body.job_id) {
      const job = body.job_id;
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        ({ status, body } = await api(`/api/v1/stress/${encodeURIComponent(job)}`));
        const doc = body && (body.result || (body.scenarios ? body : null));
        if (doc) { body = doc; break; }
        if (body && (body.status === "failed" || body.status === "error")) throw new Error(body.error || "job failed");
        $("stress-state").textContent = `job ${job}: ${body?.status || "running"}…`;
      }
    }
    renderStress(body);
    $("stress-state").textContent = `finished at ${when(new Date().toISOString())}`;
  } catch (err) {
    if (err instanceof AuthError) handle(err);
    else if (err instanceof ForbiddenError) $("stress-state").textContent = "this key may not run stress tests";
    else $("stress-state").textContent = `stress failed: ${err.message}`;
  } finally { btn.disabled = false; }
}
function renderStress(doc) {
  const sum = $("stress-summary");
  const fund = doc.fund_coverage;
  const parts = [["Cover-1", usd(doc.cover_1), doc.cover_1_scenario], ["Cover-2", usd(doc.cover_2), doc.cover_2_scenario],
    ["Fund coverage", fund === null || fund === undefined ? "n/a" : ratio(fund),
      doc.fund === undefined || doc.fund === null ? "" : `default fund ${usd(doc.fund)}`],
    ["VaR", usd(doc.var), doc.confidence ? `${Math.round(doc.confidence * 100)}%` : ""], ["ES", usd(doc.es), ""]];
  sum.replaceChildren(...parts.map(([k, v, note]) => el("div", { "data-testid": `stress-${k.toLowerCase().replace(/\W+/g, "-")}` },
    el("span", { class: "muted small" }, k), el("b", {}, v), note ? el("span", { class: "muted small" }, note) : "")));
  const table = $("stress-table"); table.hidden = false;
  const tb = table.querySelector("tbody"); tb.replaceChildren();
  const rows = [...(doc.scenarios || [])].sort((a, b) => (b.system_uncovered_loss || 0) - (a.system_uncovered_loss || 0));
  for (const s of rows) {
    tb.append(el("tr", { "data-testid": "stress-row" }, el("td", {}, s.name), el("td", {}, s.date || ""),
      el("td", { class: "num" }, usd(s.system_uncovered_loss)),
      el("td", { class: "num" }, (s.accounts_breached ?? 0).toLocaleString("en-US")),
      el("td", { class: "losers" }, ...(s.worst_accounts || []).slice(0, 3).flatMap((a, i) => [i ? ", " : "",
        el("span", { class: "nowrap" }, `${a.account} ${usd(a.uncovered_loss)}`)]))));
  }
}

// ---------- WebSocket ----------
function setWs(on) { const s = $("ws-state"); s.textContent = on ? "live" : "offline"; s.className = on ? "ws-on" : "ws-off"; }
function subscribe() {
  // the service replaces a client's subscriptions with each message: the open account, or none
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify({ subscribe: state.account ? [state.account] : [] }));
  }
}
function connectWs() {
  const key = sessionStorage.getItem(KEY);
  if (!key) return;
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws/metrics?api_key=${encodeURIComponent(key)}`);
  state.ws = ws;
  let opened = false;
  ws.onopen = () => { opened = true; state.wsRetry = 0; setWs(true); subscribe(); };
  ws.onmessage = (ev) => { let m; try { m = JSON.parse(ev.data); } catch { return; } onMessage(m); };
  ws.onclose = (ev) => {
    setWs(false);
    if (state.ws !== ws) return;
    if (ev.code === 4401 || ev.code === 1008) { logout("Key rejected by the live feed — sign in again."); return; }
    if (!opened) api("/api/v1/accounts?limit=1").catch(handle); // refused handshake: a revoked key signs out
    const delay = Math.min(1000 * 2 ** state.wsRetry++, 15000);
    setTimeout(() => { if (state.ws === ws && sessionStorage.getItem(KEY)) connectWs(); }, delay);
  };
}
let tableRefresh = null;
function onMessage(m) {
  if (m.type === "system" && !$("gauges").hidden) {
    renderGauges({ coverage: m.system_coverage_ratio, shortfall: m.total_shortfall, fund: m.fund_coverage,
      counts: m.accounts_by_status, at: m.at || new Date().toISOString(), source: "ws" });
    // refresh the visible table page at most every 5 s so rows follow the feed without flooding the API
    if (!$("overview").hidden && !tableRefresh) tableRefresh = setTimeout(() => { tableRefresh = null; loadAccounts(); }, 5000);
  } else if (m.type === "account") {
    if (m.account === state.account && !$("account").hidden) {
      // a pushed record without contributors keeps the last known ones (from the full REST record)
      const prev = state.record && state.record.account === m.account ? state.record : {};
      const merged = { ...prev, ...m };
      if (!(m.contributors || []).length && (prev.contributors || []).length) merged.contributors = prev.contributors;
      state.record = merged;
      renderAccountRecord(merged);
      if (m.coverage_ratio !== undefined) {
        state.history = [...(state.history || []), { at: m.at || new Date().toISOString(), coverage_ratio: m.coverage_ratio }];
        renderHistory(state.history.slice(-2000));
      }
    }
  } else if (m.type === "alert") {
    addAlert(m);
  }
}
function addAlert(a) {
  const ol = $("alerts");
  const vals = a.values && typeof a.values === "object"
    ? Object.entries(a.values).map(([k, v]) => `${k}=${typeof v === "number" ? +v.toFixed(4) : v}`).join(" ") : "";
  const li = el("li", { class: "new", "data-testid": "alert" }, el("time", { datetime: a.at || "" }, when(a.at)),
    el("span", { class: "rule" }, a.rule || "alert"), " ",
    a.account ? el("a", { href: `#/account/${encodeURIComponent(a.account)}` }, a.account) : "",
    el("div", { class: "muted" }, vals));
  const st = a.values && a.values.status;
  if (st && STATUS_COLOURS[st]) li.style.borderLeftColor = STATUS_COLOURS[st];
  document.getElementById("alerts-empty")?.remove();
  ol.prepend(li);
  while (ol.children.length > 200) ol.lastChild.remove();
}
async function loadAlerts() {
  try {
    const { body } = await api("/api/v1/alerts");
    const items = (body.items || []).slice(-50);
    if (items.length) $("alerts").replaceChildren();
    for (const a of items) addAlert(a);
    for (const li of $("alerts").children) li.classList.remove("new");
  } catch (err) { handle(err); }
}

// ---------- routing & wiring ----------
function route() {
  if (!sessionStorage.getItem(KEY)) { showLogin(); return; }
  const m = location.hash.match(/^#\/account\/(.+)$/);
  if (m) { openAccount(decodeURIComponent(m[1])); return; }
  if (state.account) { state.account = null; subscribe(); }
  $("overview").hidden = false; $("account").hidden = true;
  loadAccounts();
}
function init() {
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault(); const k = $("api-key").value.trim(); if (k) login(k);
  });
  $("logout").addEventListener("click", () => logout());
  for (const th of document.querySelectorAll("#accounts th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      if (state.sort === th.dataset.sort) state.order = state.order === "asc" ? "desc" : "asc";
      else { state.sort = th.dataset.sort; state.order = th.dataset.sort === "shortfall" ? "desc" : "asc"; }
      state.offset = 0; loadAccounts();
    });
  }
  $("f-status").addEventListener("change", (e) => { state.status = e.target.value; state.offset = 0; loadAccounts(); });
  let t = null;
  $("f-q").addEventListener("input", (e) => {
    clearTimeout(t); t = setTimeout(() => { state.q = e.target.value.trim(); state.offset = 0; loadAccounts(); }, 250);
  });
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadAccounts(); });
  $("next").addEventListener("click", () => { state.offset += PAGE; loadAccounts(); });
  $("run-stress").addEventListener("click", runStress);
  window.addEventListener("hashchange", route);
  renderStatusCounts({});
  const key = sessionStorage.getItem(KEY);
  if (key) login(key); else showLogin();
}
init();
