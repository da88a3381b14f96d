/* chantilly dashboard: plain JS, no dependencies.
 *
 * Data flow
 *   GET /api/stats            polled every STATS_MS: model panel, throughput, latency
 *   GET /api/metrics/history  on load, on model change and after every reconnect: seeds the charts
 *   SSE /api/stream/metrics   one message per learn: buffered, at most one chart point per flush
 *   SSE /api/stream/events    predict / learn / model / delete: buffered, table redrawn per flush
 * Nothing is drawn per message: incoming data is buffered and flushed at most every FLUSH_MS.
 */
'use strict';

(() => {
  const TOKEN_KEY = 'chantilly-token';
  const MAX_POINTS = 1000;     // chart points kept client-side (older half gets thinned)
  const MAX_ROWS = 50;         // rows in the live events table
  const MAX_RATES = 120;       // throughput samples (~3 minutes)
  const FLUSH_MS = 250;        // at most 4 redraws per second
  const STATS_MS = 1500;

  const METRICS = {
    regression: ['MAE', 'RMSE', 'SMAPE'],
    binary: ['Accuracy', 'LogLoss', 'Precision', 'Recall', 'F1'],
    multiclass: ['Accuracy', 'CrossEntropy', 'MacroF1', 'MicroF1'],
  };
  const LOWER_IS_BETTER = new Set(['MAE', 'RMSE', 'SMAPE', 'LogLoss', 'CrossEntropy', 'MSE', 'RMSLE']);
  const COLORS = ['var(--c1)', 'var(--c2)', 'var(--c3)', 'var(--c4)', 'var(--c5)'];

  const $ = (sel) => document.querySelector(sel);
  const SVGNS = 'http://www.w3.org/2000/svg';

  const state = {
    token: readToken(),
    conn: 'connecting',
    everLive: false,
    authNeeded: false,
    esMetrics: null,
    esEvents: null,
    reconnectTimer: null,
    reconnectDelay: 500,
    statsTimer: null,

    modelKey: undefined,     // undefined = not known yet, null = no model
    model: null,
    flavor: null,
    metricNames: [],
    cards: new Map(),        // name -> {el, value, sub, svg, empty}

    series: [],              // [{t, m: {name: value}}] oldest first
    latestMetrics: null,
    pendingMetrics: null,    // newest SSE metrics not drawn yet
    sseMetricCount: 0,
    historySeq: 0,
    clockOffset: 0,          // server time - client time, estimated from event timestamps

    events: [],              // newest last, bounded
    paused: false,
    newWhilePaused: 0,
    eventsDirty: false,
    chartsDirty: false,

    rates: [],
    flushPending: false,
    lastFlush: 0,
    hiddenSince: null,
  };

  /* ------------------------------------------------------------ formatting */

  const nf4 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });
  const nf3 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });
  const nfInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const nfFeat = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4, useGrouping: false });

  function fmt(v, nf = nf4) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'boolean') return String(v);
    if (typeof v !== 'number') return String(v);
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e12)) return v.toExponential(2).replace('e+', 'e');
    return nf.format(v);
  }
  const fmtCount = (v) => (typeof v === 'number' && Number.isFinite(v) ? nfInt.format(v) : '—');

  function pad(n, w = 2) { return String(n).padStart(w, '0'); }
  function fmtClock(t, ms = false) {
    const d = new Date(t * 1000);
    const s = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return ms ? `${s}.${pad(d.getMilliseconds(), 3)}` : s;
  }
  function fmtDuration(s) {
    if (typeof s !== 'number' || !Number.isFinite(s)) return '—';
    s = Math.max(0, s);
    if (s < 60) return `${Math.floor(s)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }
  function fmtAgo(t) {
    if (typeof t !== 'number') return '—';
    const s = Date.now() / 1000 + state.clockOffset - t;
    if (s < 5) return 'just now';
    return `${fmtDuration(s).replace(/ \d+ s$/, '')} ago`;
  }
  function fmtValue(v, nf = nf4) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'number') return fmt(v, nf);
    if (typeof v === 'string') return v;
    return JSON.stringify(v);
  }
  function topClass(proba) {
    let best = null;
    let bestP = -Infinity;
    for (const [k, p] of Object.entries(proba)) {
      if (typeof p === 'number' && p > bestP) { best = k; bestP = p; }
    }
    return best === null ? null : [best, bestP];
  }
  function isProba(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function summariseFeatures(f) {
    if (!f || typeof f !== 'object') return ['', ''];
    const entries = Object.entries(f);
    const shown = entries.slice(0, 3).map(([k, v]) => `${k}=${fmtValue(v, nfFeat)}`);
    let text = shown.join('  ');
    if (entries.length > 3) text += `  +${entries.length - 3}`;
    let full = entries.map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join('\n');
    if (full.length > 2000) full = full.slice(0, 2000) + '\n…';
    return [text, full];
  }

  /* ------------------------------------------------------------ API */

  class AuthError extends Error {}

  function readToken() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function withToken(path) {
    return state.token ? `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(state.token)}` : path;
  }
  async function api(path, opts = {}) {
    const headers = Object.assign({}, opts.headers || {});
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    const res = await fetch(path, Object.assign({}, opts, { headers, cache: 'no-store' }));
    if (res.status === 401) {
      needToken();
      throw new AuthError('unauthorized');
    }
    return res;
  }
  async function getJSON(path) {
    const res = await api(path);
    if (!res.ok) {
      const err = new Error(`${path}: HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    return res.json();
  }

  /* ------------------------------------------------------------ connection */

  function setConn(s) {
    state.conn = s;
    const el = $('#connection');
    el.dataset.state = s;
    $('#connection-text').textContent = {
      live: 'live',
      reconnecting: 'reconnecting…',
      connecting: 'connecting…',
      unauthorized: 'token needed',
    }[s] || s;
    el.title = s === 'live' ? 'Streaming from the server' : '';
    $('main').dataset.stale = String(s !== 'live');
    if (s === 'live') state.everLive = true;
  }

  function closeStreams() {
    for (const k of ['esMetrics', 'esEvents']) {
      if (state[k]) {
        state[k].onopen = state[k].onerror = state[k].onmessage = null;
        state[k].close();
        state[k] = null;
      }
    }
  }

  function checkLive() {
    const m = state.esMetrics;
    const e = state.esEvents;
    if (!state.authNeeded && m && e && m.readyState === 1 && e.readyState === 1) {
      state.reconnectDelay = 500;
      setConn('live');
    }
  }

  function onStreamError() {
    // Take over from the browser's own retry so that we can resync history and stats
    // once the server is back (and notice a 401 instead of retrying forever).
    if (state.authNeeded) return;
    closeStreams();
    setConn(state.everLive ? 'reconnecting' : 'connecting');
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (state.reconnectTimer || state.authNeeded) return;
    const delay = state.reconnectDelay;
    state.reconnectDelay = Math.min(Math.round(state.reconnectDelay * 1.5), 4000);
    state.reconnectTimer = setTimeout(async () => {
      state.reconnectTimer = null;
      try {
        const r = await fetch('/api/health', { cache: 'no-store' });
        if (!r.ok) throw new Error(`health ${r.status}`);
      } catch (e) {
        scheduleReconnect();
        return;
      }
      connect();
    }, delay);
  }

  function openStreams() {
    closeStreams();
    const m = new EventSource(withToken('/api/stream/metrics'));
    m.onopen = checkLive;
    m.onerror = onStreamError;
    // Messages can arrive thousands of times a second: keep the raw text, parse at flush time.
    m.onmessage = (e) => {
      state.pendingMetrics = e.data;
      state.sseMetricCount += 1;
      scheduleFlush();
    };
    state.esMetrics = m;

    const ev = new EventSource(withToken('/api/stream/events'));
    ev.onopen = checkLive;
    ev.onerror = onStreamError;
    // Only the newest MAX_ROWS events are ever shown: keep them raw, parse the survivors at flush.
    const onEvent = (kind) => (e) => {
      state.events.push({ kind, raw: e.data, seen: Date.now() / 1000 });
      if (state.events.length > MAX_ROWS * 2) state.events.splice(0, state.events.length - MAX_ROWS);
      if (state.paused) state.newWhilePaused += 1;
      state.eventsDirty = true;
      scheduleFlush();
    };
    ev.addEventListener('predict', onEvent('predict'));
    ev.addEventListener('learn', onEvent('learn'));
    ev.addEventListener('model', (e) => {
      let desc = null;
      try { desc = JSON.parse(e.data); } catch (err) { /* ignore */ }
      if (desc && typeof desc === 'object') applyModel(desc);
      refreshStats().catch(() => {});
    });
    ev.addEventListener('delete', () => {
      applyModel(null);
      refreshStats().catch(() => {});
    });
    state.esEvents = ev;
  }

  async function connect() {
    closeStreams();
    if (state.conn !== 'live') setConn(state.everLive ? 'reconnecting' : 'connecting');
    let stats;
    try {
      stats = await getJSON('/api/stats');
    } catch (e) {
      if (!(e instanceof AuthError)) scheduleReconnect();
      return;
    }
    openStreams();
    applyStats(stats, true);
  }

  /* ------------------------------------------------------------ token */

  function needToken() {
    if (state.authNeeded) return;
    state.authNeeded = true;
    closeStreams();
    setConn('unauthorized');
    const form = $('#token-form');
    form.hidden = false;
    $('#token-button').hidden = false;
    const input = $('#token-input');
    input.value = '';
    input.focus();
  }

  function setupToken() {
    $('#token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const token = $('#token-input').value.trim();
      state.token = token;
      try {
        if (token) localStorage.setItem(TOKEN_KEY, token);
        else localStorage.removeItem(TOKEN_KEY);
      } catch (err) { /* private mode */ }
      $('#token-form').hidden = true;
      state.authNeeded = false;
      state.reconnectDelay = 500;
      renderSnippets();
      connect();
    });
    $('#token-button').addEventListener('click', () => {
      const form = $('#token-form');
      form.hidden = !form.hidden;
      if (!form.hidden) $('#token-input').focus();
    });
    if (state.token) $('#token-button').hidden = false;
  }

  /* ------------------------------------------------------------ stats and model */

  function modelKey(m) {
    return m ? `${m.name}|${m.uploaded_at}|${m.class}|${m.flavor}` : null;
  }

  async function refreshStats() {
    const stats = await getJSON('/api/stats');
    applyStats(stats, false);
    return stats;
  }

  function applyStats(s, resync) {
    const changed = applyModel(s.model || null);
    if (resync && !changed && s.model) loadHistory();
    renderModel(s.model || null, s);
    renderRates(s);
  }

  // Returns true when the model changed (and history is being reloaded).
  function applyModel(m) {
    const key = modelKey(m);
    state.model = m;
    if (key === state.modelKey) return false;
    state.modelKey = key;
    state.flavor = m ? m.flavor : null;
    state.series = [];
    state.pendingMetrics = null;
    state.latestMetrics = null;
    buildCards(m ? METRICS[m.flavor] || [] : []);
    $('#empty-state').hidden = !!m;
    $('#metrics-section').hidden = !m;
    $('#events-section').hidden = !m;
    renderModel(m, null);
    if (m) loadHistory();
    state.chartsDirty = true;
    scheduleFlush();
    return true;
  }

  async function loadHistory() {
    const seq = ++state.historySeq;
    const countAtStart = state.sseMetricCount;
    let history;
    let current = null;
    try {
      [history, current] = await Promise.all([
        getJSON('/api/metrics/history'),
        getJSON('/api/metrics').catch((e) => (e instanceof AuthError ? Promise.reject(e) : null)),
      ]);
    } catch (e) {
      return;
    }
    if (seq !== state.historySeq || !state.model) return;
    const pts = (history && Array.isArray(history.points) ? history.points : [])
      .filter((p) => p && typeof p.t === 'number' && p.metrics)
      .map((p) => ({ t: p.t, n: p.n, m: p.metrics }));
    const lastT = pts.length ? pts[pts.length - 1].t : -Infinity;
    const live = state.series.filter((p) => p.live && p.t > lastT);
    state.series = pts.concat(live);
    trimSeries();
    if (state.sseMetricCount === countAtStart) {
      // No live message since the request went out: the fetched values are the freshest.
      if (current && typeof current === 'object') state.latestMetrics = current;
      else if (pts.length) state.latestMetrics = pts[pts.length - 1].m;
    }
    // The server leaves out metrics a model cannot feed (e.g. LogLoss without predict_proba_one):
    // the cards follow the metrics it actually reports.
    if (current && typeof current === 'object') syncCards(Object.keys(current));
    state.chartsDirty = true;
    scheduleFlush();
  }

  function syncCards(names) {
    if (names.length === state.metricNames.length && names.every((n, i) => n === state.metricNames[i])) return;
    buildCards(names);
    state.chartsDirty = true;
  }

  function trimSeries() {
    // Keep recent points at full resolution, thin the older half when over budget.
    while (state.series.length > MAX_POINTS) {
      const half = Math.floor(state.series.length / 2);
      const older = state.series.slice(0, half).filter((_, i) => i % 2 === 0);
      state.series = older.concat(state.series.slice(half));
    }
  }

  function renderModel(m, stats) {
    const cls = $('#model-class');
    if (m) {
      cls.textContent = m.class || m.name || 'model';
      cls.title = m.class || '';
      $('#model-flavor').textContent = m.flavor || '—';
      $('#model-library').textContent = [m.library, m.library_version].filter(Boolean).join(' ') || '—';
      const up = $('#model-uploaded');
      up.textContent = fmtAgo(m.uploaded_at);
      up.title = typeof m.uploaded_at === 'number' ? new Date(m.uploaded_at * 1000).toLocaleString() : '';
      $('#model-predictions').textContent = fmtCount(m.predictions);
      $('#model-learns').textContent = fmtCount(m.learns);
      $('#model-pending').textContent = fmtCount(m.pending);
    } else {
      cls.textContent = 'no model loaded';
      cls.title = '';
      $('#model-flavor').textContent = 'none';
      for (const id of ['#model-library', '#model-uploaded', '#model-predictions', '#model-learns', '#model-pending']) {
        $(id).textContent = '—';
      }
    }
    if (stats) $('#server-uptime').textContent = fmtDuration(stats.uptime_s);
  }

  function renderRates(s) {
    const rates = s.rates || {};
    const lat = s.latency_ms || {};
    const p = typeof rates.predict === 'number' ? rates.predict : null;
    const l = typeof rates.learn === 'number' ? rates.learn : null;
    const rp = $('#rate-predict');
    const rl = $('#rate-learn');
    rp.textContent = fmt(p);
    rp.dataset.raw = p === null ? '' : String(p);
    rl.textContent = fmt(l);
    rl.dataset.raw = l === null ? '' : String(l);
    for (const route of ['predict', 'learn']) {
      const r = lat[route] || {};
      for (const q of ['p50', 'p99']) {
        const el = $(`#lat-${route}-${q}`);
        const v = typeof r[q] === 'number' ? r[q] : null;
        el.replaceChildren(document.createTextNode(fmt(v, nf3)));
        if (v !== null) {
          const u = document.createElement('span');
          u.className = 'unit';
          u.textContent = 'ms';
          el.appendChild(u);
        }
        el.dataset.raw = v === null ? '' : String(v);
      }
    }
    $('#subscribers').textContent = fmtCount(s.subscribers);
    $('#expired').textContent = fmtCount(s.expired);
    state.rates.push({ p: p || 0, l: l || 0 });
    if (state.rates.length > MAX_RATES) state.rates.shift();
    drawRates();
  }

  function drawRates() {
    const svg = $('#rate-chart');
    const w = svg.clientWidth || 300;
    const h = svg.clientHeight || 60;
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    const data = state.rates;
    const max = Math.max(1e-9, ...data.map((d) => Math.max(d.p, d.l)));
    const nodes = [];
    const top = 14;
    const bottom = h - 1;
    nodes.push(el('line', { class: 'gridline', x1: 0, x2: w, y1: bottom, y2: bottom }));
    const step = w / (MAX_RATES - 1);
    const x0 = w - (data.length - 1) * step;
    for (const [key, color] of [['p', 'var(--predict)'], ['l', 'var(--learn)']]) {
      if (data.length < 2 || max <= 1e-9) break;
      let d = '';
      data.forEach((pt, i) => {
        const x = x0 + i * step;
        const y = bottom - (pt[key] / max) * (bottom - top);
        d += `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
      });
      const area = `${d}L${(x0 + (data.length - 1) * step).toFixed(1)},${bottom}L${x0.toFixed(1)},${bottom}Z`;
      nodes.push(el('path', { class: 'area', d: area, fill: color }));
      nodes.push(el('path', { class: 'line', d, stroke: color }));
    }
    const peak = Math.max(0, ...data.map((d) => Math.max(d.p, d.l)));
    if (data.length > 1 && peak > 0) {
      nodes.push(el('text', { x: w, y: 8, 'text-anchor': 'end' }, `peak ${fmt(peak, nf3)}/s`));
    }
    svg.replaceChildren(...nodes);
    const last = data[data.length - 1];
    svg.setAttribute('aria-label', last
      ? `Throughput over the last ${data.length} samples: ${fmt(last.p)} predictions per second and ${fmt(last.l)} learns per second now`
      : 'Throughput history: no data yet');
  }

  async function pollStats() {
    clearTimeout(state.statsTimer);
    if (!state.authNeeded && state.conn === 'live') {
      try {
        await refreshStats();
      } catch (e) {
        if (!(e instanceof AuthError) && !(e && e.status)) onStreamError();
      }
    } else if (state.model) {
      // Keep relative times ("2 min ago") moving while disconnected.
      renderModel(state.model, null);
    }
    state.statsTimer = setTimeout(pollStats, STATS_MS);
  }

  /* ------------------------------------------------------------ metric cards and charts */

  function el(tag, attrs = {}, text) {
    const n = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function buildCards(names) {
    state.metricNames = names.slice();
    state.cards.clear();
    const root = $('#metrics');
    const frag = document.createDocumentFragment();
    names.forEach((name, i) => {
      const card = document.createElement('article');
      card.className = 'card metric';
      card.dataset.metric = name;
      card.dataset.points = '0';
      card.style.setProperty('--metric-color', COLORS[i % COLORS.length]);
      card.setAttribute('aria-label', `${name} metric`);
      const head = document.createElement('header');
      head.className = 'card-head';
      const h = document.createElement('h3');
      h.textContent = name;
      const hint = document.createElement('span');
      hint.className = 'hint';
      hint.textContent = LOWER_IS_BETTER.has(name) ? 'lower is better' : 'higher is better';
      head.append(h, hint);
      const value = document.createElement('div');
      value.className = 'value na';
      value.dataset.raw = '';
      value.textContent = '—';
      const sub = document.createElement('div');
      sub.className = 'sub';
      sub.textContent = 'waiting for the first learn';
      const chart = document.createElement('div');
      chart.className = 'chart';
      const svg = document.createElementNS(SVGNS, 'svg');
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', `${name}: no data yet`);
      const empty = document.createElement('div');
      empty.className = 'chart-empty';
      empty.textContent = 'no points yet';
      chart.append(svg, empty);
      card.append(head, value, sub, chart);
      frag.appendChild(card);
      state.cards.set(name, { card, value, sub, svg, empty, color: COLORS[i % COLORS.length] });
    });
    root.replaceChildren(frag);
  }

  function renderMetrics() {
    const latest = state.latestMetrics || {};
    for (const [name, c] of state.cards) {
      const v = latest[name];
      const has = typeof v === 'number';
      c.value.textContent = has ? fmt(v) : '—';
      c.value.dataset.raw = has ? String(v) : '';
      c.value.classList.toggle('na', !has);
      c.value.title = has ? String(v) : 'not defined yet';
      drawChart(name, c);
    }
  }

  function drawChart(name, c) {
    const pts = [];
    for (const p of state.series) {
      const v = p.m ? p.m[name] : undefined;
      pts.push(typeof v === 'number' && Number.isFinite(v) ? [p.t, v] : [p.t, null]);
    }
    const defined = pts.filter((p) => p[1] !== null);
    c.card.dataset.points = String(defined.length);
    c.empty.hidden = defined.length > 0;

    const svg = c.svg;
    const w = Math.max(50, svg.clientWidth || 300);
    const h = Math.max(40, svg.clientHeight || 120);
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    const current = state.latestMetrics ? state.latestMetrics[name] : undefined;
    const currentText = typeof current === 'number' ? fmt(current) : 'not defined yet';
    svg.setAttribute('aria-label', `${name} over time, ${defined.length} points; current value ${currentText}`);

    if (!defined.length) {
      svg.replaceChildren();
      c.sub.textContent = 'waiting for the first learn';
      return;
    }

    let lo = Infinity;
    let hi = -Infinity;
    for (const [, v] of defined) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
      const padv = Math.abs(hi) * 0.05 || 0.5;
      lo -= padv; hi += padv;
    } else {
      const padv = (hi - lo) * 0.06;
      hi += padv;
      lo = lo >= 0 && lo - padv < 0 ? 0 : lo - padv;
    }
    const t0 = defined[0][0];
    const t1 = defined[defined.length - 1][0];
    const top = 6;
    const axisH = 16;
    const bottom = h - axisH;
    const ticks = [0, 0.5, 1].map((frac) => [frac, fmt(lo + (hi - lo) * (1 - frac), nf3)]);
    const left = Math.max(...ticks.map(([, s]) => s.length)) * 6.2 + 10;
    const right = w - 6;
    const X = (t) => (t1 === t0 ? (left + right) / 2 : left + ((t - t0) / (t1 - t0)) * (right - left));
    const Y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);

    const nodes = [];
    // Grid lines with their values (top, middle, bottom).
    for (const [frac, label] of ticks) {
      const y = top + (bottom - top) * frac;
      nodes.push(el('line', { class: 'gridline', x1: left, x2: w, y1: y.toFixed(1), y2: y.toFixed(1) }));
      nodes.push(el('text', { x: left - 6, y: (y + 3.5).toFixed(1), 'text-anchor': 'end' }, label));
    }
    // Line (broken at undefined values) and area under it.
    let d = '';
    let area = '';
    let segStart = null;
    let prevX = null;
    for (const [t, v] of pts) {
      if (t < t0 || t > t1) continue;
      if (v === null) {
        if (segStart !== null) area += `L${prevX.toFixed(1)},${bottom}L${segStart.toFixed(1)},${bottom}Z`;
        segStart = null;
        continue;
      }
      const x = X(t);
      const y = Y(v);
      if (segStart === null) {
        d += `M${x.toFixed(1)},${y.toFixed(1)}`;
        area += `M${x.toFixed(1)},${y.toFixed(1)}`;
        segStart = x;
      } else {
        d += `L${x.toFixed(1)},${y.toFixed(1)}`;
        area += `L${x.toFixed(1)},${y.toFixed(1)}`;
      }
      prevX = x;
    }
    if (segStart !== null) area += `L${prevX.toFixed(1)},${bottom}L${segStart.toFixed(1)},${bottom}Z`;
    nodes.push(el('path', { class: 'area', d: area, fill: c.color }));
    nodes.push(el('path', { class: 'line', d, stroke: c.color }));
    const [lt, lv] = defined[defined.length - 1];
    nodes.push(el('circle', { cx: X(lt).toFixed(1), cy: Y(lv).toFixed(1), r: 3.2, fill: c.color }));
    // Time axis: first and last timestamps.
    nodes.push(el('text', { x: left, y: h - 2 }, fmtClock(t0)));
    if (t1 !== t0) nodes.push(el('text', { x: w, y: h - 2, 'text-anchor': 'end' }, fmtClock(t1)));
    svg.replaceChildren(...nodes);

    // Change over the window shown.
    const first = defined[0][1];
    if (defined.length > 1) {
      // Relative change over the window; absolute when it started at zero.
      const change = first !== 0 ? (lv - first) / Math.abs(first) : lv - first;
      const better = LOWER_IS_BETTER.has(name) ? change < 0 : change > 0;
      const arrow = change === 0 ? '→' : change < 0 ? '▼' : '▲';
      c.sub.replaceChildren();
      const span = document.createElement('span');
      span.className = change === 0 ? '' : better ? 'ok' : 'ko';
      span.textContent = first !== 0
        ? `${arrow} ${fmt(Math.abs(change) * 100, nf3)}%`
        : `${arrow} ${change > 0 ? '+' : '−'}${fmt(Math.abs(change), nf3)}`;
      c.sub.append(span, document.createTextNode(` since ${fmtClock(t0)} · ${fmtCount(defined.length)} points`));
    } else {
      c.sub.textContent = `${fmtCount(defined.length)} point${defined.length === 1 ? '' : 's'}`;
    }
  }

  /* ------------------------------------------------------------ events table */

  function td(cls, text, title) {
    const c = document.createElement('td');
    if (cls) c.className = cls;
    if (text !== undefined && text !== null) c.textContent = text;
    if (title) c.title = title;
    return c;
  }

  function predictionCell(pred) {
    const cell = td('c-num');
    if (isProba(pred)) {
      const top = topClass(pred);
      if (top) {
        cell.textContent = top[0];
        const p = document.createElement('span');
        p.className = 'proba';
        p.textContent = `${fmt(top[1] * 100, nf3)}%`;
        cell.appendChild(p);
        cell.title = Object.entries(pred).map(([k, v]) => `${k}: ${v}`).join('\n');
      } else {
        cell.textContent = '—';
      }
    } else {
      cell.textContent = fmtValue(pred);
      if (typeof pred === 'number') cell.title = String(pred);
    }
    return cell;
  }

  function errorCell(ev) {
    if (ev.kind !== 'learn' || !('ground_truth' in ev)) return td('c-num', '');
    const y = ev.ground_truth;
    const p = ev.prediction;
    if (isProba(p)) {
      const top = topClass(p);
      if (!top) return td('c-num', '—');
      const ok = String(top[0]) === String(y);
      const c = td('c-num', ok ? '✓' : '✗');
      c.classList.add(ok ? 'ok' : 'ko');
      c.setAttribute('aria-label', ok ? 'correct' : 'wrong');
      return c;
    }
    if (typeof p === 'number' && typeof y === 'number' && state.flavor !== 'binary' && state.flavor !== 'multiclass') {
      const e = Math.abs(y - p);
      return td('c-num', fmt(e), String(e));
    }
    if (p === null || p === undefined) return td('c-num', '—');
    const ok = String(p) === String(y);
    const c = td('c-num', ok ? '✓' : '✗');
    c.classList.add(ok ? 'ok' : 'ko');
    c.setAttribute('aria-label', ok ? 'correct' : 'wrong');
    return c;
  }

  function eventRow(ev) {
    if (ev._row) return ev._row;
    const tr = document.createElement('tr');
    tr.dataset.kind = ev.kind;
    const hasId = ev.id !== undefined && ev.id !== null;
    if (hasId) tr.dataset.id = String(ev.id);
    tr.appendChild(td('c-time', typeof ev.t === 'number' ? fmtClock(ev.t, true) : '—'));
    const kindCell = td('c-kind');
    const pill = document.createElement('span');
    pill.className = `kind kind-${ev.kind}`;
    pill.textContent = ev.kind;
    kindCell.appendChild(pill);
    tr.appendChild(kindCell);
    tr.appendChild(td('c-id', hasId ? String(ev.id) : '—', hasId ? String(ev.id) : ''));
    const [feat, full] = summariseFeatures(ev.features);
    tr.appendChild(td('c-feat', feat, full));
    tr.appendChild(predictionCell(ev.prediction));
    tr.appendChild(td('c-num', ev.kind === 'learn' ? fmtValue(ev.ground_truth) : ''));
    tr.appendChild(errorCell(ev));
    ev._row = tr;
    return tr;
  }

  function parseEvent(ev) {
    if (ev.raw === undefined) return ev;
    try {
      const data = JSON.parse(ev.raw);
      if (data && typeof data === 'object') Object.assign(ev, data);
    } catch (err) { /* shown as an empty row */ }
    ev.raw = undefined;
    return ev;
  }

  function renderEvents() {
    state.eventsDirty = false;
    const shown = state.events.slice(-MAX_ROWS).map(parseEvent);
    const newest = shown[shown.length - 1];
    if (newest && typeof newest.t === 'number') {
      // Server clock minus ours, used to timestamp live chart points on the server's clock.
      const off = newest.t - newest.seen;
      state.clockOffset = Math.abs(off - state.clockOffset) > 5 ? off : state.clockOffset * 0.8 + off * 0.2;
    }
    const rows = shown.reverse().map(eventRow);
    $('#events').replaceChildren(...rows);
    $('#events-empty').hidden = rows.length > 0;
  }

  function setupPause() {
    const btn = $('#pause');
    btn.addEventListener('click', () => {
      state.paused = !state.paused;
      btn.setAttribute('aria-pressed', String(state.paused));
      btn.textContent = state.paused ? 'Resume' : 'Pause';
      btn.setAttribute('aria-label', state.paused ? 'Resume the live events table' : 'Pause the live events table');
      state.newWhilePaused = 0;
      $('#events-note').textContent = state.paused ? 'paused' : '';
      if (!state.paused) {
        state.eventsDirty = true;
        scheduleFlush();
      }
    });
  }

  /* ------------------------------------------------------------ flush loop */

  function scheduleFlush() {
    if (state.flushPending) return;
    state.flushPending = true;
    const wait = Math.max(0, state.lastFlush + FLUSH_MS - performance.now());
    setTimeout(() => requestAnimationFrame(flush), wait);
  }

  function serverNow() {
    return Date.now() / 1000 + state.clockOffset;
  }

  function flush() {
    state.flushPending = false;
    state.lastFlush = performance.now();
    let m = null;
    if (state.pendingMetrics !== null) {
      try { m = JSON.parse(state.pendingMetrics); } catch (err) { m = null; }
      state.pendingMetrics = null;
      // Accept both the bare metrics object and a {metrics: {...}} wrapper.
      if (m && m.metrics && typeof m.metrics === 'object') m = m.metrics;
      if (!m || typeof m !== 'object') m = null;
    }
    if (m) {
      state.latestMetrics = m;
      if (state.model) syncCards(Object.keys(m));
      let t = serverNow();
      const last = state.series[state.series.length - 1];
      if (last && t <= last.t) t = last.t + 1e-3;
      state.series.push({ t, m, live: true });
      trimSeries();
      state.chartsDirty = true;
    }
    if (state.chartsDirty) {
      state.chartsDirty = false;
      renderMetrics();
    }
    if (state.eventsDirty && !state.paused) renderEvents();
    if (state.paused && state.newWhilePaused) {
      $('#events-note').textContent = `paused · ${fmtCount(state.newWhilePaused)} new`;
    }
  }

  /* ------------------------------------------------------------ empty state */

  function renderSnippets() {
    const origin = location.origin;
    const auth = state.token ? ", headers={'Authorization': 'Bearer <token>'}" : '';
    $('#snippet-upload code').textContent = [
      'import dill, requests',
      'from river import compose, linear_model, preprocessing',
      '',
      'model = compose.Pipeline(',
      '    preprocessing.StandardScaler(),',
      '    linear_model.LinearRegression()',
      ')',
      `requests.post('${origin}/api/model', data=dill.dumps(model)${auth})`,
    ].join('\n');
    $('#snippet-use code').textContent = [
      `requests.post('${origin}/api/predict', json={'id': 42, 'features': {'x': 1.5}}${auth})`,
      `requests.post('${origin}/api/learn', json={'id': 42, 'ground_truth': 3.1}${auth})`,
    ].join('\n');
  }

  function setupCopy() {
    document.querySelectorAll('[data-copy]').forEach((btn) => {
      btn.addEventListener('click', async () => {
        const text = document.getElementById(btn.dataset.copy).textContent;
        let ok = false;
        try {
          await navigator.clipboard.writeText(text);
          ok = true;
        } catch (e) {
          const ta = document.createElement('textarea');
          ta.value = text;
          ta.setAttribute('readonly', '');
          ta.style.position = 'fixed';
          ta.style.opacity = '0';
          document.body.appendChild(ta);
          ta.select();
          try { ok = document.execCommand('copy'); } catch (err) { ok = false; }
          ta.remove();
        }
        btn.textContent = ok ? 'Copied' : 'Select and copy';
        setTimeout(() => { btn.textContent = 'Copy'; }, 1600);
      });
    });
  }

  /* ------------------------------------------------------------ start */

  function start() {
    setupToken();
    setupPause();
    setupCopy();
    renderSnippets();
    $('#metrics-section').hidden = true;
    $('#events-section').hidden = true;
    if ('ResizeObserver' in window) {
      let w = 0;
      new ResizeObserver((entries) => {
        const nw = Math.round(entries[0].contentRect.width);
        if (nw !== w) {
          w = nw;
          state.chartsDirty = true;
          scheduleFlush();
          drawRates();
        }
      }).observe($('main'));
    }
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) {
        state.hiddenSince = Date.now();
      } else {
        // While hidden, animation frames do not run and no points are added: resync.
        if (state.hiddenSince && Date.now() - state.hiddenSince > 5000 && state.model && state.conn === 'live') loadHistory();
        state.hiddenSince = null;
      }
    });
    connect();
    state.statsTimer = setTimeout(pollStats, STATS_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
