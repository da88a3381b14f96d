/* chantilly dashboard: plain JS, no dependencies, no build step.
 *
 * Data flow
 *   GET /api/stats            polled every STATS_MS: model panel, throughput, latency
 *   GET /api/metrics/history  on load, on model change and after every reconnect: seeds the charts
 *   GET /api/metrics          with the history: the current values, and which metrics the model has
 *   SSE /api/stream/metrics   one message per learn: buffered, at most one chart point per redraw
 *   SSE /api/stream/events    predict / learn / model / delete: buffered, table redrawn per redraw
 * Nothing is drawn per message: parts keep what arrives and mark themselves dirty, and one
 * throttle redraws the dirty ones at most every REDRAW_MS, on an animation frame.
 *
 * Parts, each the only owner of its state and its elements (the dashboard at the end wires them)
 *   api          the token; JSON requests carrying it; a 401 calls back
 *   connection   the two EventSources, the live / reconnecting / … badge, reconnection with backoff
 *   tokenForm    the token form and its button
 *   emptyState   the no-model panel: snippets with this server's address, copy buttons
 *   modelPanel   the model's description and counters
 *   throughput   rates and their sparkline (the last MAX_RATES samples); latency: its table
 *   modelView    one per uploaded model: its metric series and cards, replaced with the model
 *   eventsTable  the live events and Pause / Resume
 */
'use strict';

(() => {
  const TOKEN_KEY = 'chantilly-token';
  const MAX_POINTS = 1000;     // chart points kept client-side (older half gets thinned)
  const MAX_ROWS = 50;         // rows in the live events table
  const MAX_RATES = 120;       // throughput samples (~3 minutes)
  const REDRAW_MS = 250;       // at most 4 redraws per second
  const STATS_MS = 1500;
  const RETRY_MIN_MS = 500;    // reconnection backoff: first delay, grows 1.5x up to the max
  const RETRY_MAX_MS = 4000;
  const COLORS = ['var(--c1)', 'var(--c2)', 'var(--c3)', 'var(--c4)', 'var(--c5)'];

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
  function fmtAgo(t, now) {
    if (typeof t !== 'number') return '—';
    const s = now - t;
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

  /** The JSON object in `raw`, or null for anything else (bad JSON included). */
  function parseObject(raw) {
    try {
      const v = JSON.parse(raw);
      return v && typeof v === 'object' ? v : null;
    } catch (err) {
      return null;
    }
  }

  const numberOrNull = (v) => (typeof v === 'number' ? v : null);

  /* ------------------------------------------------------------ DOM helpers */

  const $ = (sel) => document.querySelector(sel);
  const SVGNS = 'http://www.w3.org/2000/svg';

  function htmlNode(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function svgNode(tag, attrs = {}, text) {
    const n = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  }

  /** A number shown as text, its exact value in data-raw ('' when there is none). */
  function showNumber(el, v, nf = nf4) {
    el.textContent = fmt(v, nf);
    el.dataset.raw = v === null ? '' : String(v);
  }

  /* ------------------------------------------------------------ redraws and the server's clock */

  /** Calls `draw` on an animation frame, at most once every `ms` however often it is requested. */
  function createThrottle(ms, draw) {
    let pending = false;
    let last = 0;
    const run = () => {
      pending = false;
      last = performance.now();
      draw();
    };
    return {
      request() {
        if (pending) return;
        pending = true;
        setTimeout(() => requestAnimationFrame(run), Math.max(0, last + ms - performance.now()));
      },
    };
  }

  /** The server's clock, estimated from the timestamps of the events it sends. Live chart
   *  points are timestamped with it, so that they line up with the history's. */
  function createServerClock() {
    let offset = 0;  // server time - client time, s
    return {
      now: () => Date.now() / 1000 + offset,
      observe(serverT, clientT) {
        const off = serverT - clientT;
        offset = Math.abs(off - offset) > 5 ? off : offset * 0.8 + off * 0.2;
      },
    };
  }

  /* ------------------------------------------------------------ API */

  class AuthError extends Error {}

  /** Requests to the server with the token, if any; `onUnauthorized` hears of every 401. */
  function createApi(onUnauthorized) {
    let token = '';
    try { token = localStorage.getItem(TOKEN_KEY) || ''; } catch (err) { /* storage disabled */ }
    return {
      get token() { return token; },
      setToken(value) {
        token = value;
        try {
          if (value) localStorage.setItem(TOKEN_KEY, value);
          else localStorage.removeItem(TOKEN_KEY);
        } catch (err) { /* private mode */ }
      },
      // EventSource cannot send headers: a stream takes the token in its query string.
      streamUrl(path) {
        return token ? `${path}?token=${encodeURIComponent(token)}` : path;
      },
      async getJSON(path) {
        const headers = token ? { Authorization: `Bearer ${token}` } : {};
        const res = await fetch(path, { headers, cache: 'no-store' });
        if (res.status === 401) {
          onUnauthorized();
          throw new AuthError('unauthorized');
        }
        if (!res.ok) {
          const err = new Error(`${path}: HTTP ${res.status}`);
          err.status = res.status;
          throw err;
        }
        return res.json();
      },
      async healthy() {
        try {
          return (await fetch('/api/health', { cache: 'no-store' })).ok;
        } catch (err) {
          return false;
        }
      },
    };
  }

  /* ------------------------------------------------------------ connection */

  const STATUS_TEXT = {
    live: 'live',
    reconnecting: 'reconnecting…',
    connecting: 'connecting…',
    unauthorized: 'token needed',
  };

  /** The two event streams and the badge that tells whether they are live. `on.connect(stats)`
   *  hears of every (re)connection, with fresh stats to resync from; `on.metrics(raw)` and
   *  `on.event(kind, raw)` get each message's unparsed data. */
  function createConnection(api, on) {
    let status = 'connecting';
    let everLive = false;     // once live, a lost connection says "reconnecting", not "connecting"
    let authNeeded = false;   // after a 401, nothing is tried until authorize()
    let metrics = null;       // the EventSources while open
    let events = null;
    let retryTimer = null;
    let retryDelay = RETRY_MIN_MS;

    function show(s) {
      status = s;
      const badge = $('#connection');
      badge.dataset.state = s;
      badge.title = s === 'live' ? 'Streaming from the server' : '';
      $('#connection-text').textContent = STATUS_TEXT[s];
      $('main').dataset.stale = String(s !== 'live');
      if (s === 'live') everLive = true;
    }
    const showLost = () => show(everLive ? 'reconnecting' : 'connecting');

    function close() {
      for (const source of [metrics, events]) {
        if (source) {
          source.onopen = source.onerror = source.onmessage = null;
          source.close();
        }
      }
      metrics = events = null;
    }

    function listen(path) {
      const source = new EventSource(api.streamUrl(path));
      source.onopen = checkLive;
      source.onerror = fail;
      return source;
    }

    function open() {
      close();
      metrics = listen('/api/stream/metrics');
      metrics.onmessage = (e) => on.metrics(e.data);
      events = listen('/api/stream/events');
      for (const kind of ['predict', 'learn', 'model', 'delete']) {
        events.addEventListener(kind, (e) => on.event(kind, e.data));
      }
    }

    function checkLive() {
      const isOpen = (source) => source && source.readyState === EventSource.OPEN;
      if (!authNeeded && isOpen(metrics) && isOpen(events)) {
        retryDelay = RETRY_MIN_MS;
        show('live');
      }
    }

    // Takes over from the browser's own retry, so that history and stats are resynced once the
    // server is back, and a 401 is noticed instead of retried forever.
    function fail() {
      if (authNeeded) return;
      close();
      showLost();
      retry();
    }

    function retry() {
      if (retryTimer || authNeeded) return;
      const delay = retryDelay;
      retryDelay = Math.min(Math.round(retryDelay * 1.5), RETRY_MAX_MS);
      retryTimer = setTimeout(async () => {
        retryTimer = null;
        if (await api.healthy()) connect();
        else retry();
      }, delay);
    }

    async function connect() {
      close();
      if (status !== 'live') showLost();
      let stats;
      try {
        stats = await api.getJSON('/api/stats');
      } catch (e) {
        if (!(e instanceof AuthError)) retry();
        return;
      }
      open();
      on.connect(stats);
    }

    return {
      connect,
      fail,
      get live() { return status === 'live' && !authNeeded; },
      /** Stops everything until authorize(); false if it already had. */
      refuse() {
        if (authNeeded) return false;
        authNeeded = true;
        close();
        show('unauthorized');
        return true;
      },
      authorize() {
        authNeeded = false;
        retryDelay = RETRY_MIN_MS;
        connect();
      },
    };
  }

  /* ------------------------------------------------------------ token form */

  /** The form that asks for the token; `onSaved` runs once a new one is in `api`. */
  function createTokenForm(api, onSaved) {
    const form = $('#token-form');
    const input = $('#token-input');
    const button = $('#token-button');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      api.setToken(input.value.trim());
      form.hidden = true;
      onSaved();
    });
    button.addEventListener('click', () => {
      form.hidden = !form.hidden;
      if (!form.hidden) input.focus();
    });
    if (api.token) button.hidden = false;
    return {
      ask() {
        form.hidden = false;
        button.hidden = false;
        input.value = '';
        input.focus();
      },
    };
  }

  /* ------------------------------------------------------------ empty state */

  /** The panel shown while no model is served: how to upload one, to this very server. */
  function createEmptyState(api) {
    for (const btn of document.querySelectorAll('[data-copy]')) {
      btn.addEventListener('click', async () => {
        const ok = await copyText(document.getElementById(btn.dataset.copy).textContent);
        btn.textContent = ok ? 'Copied' : 'Select and copy';
        setTimeout(() => { btn.textContent = 'Copy'; }, 1600);
      });
    }
    return {
      renderSnippets() {
        const origin = location.origin;
        const auth = api.token ? ", headers={'Authorization': 'Bearer <token>'}" : '';
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
      },
    };
  }

  /** Puts `text` on the clipboard; falls back to a hidden textarea where the Clipboard API is
   *  missing (plain http on another host than localhost). Resolves to whether it worked. */
  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      const ta = document.createElement('textarea');
      ta.value = text;
      ta.setAttribute('readonly', '');
      ta.style.position = 'fixed';
      ta.style.opacity = '0';
      document.body.appendChild(ta);
      ta.select();
      let ok = false;
      try { ok = document.execCommand('copy'); } catch (err) { ok = false; }
      ta.remove();
      return ok;
    }
  }

  /* ------------------------------------------------------------ model panel */

  const modelKey = (m) => (m ? `${m.name}|${m.uploaded_at}|${m.class}|${m.flavor}` : null);

  /** The model's description and counters, and the server's uptime. */
  function createModelPanel(clock) {
    let shown = null;  // the description on screen, re-rendered by tick()
    const counters = ['#model-library', '#model-uploaded', '#model-predictions', '#model-learns', '#model-pending'];

    function render(m) {
      shown = m;
      const cls = $('#model-class');
      if (!m) {
        cls.textContent = 'no model loaded';
        cls.title = '';
        $('#model-flavor').textContent = 'none';
        for (const id of counters) $(id).textContent = '—';
        return;
      }
      cls.textContent = m.class || m.name || 'model';
      cls.title = m.class || '';
      $('#model-flavor').textContent = m.flavor || '—';
      $('#model-library').textContent = [m.library, m.library_version].filter(Boolean).join(' ') || '—';
      const up = $('#model-uploaded');
      up.textContent = fmtAgo(m.uploaded_at, clock.now());
      up.title = typeof m.uploaded_at === 'number' ? new Date(m.uploaded_at * 1000).toLocaleString() : '';
      $('#model-predictions').textContent = fmtCount(m.predictions);
      $('#model-learns').textContent = fmtCount(m.learns);
      $('#model-pending').textContent = fmtCount(m.pending);
    }

    return {
      render,
      showUptime(s) { $('#server-uptime').textContent = fmtDuration(s); },
      /** Keeps relative times ("2 min ago") moving while no stats come in. */
      tick() { if (shown) render(shown); },
    };
  }

  /* ------------------------------------------------------------ throughput and latency */

  /** Predictions and learns per second, now and over the last MAX_RATES stats polls. */
  function createThroughputCard() {
    const samples = [];  // {p, l} oldest first
    const svg = $('#rate-chart');

    function draw() {
      const { w, h } = fitViewBox(svg, 300, 60);
      const bottom = h - 1;
      const nodes = [svgNode('line', { class: 'gridline', x1: 0, x2: w, y1: bottom, y2: bottom })];
      const peak = Math.max(0, ...samples.map((d) => Math.max(d.p, d.l)));
      if (samples.length > 1 && peak > 0) {
        const step = w / (MAX_RATES - 1);
        const x0 = w - (samples.length - 1) * step;  // the newest sample sits at the right edge
        const scale = { x: (i) => x0 + i * step, y: (v) => bottom - (v / peak) * (bottom - 14), bottom };
        nodes.push(...linePaths(samples.map((d, i) => [i, d.p]), scale, 'var(--predict)'));
        nodes.push(...linePaths(samples.map((d, i) => [i, d.l]), scale, 'var(--learn)'));
        nodes.push(svgNode('text', { x: w, y: 8, 'text-anchor': 'end' }, `peak ${fmt(peak, nf3)}/s`));
      }
      svg.replaceChildren(...nodes);
      const last = samples[samples.length - 1];
      svg.setAttribute('aria-label', last
        ? `Throughput over the last ${samples.length} samples: ${fmt(last.p)} predictions per second and ${fmt(last.l)} learns per second now`
        : 'Throughput history: no data yet');
    }

    return {
      draw,
      update(rates = {}) {
        const p = numberOrNull(rates.predict);
        const l = numberOrNull(rates.learn);
        showNumber($('#rate-predict'), p);
        showNumber($('#rate-learn'), l);
        samples.push({ p: p || 0, l: l || 0 });
        if (samples.length > MAX_RATES) samples.shift();
        draw();
      },
    };
  }

  /** The latency table (p50 and p99 per route) and the counters under it. */
  function renderLatency(stats) {
    const latency = stats.latency_ms || {};
    for (const route of ['predict', 'learn']) {
      for (const q of ['p50', 'p99']) {
        const cell = $(`#lat-${route}-${q}`);
        const v = numberOrNull((latency[route] || {})[q]);
        cell.replaceChildren(document.createTextNode(fmt(v, nf3)));
        if (v !== null) cell.appendChild(htmlNode('span', 'unit', 'ms'));
        cell.dataset.raw = v === null ? '' : String(v);
      }
    }
    $('#subscribers').textContent = fmtCount(stats.subscribers);
    $('#expired').textContent = fmtCount(stats.expired);
  }

  /* ------------------------------------------------------------ charts */

  /** Sizes `svg`'s coordinates to its box in CSS pixels, `fallback` before layout; returns {w, h}. */
  function fitViewBox(svg, fallbackW, fallbackH, minW = 0, minH = 0) {
    const w = Math.max(minW, svg.clientWidth || fallbackW);
    const h = Math.max(minH, svg.clientHeight || fallbackH);
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    return { w, h };
  }

  /** Draws `pts` ([t, value or null], oldest first) as a line broken where a value is null,
   *  with the area under it, the newest value marked, and value and time axes. */
  function drawLineChart(svg, pts, color) {
    const size = fitViewBox(svg, 300, 120, 50, 40);
    const defined = pts.filter(([, v]) => v !== null);
    if (!defined.length) {
      svg.replaceChildren();
      return;
    }
    const scale = chartScales(defined, size);
    svg.replaceChildren(
      ...valueAxis(scale), ...linePaths(pts, scale, color), newestMarker(defined, scale, color), ...timeAxis(scale));
  }

  /** Where things go in a chart of `defined` points: the margins, three value ticks, x(t), y(v). */
  function chartScales(defined, { w, h }) {
    const [lo, hi] = valueRange(defined);
    const t0 = defined[0][0];
    const t1 = defined[defined.length - 1][0];
    const top = 6;
    const bottom = h - 16;  // room for the time axis
    const ticks = [0, 0.5, 1].map((frac) => ({
      y: top + (bottom - top) * frac,
      label: fmt(lo + (hi - lo) * (1 - frac), nf3),
    }));
    const left = Math.max(...ticks.map((tick) => tick.label.length)) * 6.2 + 10;  // room for the labels
    const right = w - 6;
    return {
      w, h, bottom, left, t0, t1, ticks,
      x: (t) => (t1 === t0 ? (left + right) / 2 : left + ((t - t0) / (t1 - t0)) * (right - left)),
      y: (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top),
    };
  }

  /** [lo, hi] around the values with some room, never below 0 for a series that is not; a
   *  flat series gets a band around its value. */
  function valueRange(defined) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const [, v] of defined) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
      const room = Math.abs(hi) * 0.05 || 0.5;
      return [lo - room, hi + room];
    }
    const room = (hi - lo) * 0.06;
    return [lo >= 0 && lo - room < 0 ? 0 : lo - room, hi + room];
  }

  /** Gridlines at the ticks, each with its value on the left. */
  function valueAxis({ ticks, left, w }) {
    return ticks.flatMap(({ y, label }) => [
      svgNode('line', { class: 'gridline', x1: left, x2: w, y1: y.toFixed(1), y2: y.toFixed(1) }),
      svgNode('text', { x: left - 6, y: (y + 3.5).toFixed(1), 'text-anchor': 'end' }, label),
    ]);
  }

  /** The first and last times under the chart. */
  function timeAxis({ t0, t1, left, w, h }) {
    const labels = [svgNode('text', { x: left, y: h - 2 }, fmtClock(t0))];
    if (t1 !== t0) labels.push(svgNode('text', { x: w, y: h - 2, 'text-anchor': 'end' }, fmtClock(t1)));
    return labels;
  }

  /** The area under the line and the line itself: one run per stretch of non-null values. */
  function linePaths(pts, { x, y, bottom }, color) {
    let line = '';
    let area = '';
    for (const run of definedRuns(pts)) {
      const d = `M${run.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('L')}`;
      line += d;
      area += `${d}L${x(run[run.length - 1][0]).toFixed(1)},${bottom}L${x(run[0][0]).toFixed(1)},${bottom}Z`;
    }
    return [svgNode('path', { class: 'area', d: area, fill: color }), svgNode('path', { class: 'line', d: line, stroke: color })];
  }

  /** The stretches of consecutive points whose value is not null. */
  function definedRuns(pts) {
    const runs = [];
    let run = null;
    for (const p of pts) {
      if (p[1] === null) {
        run = null;
      } else {
        if (!run) runs.push(run = []);
        run.push(p);
      }
    }
    return runs;
  }

  function newestMarker(defined, { x, y }, color) {
    const [t, v] = defined[defined.length - 1];
    return svgNode('circle', { cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 3.2, fill: color });
  }

  /* ------------------------------------------------------------ metric cards */

  // Whether less of a metric is better. The server sends metric names only; the metrics where
  // less is better are losses and errors: names that say Loss, Entropy or Error, and the
  // all-capital acronyms that end in E for error (MAE, RMSE, SMAPE, MSE, RMSLE).
  const lowerIsBetter = (name) => /Loss|Entropy|Error|^[A-Z]+E$/.test(name);

  /** The change from the first to the last of `defined`: relative, or absolute from a start at
   *  zero. `tone` is 'ok' when it is for the better, 'ko' for the worse, '' for none. */
  function describeChange(name, defined) {
    const first = defined[0][1];
    const last = defined[defined.length - 1][1];
    const change = first !== 0 ? (last - first) / Math.abs(first) : last - first;
    const better = lowerIsBetter(name) ? change < 0 : change > 0;
    const arrow = change === 0 ? '→' : change < 0 ? '▼' : '▲';
    return {
      tone: change === 0 ? '' : better ? 'ok' : 'ko',
      text: first !== 0
        ? `${arrow} ${fmt(Math.abs(change) * 100, nf3)}%`
        : `${arrow} ${change > 0 ? '+' : '−'}${fmt(Math.abs(change), nf3)}`,
    };
  }

  /** A card for one metric: its current value, its change, its line over time. A card is
   *  `{element, render(value, points)}`, points being [t, value or null] oldest first. */
  function createLineCard(name, color) {
    const element = htmlNode('article', 'card metric');
    element.dataset.metric = name;
    element.dataset.points = '0';
    element.style.setProperty('--metric-color', color);
    element.setAttribute('aria-label', `${name} metric`);
    const head = htmlNode('header', 'card-head');
    head.append(htmlNode('h3', '', name), htmlNode('span', 'hint', lowerIsBetter(name) ? 'lower is better' : 'higher is better'));
    const value = htmlNode('div', 'value na', '—');
    value.dataset.raw = '';
    const sub = htmlNode('div', 'sub', 'waiting for the first learn');
    const svg = svgNode('svg', { role: 'img', 'aria-label': `${name}: no data yet` });
    const empty = htmlNode('div', 'chart-empty', 'no points yet');
    const chart = htmlNode('div', 'chart');
    chart.append(svg, empty);
    element.append(head, value, sub, chart);

    function showValue(v) {
      const has = typeof v === 'number';
      value.textContent = has ? fmt(v) : '—';
      value.dataset.raw = has ? String(v) : '';
      value.classList.toggle('na', !has);
      value.title = has ? String(v) : 'not defined yet';
    }

    function showChange(defined) {
      if (defined.length < 2) {
        sub.textContent = defined.length ? '1 point' : 'waiting for the first learn';
        return;
      }
      const { tone, text } = describeChange(name, defined);
      const span = htmlNode('span', '', text);
      span.className = tone;
      sub.replaceChildren(span, ` since ${fmtClock(defined[0][0])} · ${fmtCount(defined.length)} points`);
    }

    return {
      element,
      render(v, pts) {
        const defined = pts.filter(([, x]) => x !== null);
        showValue(v);
        element.dataset.points = String(defined.length);
        empty.hidden = defined.length > 0;
        const current = typeof v === 'number' ? fmt(v) : 'not defined yet';
        svg.setAttribute('aria-label', `${name} over time, ${defined.length} points; current value ${current}`);
        drawLineChart(svg, pts, color);
        showChange(defined);
      },
    };
  }

  /** The cards in `root`, one per metric the server reports, in its order. Every metric is a
   *  number over time, shown by a line card; another kind of card would have the same shape,
   *  {element, render(value, points)}, and be chosen in sync(). */
  function createMetricCards(root) {
    let cards = new Map();  // metric name -> card
    return {
      sync(names) {
        const shown = [...cards.keys()];
        if (names.length === shown.length && names.every((n, i) => n === shown[i])) return;
        cards = new Map(names.map((name, i) => [name, createLineCard(name, COLORS[i % COLORS.length])]));
        root.replaceChildren(...[...cards.values()].map((card) => card.element));
      },
      render(latest, series) {
        for (const [name, card] of cards) card.render(latest[name], series.values(name));
      },
      clear() {
        cards = new Map();
        root.replaceChildren();
      },
    };
  }

  /* ------------------------------------------------------------ one model's metrics */

  /** Metric values over time, `{t, m: {name: value}, live}` oldest first, at most MAX_POINTS:
   *  the recent half at full resolution, the older half thinned when over budget. */
  function createMetricSeries() {
    let points = [];

    function thin() {
      while (points.length > MAX_POINTS) {
        const half = Math.floor(points.length / 2);
        points = points.slice(0, half).filter((_, i) => i % 2 === 0).concat(points.slice(half));
      }
    }

    return {
      /** Replaces everything with `history` ({t, m} oldest first) but the live points after it. */
      seed(history) {
        const lastT = history.length ? history[history.length - 1].t : -Infinity;
        points = history.concat(points.filter((p) => p.live && p.t > lastT));
        thin();
      },
      /** Adds the metrics of a live message at time `t` (nudged after the last point). */
      push(t, m) {
        const last = points[points.length - 1];
        points.push({ t: last && t <= last.t ? last.t + 1e-3 : t, m, live: true });
        thin();
      },
      /** `[t, value]` of one metric, value null where it is not a finite number. */
      values(name) {
        return points.map(({ t, m }) => [t, typeof m[name] === 'number' && Number.isFinite(m[name]) ? m[name] : null]);
      },
    };
  }

  /** What the dashboard shows of one uploaded model: its metric series and cards. A new upload
   *  gets a new view, so nothing of the previous model can leak into its charts. */
  function createModelView(model, { api, clock, redraw }) {
    const series = createMetricSeries();
    const cards = createMetricCards($('#metrics'));
    let latest = null;       // the newest metrics, shown as the cards' values
    let pending = null;      // the newest live message not drawn yet, unparsed
    let received = 0;        // live messages so far: tells whether a history answer is the freshest
    let historyCalls = 0;    // an answer to any but the newest loadHistory() is dropped
    let dirty = true;
    let closed = false;

    function takeLive(m) {
      if (!m) return;
      latest = m;
      cards.sync(Object.keys(m));
      series.push(clock.now(), m);
      dirty = true;
    }

    async function loadHistory() {
      const call = ++historyCalls;
      const receivedBefore = received;
      let history;
      let current;
      try {
        [history, current] = await Promise.all([
          api.getJSON('/api/metrics/history'),
          api.getJSON('/api/metrics').catch((e) => (e instanceof AuthError ? Promise.reject(e) : null)),
        ]);
      } catch (e) {
        return;
      }
      if (call !== historyCalls || closed) return;
      const points = (history && Array.isArray(history.points) ? history.points : [])
        .filter((p) => p && typeof p.t === 'number' && p.metrics)
        .map((p) => ({ t: p.t, m: p.metrics }));
      series.seed(points);
      const fresh = current && typeof current === 'object' ? current : null;
      if (received === receivedBefore) {
        // No live message since the requests went out: what they fetched is the newest.
        latest = fresh || (points.length ? points[points.length - 1].m : latest);
      }
      // The server leaves out metrics a model cannot feed (LogLoss without predict_proba_one):
      // the cards follow the metrics it reports.
      if (fresh) cards.sync(Object.keys(fresh));
      dirty = true;
      redraw.request();
    }

    return {
      key: modelKey(model),
      flavor: model.flavor,
      loadHistory,
      /** A live metrics message: only the newest one before a redraw is drawn. */
      receive(raw) {
        pending = raw;
        received += 1;
        redraw.request();
      },
      invalidate() { dirty = true; },
      flush() {
        if (pending !== null) {
          takeLive(parseObject(pending));
          pending = null;
        }
        if (dirty) {
          dirty = false;
          cards.render(latest || {}, series);
        }
      },
      close() {
        closed = true;
        cards.clear();
      },
    };
  }

  /* ------------------------------------------------------------ events table */

  function td(cls, text, title) {
    const c = htmlNode('td', cls, text === null ? undefined : text);
    if (title) c.title = title;
    return c;
  }

  function verdictCell(ok) {
    const c = td('c-num', ok ? '✓' : '✗');
    c.classList.add(ok ? 'ok' : 'ko');
    c.setAttribute('aria-label', ok ? 'correct' : 'wrong');
    return c;
  }

  function predictionCell(pred) {
    const cell = td('c-num');
    if (!isProba(pred)) {
      cell.textContent = fmtValue(pred);
      if (typeof pred === 'number') cell.title = String(pred);
      return cell;
    }
    const top = topClass(pred);
    if (!top) {
      cell.textContent = '—';
      return cell;
    }
    cell.textContent = top[0];
    cell.appendChild(htmlNode('span', 'proba', `${fmt(top[1] * 100, nf3)}%`));
    cell.title = Object.entries(pred).map(([k, v]) => `${k}: ${v}`).join('\n');
    return cell;
  }

  // A regressor's error is the distance to the label; a classifier's is right or wrong.
  function errorCell(kind, ev, flavor) {
    if (kind !== 'learn' || !('ground_truth' in ev)) return td('c-num', '');
    const y = ev.ground_truth;
    const p = ev.prediction;
    if (isProba(p)) {
      const top = topClass(p);
      return top ? verdictCell(String(top[0]) === String(y)) : td('c-num', '—');
    }
    if (typeof p === 'number' && typeof y === 'number' && flavor !== 'binary' && flavor !== 'multiclass') {
      const e = Math.abs(y - p);
      return td('c-num', fmt(e), String(e));
    }
    if (p === null || p === undefined) return td('c-num', '—');
    return verdictCell(String(p) === String(y));
  }

  /** The row of one event: `kind` is predict or learn, `ev` what the server sent. */
  function eventRow(kind, ev, flavor) {
    const tr = document.createElement('tr');
    tr.dataset.kind = kind;
    const id = ev.id !== undefined && ev.id !== null ? String(ev.id) : null;
    if (id !== null) tr.dataset.id = id;
    const kindCell = td('c-kind');
    kindCell.appendChild(htmlNode('span', `kind kind-${kind}`, kind));
    const [feat, full] = summariseFeatures(ev.features);
    tr.append(
      td('c-time', typeof ev.t === 'number' ? fmtClock(ev.t, true) : '—'),
      kindCell,
      td('c-id', id === null ? '—' : id, id === null ? '' : id),
      td('c-feat', feat, full),
      predictionCell(ev.prediction),
      td('c-num', kind === 'learn' ? fmtValue(ev.ground_truth) : ''),
      errorCell(kind, ev, flavor));
    return tr;
  }

  /** The newest MAX_ROWS predictions and learns, newest on top, with Pause / Resume. Events are
   *  kept raw and parsed only when shown: most never are when thousands arrive per second.
   *  Shown events also tell `clock` the server's time. `flavorOf()` is the served model's. */
  function createEventsTable({ clock, redraw, flavorOf }) {
    let events = [];  // {kind, raw, seen, data, row} newest last; data and row filled once shown
    let paused = false;
    let unseen = 0;   // arrived while paused
    let dirty = false;
    const pause = $('#pause');
    const note = $('#events-note');

    pause.addEventListener('click', () => {
      paused = !paused;
      pause.setAttribute('aria-pressed', String(paused));
      pause.textContent = paused ? 'Resume' : 'Pause';
      pause.setAttribute('aria-label', paused ? 'Resume the live events table' : 'Pause the live events table');
      unseen = 0;
      note.textContent = paused ? 'paused' : '';
      if (!paused) {
        dirty = true;
        redraw.request();
      }
    });

    function parsed(ev) {
      if (ev.data === null) ev.data = parseObject(ev.raw) || {};  // bad JSON: shown as an empty row
      return ev;
    }

    function render() {
      dirty = false;
      const shown = events.slice(-MAX_ROWS).map(parsed);
      const newest = shown[shown.length - 1];
      if (newest && typeof newest.data.t === 'number') clock.observe(newest.data.t, newest.seen);
      const rows = shown.reverse().map((ev) => ev.row || (ev.row = eventRow(ev.kind, ev.data, flavorOf())));
      $('#events').replaceChildren(...rows);
      $('#events-empty').hidden = rows.length > 0;
    }

    return {
      push(kind, raw) {
        events.push({ kind, raw, seen: Date.now() / 1000, data: null, row: null });
        if (events.length > MAX_ROWS * 2) events = events.slice(-MAX_ROWS);
        if (paused) unseen += 1;
        dirty = true;
        redraw.request();
      },
      flush() {
        if (dirty && !paused) render();
        if (paused && unseen) note.textContent = `paused · ${fmtCount(unseen)} new`;
      },
    };
  }

  /* ------------------------------------------------------------ the dashboard */

  /** Wires the parts together: what the server says goes to the part that shows it. */
  function createDashboard() {
    const clock = createServerClock();
    const redraw = createThrottle(REDRAW_MS, flush);
    const api = createApi(needToken);
    const connection = createConnection(api, {
      connect: (stats) => applyStats(stats, true),
      metrics: (raw) => { if (view) view.receive(raw); },
      event: onEvent,
    });
    const emptyState = createEmptyState(api);
    const tokenForm = createTokenForm(api, () => {
      emptyState.renderSnippets();
      connection.authorize();
    });
    const modelPanel = createModelPanel(clock);
    const throughput = createThroughputCard();
    const eventsTable = createEventsTable({ clock, redraw, flavorOf: () => (view ? view.flavor : null) });
    let shownKey;     // the model on screen: undefined before the server first answers, null for none
    let view = null;  // its view, while there is one

    function flush() {
      if (view) view.flush();
      eventsTable.flush();
    }

    function needToken() {
      if (connection.refuse()) tokenForm.ask();
    }

    function onEvent(kind, raw) {
      if (kind === 'predict' || kind === 'learn') {
        eventsTable.push(kind, raw);
        return;
      }
      const model = kind === 'model' ? parseObject(raw) : null;
      if (kind === 'delete' || model) showModel(model);
      refreshStats().catch(() => {});
    }

    // Returns true when the model changed (and a new view is loading its history).
    function showModel(m) {
      const key = modelKey(m);
      if (key === shownKey) return false;
      shownKey = key;
      if (view) view.close();
      view = m ? createModelView(m, { api, clock, redraw }) : null;
      $('#empty-state').hidden = !!m;
      $('#metrics-section').hidden = !m;
      $('#events-section').hidden = !m;
      modelPanel.render(m);
      if (view) view.loadHistory();
      redraw.request();
      return true;
    }

    function applyStats(stats, resync) {
      const m = stats.model || null;
      if (!showModel(m) && resync && view) view.loadHistory();
      modelPanel.render(m);
      modelPanel.showUptime(stats.uptime_s);
      throughput.update(stats.rates);
      renderLatency(stats);
    }

    async function refreshStats() {
      applyStats(await api.getJSON('/api/stats'), false);
    }

    async function pollStats() {
      if (connection.live) {
        try {
          await refreshStats();
        } catch (e) {
          if (!(e instanceof AuthError) && !(e && e.status)) connection.fail();
        }
      } else {
        modelPanel.tick();
      }
      setTimeout(pollStats, STATS_MS);
    }

    function redrawOnResize() {
      let width = 0;
      new ResizeObserver((entries) => {
        const w = Math.round(entries[0].contentRect.width);
        if (w === width) return;
        width = w;
        if (view) view.invalidate();
        redraw.request();
        throughput.draw();
      }).observe($('main'));
    }

    // While the page is hidden, animation frames do not run and no points are added: resync.
    function resyncWhenShown() {
      let hiddenSince = null;
      document.addEventListener('visibilitychange', () => {
        if (document.hidden) {
          hiddenSince = Date.now();
          return;
        }
        if (hiddenSince && Date.now() - hiddenSince > 5000 && view && connection.live) view.loadHistory();
        hiddenSince = null;
      });
    }

    return {
      start() {
        emptyState.renderSnippets();
        $('#metrics-section').hidden = true;
        $('#events-section').hidden = true;
        if ('ResizeObserver' in window) redrawOnResize();
        resyncWhenShown();
        connection.connect();
        setTimeout(pollStats, STATS_MS);
      },
    };
  }

  const start = () => createDashboard().start();
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
