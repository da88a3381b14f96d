/* chantilly dashboard: plain JS, no dependencies, no build step.
 *
 * Data flow
 *   GET /api/stats                    polled every STATS_MS: every model (the picker), the shown
 *                                     model's panel and throughput, latency; then the headline of
 *                                     each model that learned since: GET /api/metrics?model=
 *   GET /api/metrics/history?model=   on load, on a model change and after every reconnect: seeds the charts
 *   GET /api/metrics?model=           with the history: the current values, and which metrics the model has
 *   SSE /api/stream/metrics?model=    the shown model's metrics after each learn: buffered, at most
 *                                     one chart point per redraw
 *   SSE /api/stream/events            every model's predict / learn / forecast / rank, and model /
 *                                     delete: kept raw, the recent ones per model; the shown model's
 *                                     feed its view and the table
 * Nothing is drawn per message: parts keep what arrives and mark themselves dirty, and one
 * throttle redraws the dirty ones at most every REDRAW_MS, on an animation frame.
 *
 * Parts, each the only owner of its state and its elements (the dashboard at the end wires them)
 *   api          the token; JSON requests carrying it; a 401 calls back
 *   connection   the two EventSources (metrics follow the shown model), the live / reconnecting /
 *                … badge, reconnection with backoff
 *   tokenForm    the token form and its button
 *   emptyState   the no-model panel: snippets with this server's address, copy buttons
 *   picker       every model with its headline metric, live; which one is shown
 *   eventLog     every model's recent events, raw: a view opened later starts from them
 *   modelPanel   the shown model's description and counters
 *   throughput   rates and their sparkline (the last MAX_RATES samples); latency: its table
 *   modelView    one per shown model: its metric series, what its paradigm traces from the events
 *                (forecast against actual, recent anomaly scores) and the cards that show them
 *   eventsTable  the shown model's live events and Pause / Resume
 */
'use strict';

(() => {
  const TOKEN_KEY = 'chantilly-token';
  const MAX_POINTS = 1000;     // chart points kept client-side (older half gets thinned)
  const MAX_ROWS = 50;         // rows in the live events table
  const MAX_RATES = 120;       // throughput samples (~3 minutes)
  const MAX_LOG = 600;         // recent events kept per model, for a view opened later
  const MAX_SCORES = 500;      // anomaly scores in the histogram
  const MAX_OBSERVED = 200;    // observations in the forecast chart
  const MAX_IDS = 5000;        // ids of shown predictions, whose learn is not counted again
  const BINS = 24;             // histogram bins
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
    if (typeof f === 'string') return [f.length > 80 ? `${f.slice(0, 80)}…` : f, f.length > 2000 ? `${f.slice(0, 2000)}…` : f];
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
  const finiteOrNull = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

  /** The first values of a list as text ("1, 2, 3 +4"), and all of them for a tooltip. */
  function summariseList(list, show = (v) => fmtValue(v)) {
    if (!Array.isArray(list)) return ['—', ''];
    const text = list.slice(0, 3).map(show).join(', ');
    const full = list.slice(0, 200).map((v) => (typeof v === 'number' ? String(v) : fmtValue(v))).join('\n');
    return [list.length > 3 ? `${text} +${list.length - 3}` : text, list.length > 200 ? `${full}\n…` : full];
  }

  /** `path` with `?model=name` (or `&model=`), unchanged for no name. */
  function withModel(path, name) {
    if (name === null || name === undefined) return path;
    return `${path}${path.includes('?') ? '&' : '?'}model=${encodeURIComponent(name)}`;
  }

  /** An event as the parts share it: its kind, its data unparsed until someone needs it. */
  const eventEntry = (kind, raw) => ({ kind, raw, seen: Date.now() / 1000, data: null, row: null });

  /** The data of an event entry, parsed once (bad JSON: an empty object). */
  function dataOf(entry) {
    if (entry.data === null) entry.data = parseObject(entry.raw) || {};
    return entry.data;
  }

  // The server writes every event's data as {"t":...,"model":"<name>",...}: the name is read
  // from that prefix without parsing the rest (features can be long). Anything else is parsed.
  const EVENT_MODEL = /^\{"t":[-+.\deE]+,"model":"([A-Za-z0-9._-]{1,64})"/;
  function modelOf(entry) {
    const found = EVENT_MODEL.exec(entry.raw);
    if (found) return found[1];
    const data = dataOf(entry);
    return typeof data.model === 'string' ? data.model : null;
  }

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
        return token ? `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : path;
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
   *  hears of every (re)connection, with fresh stats to resync from, before the streams open;
   *  `on.metrics(raw)` and `on.event(kind, raw)` get each message's unparsed data. The metrics
   *  stream is `on.metricsPath()`'s, asked again at every (re)connection and by follow(). */
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

    function openMetrics() {
      if (metrics) {
        metrics.onopen = metrics.onerror = metrics.onmessage = null;
        metrics.close();
      }
      metrics = listen(on.metricsPath());
      metrics.onmessage = (e) => on.metrics(e.data);
    }

    function open() {
      close();
      openMetrics();
      events = listen('/api/stream/events');
      for (const kind of ['predict', 'learn', 'forecast', 'rank', 'model', 'delete']) {
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
      on.connect(stats);
      open();
    }

    return {
      connect,
      fail,
      /** Moves the metrics stream to on.metricsPath() (while the streams are closed, the next
       *  connection will). */
      follow() { if (metrics) openMetrics(); },
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

  /** The shown model's description and counters, and the server's uptime. */
  function createModelPanel(clock) {
    let shown = null;  // the description on screen, re-rendered by tick()
    const counters = ['#model-library', '#model-uploaded', '#model-predictions', '#model-learns', '#model-pending'];

    function render(m) {
      shown = m;
      const cls = $('#model-class');
      $('#model-name').textContent = m && m.name ? m.name : '';
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

  /** Predictions and learns per second of the shown model (of the server while there is none),
   *  now and over the last MAX_RATES stats polls. */
  function createThroughputCard() {
    let samples = [];  // {p, l} oldest first
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
      /** Starts over for another model, `name` (null: the server's). */
      reset(name) {
        samples = [];
        $('#throughput-scope').textContent = name ? `${name} · last 10 s` : 'last 10 s';
        draw();
      },
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
      const d = runPath(run, x, y);
      line += d;
      area += `${d}L${x(run[run.length - 1][0]).toFixed(1)},${bottom}L${x(run[0][0]).toFixed(1)},${bottom}Z`;
    }
    return [svgNode('path', { class: 'area', d: area, fill: color }), svgNode('path', { class: 'line', d: line, stroke: color })];
  }

  const runPath = (run, x, y) => `M${run.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('L')}`;

  /** A line alone (no area), broken where a value is null; `cls` adds to the class ('dashed'). */
  function plainLine(pts, { x, y }, color, cls = '') {
    const d = definedRuns(pts).map((run) => runPath(run, x, y)).join('');
    return svgNode('path', { class: `line ${cls}`.trim(), d, stroke: color });
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

  /** `values` counted in `bins` equal bins from their lowest to their highest, stretched to
   *  take in `marks` too: {edges, counts}, bin i holding edges[i] <= v < edges[i + 1] (the last
   *  bin holds its upper edge too). A single value gets a band around it. */
  function histogram(values, marks, bins = BINS) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values.concat(marks)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!(hi - lo > 1e-12 * Math.max(1, Math.abs(hi)))) {
      const room = Math.abs(hi) * 0.05 || 0.5;
      lo -= room;
      hi += room;
    }
    const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + ((hi - lo) * i) / bins));
    const counts = new Array(bins).fill(0);
    for (const v of values) counts[binOf(v, edges)] += 1;
    return { edges, counts };
  }

  /** The bin of `v`: by arithmetic, then checked against the edges themselves, so that a value
   *  on an edge goes where the edges (shown in data-lo / data-hi) say. */
  function binOf(v, edges) {
    const last = edges.length - 2;
    let i = Math.floor(((v - edges[0]) / (edges[last + 1] - edges[0])) * (last + 1));
    i = Math.max(0, Math.min(last, Number.isFinite(i) ? i : 0));
    while (i > 0 && v < edges[i]) i -= 1;
    while (i < last && v >= edges[i + 1]) i += 1;
    return i;
  }

  /** Draws a histogram's bars, each with its edges and count in data-lo / data-hi / data-count,
   *  and `marks` ({value, color}) as vertical lines. */
  function drawHistogram(svg, { edges, counts }, marks) {
    const { w, h } = fitViewBox(svg, 600, 130, 80, 60);
    const peak = Math.max(1, ...counts);
    const top = 6;
    const bottom = h - 16;
    const ticks = [{ y: top, label: fmtCount(peak) }, { y: bottom, label: '0' }];
    const left = Math.max(...ticks.map((tick) => tick.label.length)) * 6.2 + 10;
    const right = w - 6;
    const lo = edges[0];
    const hi = edges[edges.length - 1];
    const x = (v) => left + ((v - lo) / (hi - lo)) * (right - left);
    const y = (c) => bottom - (c / peak) * (bottom - top);
    const bars = counts.map((c, i) => {
      const x0 = x(edges[i]);
      return svgNode('rect', {
        class: 'bar', x: (x0 + 0.5).toFixed(1), y: y(c).toFixed(1),
        width: Math.max(1, x(edges[i + 1]) - x0 - 1).toFixed(1), height: (bottom - y(c)).toFixed(1),
        'data-lo': String(edges[i]), 'data-hi': String(edges[i + 1]), 'data-count': String(c),
      });
    });
    const lines = marks.filter((m) => m.value !== null).map((m) => svgNode('line', {
      class: 'mark', x1: x(m.value).toFixed(1), x2: x(m.value).toFixed(1), y1: top, y2: bottom, stroke: m.color,
    }));
    svg.replaceChildren(
      ...valueAxis({ ticks, left, w }), ...bars, ...lines,
      svgNode('text', { x: left, y: h - 2 }, fmt(lo, nf3)),
      svgNode('text', { x: right, y: h - 2, 'text-anchor': 'end' }, fmt(hi, nf3)));
  }

  /** Draws observations ({t, actual, forecast}, oldest first, evenly spaced) as the actual line
   *  and the dashed line of the forecasts made before them, and `ahead` (the newest forecast
   *  asked for, or null) dotted after the last observation. */
  function drawForecastChart(svg, observed, ahead) {
    const size = fitViewBox(svg, 600, 160, 80, 60);
    const n = observed.length;
    const actual = observed.map((p, i) => [i, p.actual]);
    const forecast = observed.map((p, i) => [i, p.forecast]);
    const future = ahead ? [[n - 1, n ? observed[n - 1].actual : null], ...ahead.map((v, i) => [n + i, v])] : [];
    const defined = [...actual, ...forecast, ...future].filter(([, v]) => v !== null).sort((a, b) => a[0] - b[0]);
    if (!defined.length) {
      svg.replaceChildren();
      return;
    }
    const scale = chartScales(defined, size);
    const nodes = [...valueAxis(scale),
      plainLine(forecast, scale, 'var(--c3)', 'dashed'), plainLine(actual, scale, 'var(--c1)')];
    if (future.length) nodes.push(plainLine(future, scale, 'var(--c3)', 'dotted'));
    const last = actual.filter(([, v]) => v !== null);
    if (last.length) nodes.push(newestMarker(last, scale, 'var(--c1)'));
    if (n && typeof observed[0].t === 'number') {
      nodes.push(svgNode('text', { x: scale.left, y: size.h - 2 }, fmtClock(observed[0].t)));
      if (n > 1 && typeof observed[n - 1].t === 'number') {
        nodes.push(svgNode('text', { x: scale.x(n - 1), y: size.h - 2, 'text-anchor': 'end' },
          fmtClock(observed[n - 1].t)));
      }
    }
    if (future.length > 1) nodes.push(svgNode('text', { x: size.w, y: size.h - 2, 'text-anchor': 'end' }, `+${future.length - 1}`));
    svg.replaceChildren(...nodes);
  }

  /* ------------------------------------------------------------ metric cards */

  // Whether more of a metric is better: the server says so for the metrics it describes
  // (`bigger_is_better`, null where neither is, as for score quantiles). For the others, the
  // metrics where less is better are losses and errors: names that say Loss, Entropy or Error,
  // and the all-capital acronyms that end in E for error (MAE, RMSE, SMAPE, MSE, RMSLE).
  const lowerIsBetter = (name) => /Loss|Entropy|Error|^[A-Z]+E$/.test(name);

  /** `direction(name)` of a model's metrics: true when more is better, false when less, null
   *  for neither. */
  function metricDirections(model) {
    const described = new Map((Array.isArray(model.metrics) ? model.metrics : [])
      .filter((m) => m && typeof m.name === 'string')
      .map((m) => [m.name, typeof m.bigger_is_better === 'boolean' ? m.bigger_is_better : null]));
    return (name) => (described.has(name) ? described.get(name) : !lowerIsBetter(name));
  }

  const HINTS = new Map([[true, 'higher is better'], [false, 'lower is better'], [null, '']]);

  /** The change from the first to the last of `defined`: relative, or absolute from a start at
   *  zero. `tone` is 'ok' when it is for the better, 'ko' for the worse, '' for none or when
   *  neither way is better. */
  function describeChange(direction, defined) {
    const first = defined[0][1];
    const last = defined[defined.length - 1][1];
    const change = first !== 0 ? (last - first) / Math.abs(first) : last - first;
    const better = direction ? change > 0 : change < 0;
    const arrow = change === 0 ? '→' : change < 0 ? '▼' : '▲';
    return {
      tone: change === 0 || direction === null ? '' : better ? 'ok' : 'ko',
      text: first !== 0
        ? `${arrow} ${fmt(Math.abs(change) * 100, nf3)}%`
        : `${arrow} ${change > 0 ? '+' : '−'}${fmt(Math.abs(change), nf3)}`,
    };
  }

  /** The frame every card shares: an article with a head (title, hint), in `element`. */
  function cardFrame(title, hint, color, className = '') {
    const element = htmlNode('article', `card metric ${className}`.trim());
    element.style.setProperty('--metric-color', color);
    const head = htmlNode('header', 'card-head');
    head.append(htmlNode('h3', '', title), htmlNode('span', 'hint', hint));
    element.append(head);
    return element;
  }

  /** A card for one metric: its current value, its change, its line over time; `render(value,
   *  points)`, points being [t, value or null] oldest first. */
  function createLineCard(name, color, direction) {
    const element = cardFrame(name, HINTS.get(direction), color);
    element.dataset.metric = name;
    element.dataset.points = '0';
    element.setAttribute('aria-label', `${name} metric`);
    const value = htmlNode('div', 'value na', '—');
    value.dataset.raw = '';
    const sub = htmlNode('div', 'sub', 'waiting for the first learn');
    const svg = svgNode('svg', { role: 'img', 'aria-label': `${name}: no data yet` });
    const empty = htmlNode('div', 'chart-empty', 'no points yet');
    const chart = htmlNode('div', 'chart');
    chart.append(svg, empty);
    element.append(value, sub, chart);

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
      const { tone, text } = describeChange(direction, defined);
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

  /** The line card of a metric that also has one value per step ahead (MAE, with MAE+1 …
   *  MAE+h): the mean over time, and the steps as small bars under it. */
  function createHorizonCard(name, steps, color, direction) {
    const card = createLineCard(name, color, direction);
    card.element.classList.add('horizon');
    const bars = htmlNode('div', 'step-bars');
    bars.setAttribute('role', 'img');
    const cells = steps.map((step) => {
      const cell = htmlNode('div', 'step');
      cell.dataset.metric = step;
      cell.dataset.raw = '';
      bars.append(cell);
      return cell;
    });
    const axis = htmlNode('div', 'step-axis');
    axis.append(htmlNode('span', '', steps[0].slice(name.length)), htmlNode('span', '', 'by step ahead'),
      htmlNode('span', '', steps[steps.length - 1].slice(name.length)));
    const strip = htmlNode('div', 'steps-strip');
    strip.append(bars, axis);
    card.element.append(strip);

    return {
      element: card.element,
      render({ latest, series }) {
        card.render(latest[name], series.values(name));
        const values = steps.map((step) => finiteOrNull(latest[step]));
        const peak = Math.max(0, ...values.filter((v) => v !== null).map(Math.abs));
        cells.forEach((cell, i) => {
          const v = values[i];
          cell.dataset.raw = typeof latest[steps[i]] === 'number' ? String(latest[steps[i]]) : '';
          cell.style.height = `${v === null || peak === 0 ? 0 : Math.max(4, (Math.abs(v) / peak) * 100)}%`;
          cell.title = `${steps[i]}: ${fmt(v)}`;
        });
        const listed = steps.slice(0, 12).map((step, i) => `${step.slice(name.length)} ${fmt(values[i])}`).join(', ');
        bars.setAttribute('aria-label', `${name} by step ahead: ${listed}${steps.length > 12 ? ', …' : ''}`);
      },
    };
  }

  /** A legend entry: a swatch and a label. */
  function legendItem(label, color, cls) {
    const item = htmlNode('span', 'legend-item');
    const swatch = htmlNode('span', `swatch ${cls || ''}`.trim());
    swatch.style.background = color;
    swatch.style.color = color;  // the dashed and dotted swatches draw with it
    swatch.setAttribute('aria-hidden', 'true');
    item.append(swatch, label);
    return item;
  }

  /** Forecasting: the observed values against the forecasts made before them, from the learn
   *  events; the newest forecast asked for (POST /api/forecast) after them while it is newer.
   *  Its points are in data-actual and data-forecast (JSON lists, oldest first). */
  function createForecastCard(horizon) {
    const element = cardFrame('Forecast against actual', horizon ? `horizon ${horizon}` : '', 'var(--c1)', 'wide forecast');
    element.dataset.card = 'forecast';
    const legend = htmlNode('div', 'legend');
    legend.append(legendItem('actual', 'var(--c1)'), legendItem('forecast made one step before', 'var(--c3)', 'swatch-dashed'),
      legendItem('newest forecast', 'var(--c3)', 'swatch-dotted'));
    const svg = svgNode('svg', { role: 'img', 'aria-label': 'Forecast against actual: no observations yet' });
    const empty = htmlNode('div', 'chart-empty', 'the observations learned from now on show here');
    const chart = htmlNode('div', 'chart');
    chart.append(svg, empty);
    const sub = htmlNode('div', 'sub', '');
    element.append(legend, chart, sub);

    return {
      element,
      render({ trace }) {
        const observed = trace.observed();
        const ahead = trace.ahead();
        element.dataset.actual = JSON.stringify(observed.map((p) => p.actual));
        element.dataset.forecast = JSON.stringify(observed.map((p) => p.forecast));
        element.dataset.ahead = JSON.stringify(ahead || []);
        empty.hidden = observed.length > 0 || !!ahead;
        drawForecastChart(svg, observed, ahead);
        const last = observed[observed.length - 1];
        const said = last
          ? `last ${fmtCount(observed.length)} observations; the latest is ${fmt(last.actual)}, forecast ${fmt(last.forecast)}`
          : 'no observations yet';
        const next = ahead ? `; next ${ahead.length}: ${ahead.slice(0, 12).map((v) => fmt(v)).join(', ')}` : '';
        svg.setAttribute('aria-label', `Forecast against actual: ${said}${next}`);
        sub.textContent = last ? `${said}${next}` : '';
      },
    };
  }

  const isQuantileName = (name) => /^score p\d+$/.test(name);
  const isSizeName = (name) => name.startsWith('size ');
  const QUANTILE_COLORS = ['var(--c2)', 'var(--c3)', 'var(--c4)', 'var(--c5)'];

  /** Anomaly detection: the recent scores as a histogram, the server's score quantiles
   *  (`quantiles`, since the upload) marked on it, and the verdicts of a filter counted. */
  function createScoreCard(quantiles) {
    const element = cardFrame('Score distribution', `last ${fmtCount(MAX_SCORES)} predictions and learns`, 'var(--c1)', 'wide scores');
    element.dataset.card = 'scores';
    const legend = htmlNode('div', 'legend');
    const marks = quantiles.map((name, i) => {
      const color = QUANTILE_COLORS[i % QUANTILE_COLORS.length];
      const value = htmlNode('span', 'num', '—');
      value.dataset.metric = name;
      value.dataset.raw = '';
      const item = legendItem(`${name.replace(/^score /, '')} `, color, 'swatch-mark');
      item.append(value);
      legend.append(item);
      return { name, color, value };
    });
    if (quantiles.length) legend.append(htmlNode('span', 'muted', 'since upload'));
    const svg = svgNode('svg', { role: 'img', 'aria-label': 'Score distribution: no scores yet' });
    const empty = htmlNode('div', 'chart-empty', 'the scores of predictions and learns from now on show here');
    const chart = htmlNode('div', 'chart');
    chart.append(svg, empty);
    const sub = htmlNode('div', 'sub', '');
    const verdicts = htmlNode('span', 'verdicts');
    element.append(legend, chart, sub);

    return {
      element,
      render({ latest, trace }) {
        const recent = trace.recent();
        const values = recent.map((s) => s.v);
        for (const m of marks) {
          const v = latest[m.name];
          m.value.textContent = fmt(finiteOrNull(v));
          m.value.dataset.raw = typeof v === 'number' ? String(v) : '';
        }
        const at = marks.map((m) => ({ value: finiteOrNull(latest[m.name]), color: m.color }));
        const judged = recent.filter((s) => s.anomaly !== null);
        const flagged = judged.filter((s) => s.anomaly).length;
        element.dataset.scores = String(values.length);
        element.dataset.verdicts = String(judged.length);
        element.dataset.anomalies = String(flagged);
        empty.hidden = values.length > 0;
        if (values.length) drawHistogram(svg, histogram(values, at.filter((m) => m.value !== null).map((m) => m.value)), at);
        else svg.replaceChildren();
        const verdict = judged.length
          ? `${fmtCount(flagged)} of ${fmtCount(judged.length)} predictions flagged as anomalies (${fmt((flagged / judged.length) * 100, nf3)}%)`
          : '';
        verdicts.textContent = verdict;
        verdicts.classList.toggle('ko', flagged > 0);
        sub.replaceChildren(`${fmtCount(values.length)} scores`, ...(verdict ? [' · ', verdicts] : []));
        const quantileText = marks.map((m, i) => `${m.name} ${fmt(at[i].value)}`).join(', ');
        svg.setAttribute('aria-label', values.length
          ? `Distribution of the last ${values.length} anomaly scores, from ${fmt(Math.min(...values))} to ${fmt(Math.max(...values))}`
            + `${quantileText ? `; ${quantileText}` : ''}${verdict ? `; ${verdict}` : ''}`
          : 'Score distribution: no scores yet');
      },
    };
  }

  /** The cluster of a "size N" metric, as its label; numbers sort as numbers. */
  const clusterOf = (name) => name.slice('size '.length);
  function byCluster(a, b) {
    const [x, y] = [clusterOf(a), clusterOf(b)];
    const numeric = /^-?\d+(\.\d+)?$/;
    if (numeric.test(x) && numeric.test(y)) return Number(x) - Number(y);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  /** Clustering: one bar per cluster, its size ("size N", learns assigned to it). */
  function createClusterCard(color) {
    const element = cardFrame('Cluster sizes', 'learns per cluster', color, 'clusters');
    element.dataset.card = 'clusters';
    const value = htmlNode('div', 'value na', '—');
    const sub = htmlNode('div', 'sub', 'waiting for the first learn');
    const list = htmlNode('ul', 'bars');
    list.setAttribute('aria-label', 'Cluster sizes: none yet');
    element.append(value, sub, list);
    let rows = new Map();  // metric name -> {row, fill, count}

    function rowFor(name) {
      const row = htmlNode('li', 'bar-row');
      row.dataset.metric = name;
      const track = htmlNode('span', 'bar-track');
      const fill = htmlNode('span', 'bar-fill');
      track.append(fill);
      const count = htmlNode('span', 'bar-count num');
      row.append(htmlNode('span', 'bar-label', clusterOf(name)), track, count);
      return { row, fill, count };
    }

    return {
      element,
      render({ latest }) {
        const names = Object.keys(latest).filter(isSizeName).sort(byCluster);
        if (names.length !== rows.size || names.some((n) => !rows.has(n))) {
          rows = new Map(names.map((n) => [n, rows.get(n) || rowFor(n)]));
          list.replaceChildren(...[...rows.values()].map((r) => r.row));
        }
        const sizes = names.map((n) => finiteOrNull(latest[n]) || 0);
        const total = sizes.reduce((a, b) => a + b, 0);
        const peak = Math.max(0, ...sizes);
        names.forEach((n, i) => {
          const { row, fill, count } = rows.get(n);
          row.dataset.raw = typeof latest[n] === 'number' ? String(latest[n]) : '';
          fill.style.width = `${peak ? (sizes[i] / peak) * 100 : 0}%`;
          count.textContent = `${fmtCount(sizes[i])} · ${fmt(total ? (sizes[i] / total) * 100 : 0, nf3)}%`;
        });
        value.textContent = names.length ? `${names.length} cluster${names.length === 1 ? '' : 's'}` : '—';
        value.classList.toggle('na', !names.length);
        sub.textContent = names.length ? `${fmtCount(total)} learns assigned` : 'waiting for the first learn';
        const listed = names.slice(0, 20).map((n, i) => `cluster ${clusterOf(n)} ${fmtCount(sizes[i])}`).join(', ');
        list.setAttribute('aria-label', names.length ? `Cluster sizes: ${listed}${names.length > 20 ? ', …' : ''}` : 'Cluster sizes: none yet');
      },
    };
  }

  /** The names of `name`'s steps ahead among `names` (MAE+1 … MAE+h for MAE), in order. */
  function stepsOf(name, names) {
    const prefix = `${name}+`;
    return names.filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
      .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)));
  }

  /** The cards of a model of `flavor` that reports `names`, in order: what fits the paradigm
   *  first (forecast against actual, score distribution, cluster sizes), then one line card per
   *  other metric (a metric with steps ahead gets them inside its card). Every card is
   *  `{element, render({latest, series, trace}) }`. */
  function planCards(flavor, names, direction, model) {
    const cards = [];
    const taken = new Set();
    const nextColor = () => COLORS[cards.length % COLORS.length];
    if (flavor === 'forecasting') cards.push(createForecastCard(model.horizon));
    if (flavor === 'anomaly') {
      const quantiles = names.filter(isQuantileName);
      quantiles.forEach((n) => taken.add(n));
      cards.push(createScoreCard(quantiles));
    }
    if (flavor === 'clustering') {
      names.filter(isSizeName).forEach((n) => taken.add(n));
      cards.push(createClusterCard(nextColor()));
    }
    const steps = new Map();
    if (flavor === 'forecasting') {
      for (const name of names) {
        const found = taken.has(name) ? [] : stepsOf(name, names);
        if (found.length) {
          steps.set(name, found);
          found.forEach((n) => taken.add(n));
        }
      }
    }
    for (const name of names) {
      if (taken.has(name)) continue;
      if (steps.has(name)) {
        cards.push(createHorizonCard(name, steps.get(name), nextColor(), direction(name)));
      } else {
        const card = createLineCard(name, nextColor(), direction(name));
        cards.push({ element: card.element, render: ({ latest, series }) => card.render(latest[name], series.values(name)) });
      }
    }
    return cards;
  }

  /** The cards in `root` for the metrics the server reports, in its order (see planCards). */
  function createMetricCards(root, model) {
    const direction = metricDirections(model);
    let shown = null;  // the metric names the cards were planned for
    let cards = [];
    return {
      sync(names) {
        if (shown && names.length === shown.length && names.every((n, i) => n === shown[i])) return;
        shown = names;
        cards = planCards(model.flavor, names, direction, model);
        root.replaceChildren(...cards.map((card) => card.element));
      },
      render(context) {
        for (const card of cards) card.render(context);
      },
      clear() {
        shown = null;
        cards = [];
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

  /** Forecasting, from the events: each learn's observed value (ground_truth) and the forecast
   *  made one step before it (its prediction), and the newest forecast asked for. */
  function createForecastTrace() {
    let observed = [];  // {t, actual, forecast} oldest first
    let ahead = null;   // {t, values} of the newest forecast event
    return {
      add(kind, d) {
        if (kind === 'learn' && typeof d.ground_truth === 'number') {
          observed.push({ t: numberOrNull(d.t), actual: d.ground_truth, forecast: numberOrNull(d.prediction) });
          if (observed.length > MAX_OBSERVED * 2) observed = observed.slice(-MAX_OBSERVED);
        } else if (kind === 'forecast' && Array.isArray(d.forecast)) {
          ahead = { t: numberOrNull(d.t), values: d.forecast.map(finiteOrNull) };
        }
      },
      observed: () => observed.slice(-MAX_OBSERVED),
      /** The newest forecast's values while no observation came after it, else null. */
      ahead() {
        const last = observed[observed.length - 1];
        return ahead && !(last && last.t > ahead.t) ? ahead.values : null;
      },
    };
  }

  /** Anomaly detection, from the events: the scores of predictions and learns, each scored
   *  sample once (a learn by the id of a prediction seen here was scored by that prediction),
   *  with the verdict of a filter where the prediction has one. */
  function createScoreWindow() {
    let scores = [];             // {v, anomaly: true | false | null} oldest first
    const predicted = new Map(); // JSON of the ids of predictions seen, oldest first
    return {
      add(kind, d) {
        if (typeof d.prediction !== 'number' || !Number.isFinite(d.prediction)) return;
        const id = d.id === undefined || d.id === null ? null : JSON.stringify(d.id);  // 1 and "1" differ
        if (kind === 'predict') {
          scores.push({ v: d.prediction, anomaly: typeof d.anomaly === 'boolean' ? d.anomaly : null });
          if (id !== null) {
            predicted.delete(id);
            predicted.set(id, true);
            if (predicted.size > MAX_IDS) predicted.delete(predicted.keys().next().value);
          }
        } else if (kind === 'learn') {
          if (id !== null && predicted.delete(id)) return;
          scores.push({ v: d.prediction, anomaly: null });
        } else {
          return;
        }
        if (scores.length > MAX_SCORES * 2) scores = scores.slice(-MAX_SCORES);
      },
      recent: () => scores.slice(-MAX_SCORES),
    };
  }

  /** What a paradigm follows in the events, or null when its cards need none. */
  function createTrace(flavor) {
    if (flavor === 'forecasting') return createForecastTrace();
    if (flavor === 'anomaly') return createScoreWindow();
    return null;
  }

  /** What the dashboard shows of one model: its metric series, what its paradigm traces from
   *  its events (starting from `recent`, the entries of its events seen so far) and the cards.
   *  A new upload gets a new view, so nothing of the previous model can leak into its charts. */
  function createModelView(model, { api, clock, redraw, recent }) {
    const series = createMetricSeries();
    const trace = createTrace(model.flavor);
    const cards = createMetricCards($('#metrics'), model);
    let latest = null;       // the newest metrics, shown as the cards' values
    let pending = null;      // the newest live message not drawn yet, unparsed
    let queued = trace ? recent.slice() : [];  // event entries not traced yet
    let received = 0;        // live messages so far: tells whether a history answer is the freshest
    let historyCalls = 0;    // an answer to any but the newest loadHistory() is dropped
    let dirty = true;
    let closed = false;
    cards.sync([]);          // the paradigm's own cards show before any metric

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
          api.getJSON(withModel('/api/metrics/history', model.name)),
          api.getJSON(withModel('/api/metrics', model.name)).catch((e) => (e instanceof AuthError ? Promise.reject(e) : null)),
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
      name: model.name,
      key: modelKey(model),
      flavor: model.flavor,
      loadHistory,
      /** The newest metrics (null before the first answer); a new object when they change. */
      latest: () => latest,
      /** A live metrics message: only the newest one before a redraw is drawn. */
      receive(raw) {
        pending = raw;
        received += 1;
        redraw.request();
      },
      /** An event entry of this model. */
      event(entry) {
        if (!trace) return;
        queued.push(entry);
        if (queued.length > MAX_LOG * 2) queued = queued.slice(-MAX_LOG);  // hidden for long: no frames ran
        redraw.request();
      },
      invalidate() { dirty = true; },
      flush() {
        if (pending !== null) {
          takeLive(parseObject(pending));
          pending = null;
        }
        if (queued.length) {
          for (const entry of queued) trace.add(entry.kind, dataOf(entry));
          queued = [];
          dirty = true;
        }
        if (dirty) {
          dirty = false;
          cards.render({ latest: latest || {}, series, trace });
        }
      },
      close() {
        closed = true;
        cards.clear();
      },
    };
  }

  /* ------------------------------------------------------------ models: the picker and the event log */

  /** The headline of a model: its first metric (the first the server describes, else the first
   *  it reports), as [name, value]. A clusterer described without metrics (creme's) reports
   *  only its cluster sizes: its headline is their number. */
  function headlineOf(desc, values) {
    const described = Array.isArray(desc.metrics) ? desc.metrics.filter((m) => m && typeof m.name === 'string') : [];
    const reported = values ? Object.keys(values) : [];
    if (described.length) return [described[0].name, values ? values[described[0].name] : undefined];
    if (desc.flavor === 'clustering' && values) return ['clusters', reported.filter(isSizeName).length];
    if (reported.length) return [reported[0], values[reported[0]]];
    return [values ? 'no metrics' : '', undefined];
  }

  /** Every model as a tab, with its flavor and its headline metric, the default marked, the
   *  shown one selected; `onChoose(name)` hears of a click or an arrow key. Values come from
   *  the shown model's view (show()) and, for the others, from GET /api/metrics?model= for each
   *  model that learned since the last refresh() (touch() marks them). */
  function createModelPicker(api, onChoose) {
    const nav = $('#model-picker');
    const list = $('#model-list');
    let entries = new Map();  // name -> {desc, values, tab, metric, value}
    let defaultName = null;
    let selected = null;
    let stale = new Set();    // models whose metrics changed since they were fetched
    let drawn = '';           // names, flavors and the default as the tabs show them

    list.addEventListener('click', (e) => {
      const tab = e.target.closest('[role="tab"]');
      if (tab) onChoose(tab.dataset.model);
    });
    list.addEventListener('keydown', (e) => {
      const tabs = [...list.querySelectorAll('[role="tab"]')];
      const at = tabs.indexOf(document.activeElement);
      if (at < 0) return;
      const to = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      const tab = tabs[(to + tabs.length) % tabs.length];
      tab.focus();
      onChoose(tab.dataset.model);
    });

    function tabFor(entry) {
      const { desc } = entry;
      const tab = htmlNode('button', 'model-tab');
      tab.type = 'button';
      tab.setAttribute('role', 'tab');
      tab.setAttribute('aria-controls', 'metrics-section');
      tab.dataset.model = desc.name;
      const top = htmlNode('span', 'tab-top');
      top.append(htmlNode('span', 'tab-name', desc.name));
      if (desc.name === defaultName) {
        const mark = htmlNode('span', 'tab-default', 'default');
        mark.title = 'The default model: calls that name no model go to it';
        top.append(mark);
      }
      const line = htmlNode('span', 'tab-metric');
      entry.metric = htmlNode('span', 'tab-metric-name');
      entry.value = htmlNode('span', 'tab-value num');
      line.append(entry.metric, ' ', entry.value);
      tab.append(top, htmlNode('span', 'tab-flavor', desc.flavor || ''), line);
      entry.tab = tab;
      drawValue(entry);
      return tab;
    }

    function drawValue(entry) {
      const [name, v] = headlineOf(entry.desc, entry.values);
      entry.metric.textContent = name;
      entry.value.textContent = v === undefined ? '…' : fmt(numberOrNull(v));
      entry.value.dataset.raw = typeof v === 'number' ? String(v) : '';
      entry.value.title = typeof v === 'number' ? String(v) : '';
    }

    function draw() {
      const names = [...entries.keys()].sort();
      const shape = JSON.stringify([defaultName, names.map((n) => [n, entries.get(n).desc.flavor])]);
      if (shape !== drawn) {
        drawn = shape;
        list.replaceChildren(...names.map((n) => tabFor(entries.get(n))));
      }
      for (const [name, entry] of entries) {
        const on = name === selected;
        entry.tab.setAttribute('aria-selected', String(on));
        entry.tab.tabIndex = on || (selected === null && name === names[0]) ? 0 : -1;
      }
      nav.hidden = entries.size === 0;
    }

    function put(desc) {
      const entry = entries.get(desc.name);
      if (!entry) {
        entries.set(desc.name, { desc, values: null });
        stale.add(desc.name);
      } else {
        if (modelKey(entry.desc) !== modelKey(desc)) {  // uploaded again: another model
          entry.values = null;
          stale.add(desc.name);
        }
        entry.desc = desc;
        if (entry.tab) drawValue(entry);
      }
    }

    return {
      /** Every model the server has (descriptions) and its default. */
      sync(models, dflt) {
        const names = new Set(models.map((m) => m.name));
        for (const name of [...entries.keys()]) {
          if (!names.has(name)) entries.delete(name);
        }
        for (const m of models) put(m);
        defaultName = dflt === undefined ? null : dflt;
        draw();
      },
      /** A model just uploaded (its `model` event). */
      add(desc) {
        put(desc);
        draw();
      },
      remove(name) {
        entries.delete(name);
        stale.delete(name);
        draw();
      },
      select(name) {
        selected = name;
        draw();
      },
      has: (name) => entries.has(name),
      description: (name) => (entries.has(name) ? entries.get(name).desc : null),
      get defaultName() { return defaultName; },
      first: () => (entries.size ? [...entries.keys()].sort()[0] : null),
      /** A model learned: its headline is fetched at the next refresh (the shown one's comes
       *  from its view). */
      touch(name) {
        if (name !== selected && entries.has(name)) stale.add(name);
      },
      /** The shown model's newest metrics. */
      show(name, values) {
        const entry = entries.get(name);
        if (!entry || !values || entry.values === values) return;
        entry.values = values;
        if (entry.tab) drawValue(entry);
      },
      /** Fetches the metrics of every model touched since the last refresh. */
      async refresh() {
        const names = [...stale].filter((n) => n !== selected && entries.has(n));
        stale = new Set([...stale].filter((n) => n === selected));
        await Promise.all(names.map(async (name) => {
          const desc = entries.get(name).desc;
          let values;
          try {
            values = await api.getJSON(withModel('/api/metrics', name));
          } catch (e) {
            if (!(e && e.status === 404)) stale.add(name);  // deleted meanwhile: its event says so
            return;
          }
          const entry = entries.get(name);
          if (entry && modelKey(entry.desc) === modelKey(desc)) {  // not uploaded again meanwhile
            entry.values = values;
            drawValue(entry);
          }
        }));
      },
    };
  }

  /** The recent events of every model, as entries: a view or table opened later starts from them. */
  function createEventLog() {
    const logs = new Map();  // model name -> entries, oldest first
    return {
      push(name, entry) {
        let log = logs.get(name);
        if (!log) logs.set(name, log = []);
        log.push(entry);
        if (log.length > MAX_LOG * 2) logs.set(name, log.slice(-MAX_LOG));
      },
      recent: (name) => (logs.get(name) || []).slice(-MAX_LOG),
      forget(name) { logs.delete(name); },
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

  function predictionCell(kind, ev) {
    if (kind === 'forecast' || kind === 'rank') {
      const [text, full] = kind === 'forecast' ? summariseList(ev.forecast, (v) => fmt(numberOrNull(v), nf3)) : summariseList(ev.ranking);
      return td('c-num', text, full);
    }
    const pred = ev.prediction;
    const cell = td('c-num');
    if (ev.anomaly === true) cell.appendChild(htmlNode('span', 'flag', 'anomaly'));
    if (!isProba(pred)) {
      cell.append(fmtValue(pred));
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

  // A regressor's or forecaster's error is the distance to the label; a classifier's is right
  // or wrong. An anomaly score and a cluster have none.
  function errorCell(kind, ev, flavor) {
    if (kind !== 'learn' || !('ground_truth' in ev) || flavor === 'anomaly' || flavor === 'clustering') return td('c-num', '');
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

  /** The features of an event as shown: a ranking's user first. */
  function shownFeatures(kind, ev) {
    if (kind !== 'rank') return ev.features;
    return { user: ev.user, ...(ev.features && typeof ev.features === 'object' ? ev.features : {}) };
  }

  /** The row of one event: `kind` is predict, learn, forecast or rank, `ev` what the server sent. */
  function eventRow(kind, ev, flavor) {
    const tr = document.createElement('tr');
    tr.dataset.kind = kind;
    const id = ev.id !== undefined && ev.id !== null ? String(ev.id) : null;
    if (id !== null) tr.dataset.id = id;
    if (typeof ev.model === 'string') tr.dataset.model = ev.model;
    const kindCell = td('c-kind');
    kindCell.appendChild(htmlNode('span', `kind kind-${kind}`, kind));
    const [feat, full] = summariseFeatures(shownFeatures(kind, ev));
    tr.append(
      td('c-time', typeof ev.t === 'number' ? fmtClock(ev.t, true) : '—'),
      kindCell,
      td('c-id', id === null ? '—' : id, id === null ? '' : id),
      td('c-feat', feat, full),
      predictionCell(kind, ev),
      td('c-num', kind === 'learn' ? fmtValue(ev.ground_truth) : ''),
      errorCell(kind, ev, flavor));
    return tr;
  }

  /** The shown model's newest MAX_ROWS events, newest on top, with Pause / Resume. Events are
   *  kept raw and parsed only when shown: most never are when thousands arrive per second.
   *  Shown events also tell `clock` the server's time. */
  function createEventsTable({ clock, redraw }) {
    let events = [];  // event entries, newest last
    let flavor = null;
    let paused = false;
    let unseen = 0;   // arrived while paused
    let dirty = false;
    let replaced = false;  // another model's events: shown even while paused
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

    function render() {
      dirty = false;
      replaced = false;
      const shown = events.slice(-MAX_ROWS);
      const newest = shown[shown.length - 1];
      if (newest && typeof dataOf(newest).t === 'number') clock.observe(newest.data.t, newest.seen);
      // A row is built once per entry; entries are one model's, and a model keeps its flavor.
      const rows = shown.reverse().map((ev) => ev.row || (ev.row = eventRow(ev.kind, dataOf(ev), flavor)));
      $('#events').replaceChildren(...rows);
      $('#events-empty').hidden = rows.length > 0;
    }

    return {
      /** Starts over with another model's flavor and recent entries. */
      reset(entries, modelFlavor) {
        events = entries.slice(-MAX_ROWS);
        flavor = modelFlavor;
        unseen = 0;
        if (paused) note.textContent = 'paused';
        replaced = true;
        redraw.request();
      },
      push(entry) {
        events.push(entry);
        if (events.length > MAX_ROWS * 2) events = events.slice(-MAX_ROWS);
        if (paused) unseen += 1;
        dirty = true;
        redraw.request();
      },
      flush() {
        if (replaced || (dirty && !paused)) render();
        if (paused && unseen) note.textContent = `paused · ${fmtCount(unseen)} new`;
      },
    };
  }

  /* ------------------------------------------------------------ the dashboard */

  const VIEW_TEXT = {
    forecasting: ['Forecasts and errors', 'each observation is scored against the forecasts made before it, step by step ahead'],
    anomaly: ['Scores', 'the recent scores of predictions and learns; ROCAUC on the learns that came with a label'],
    clustering: ['Clusters', 'learns per cluster, and the clustering metrics over time'],
  };
  const METRICS_TEXT = ['Metrics over time', 'progressive validation: every learn is scored before the model sees its label'];

  /** The model the URL's hash names (#model=name), or null. */
  function hashModel() {
    const found = /^#model=(.+)$/.exec(location.hash);
    if (!found) return null;
    try {
      return decodeURIComponent(found[1]);
    } catch (e) {
      return null;
    }
  }

  /** Wires the parts together: what the server says goes to the part that shows it. */
  function createDashboard() {
    const clock = createServerClock();
    const redraw = createThrottle(REDRAW_MS, flush);
    const api = createApi(needToken);
    const connection = createConnection(api, {
      connect: (stats) => {
        applyStats(stats, true);
        picker.refresh().catch(() => {});
      },
      metricsPath: () => withModel('/api/stream/metrics', view ? view.name : null),
      metrics: (raw) => { if (view) view.receive(raw); },
      event: onEvent,
    });
    const emptyState = createEmptyState(api);
    const tokenForm = createTokenForm(api, () => {
      emptyState.renderSnippets();
      connection.authorize();
    });
    const picker = createModelPicker(api, choose);
    const log = createEventLog();
    const modelPanel = createModelPanel(clock);
    const throughput = createThroughputCard();
    const eventsTable = createEventsTable({ clock, redraw });
    let wanted = hashModel();  // the model the user chose (kept in the URL), null to follow the default
    let shownKey;     // the model on screen: undefined before the server first answers, null for none
    let view = null;  // its view, while there is one

    function flush() {
      if (view) {
        view.flush();
        picker.show(view.name, view.latest());
      }
      eventsTable.flush();
    }

    function needToken() {
      if (connection.refuse()) tokenForm.ask();
    }

    function onEvent(kind, raw) {
      if (kind === 'model' || kind === 'delete') {
        const data = parseObject(raw);
        const name = data && (typeof data.name === 'string' ? data.name : data.model);
        if (typeof name === 'string') {
          log.forget(name);
          if (kind === 'model') picker.add(data);
          else picker.remove(name);
          showChosen();
        }
        refreshStats().catch(() => {});
        return;
      }
      const entry = eventEntry(kind, raw);
      const name = modelOf(entry);
      if (name === null) return;
      log.push(name, entry);
      if (kind === 'learn') picker.touch(name);
      if (view && view.name === name) {
        view.event(entry);
        eventsTable.push(entry);
      }
    }

    /** The model to show: the one chosen while it exists, else the default, else the first. */
    function chosen() {
      for (const name of [wanted, picker.defaultName]) {
        if (name !== null && picker.has(name)) return picker.description(name);
      }
      const first = picker.first();
      return first === null ? null : picker.description(first);
    }

    function showChosen() {
      return showModel(chosen());
    }

    function choose(name) {
      wanted = name;
      const hash = `#model=${encodeURIComponent(name)}`;
      if (location.hash !== hash) history.replaceState(null, '', hash);
      showChosen();
    }

    // Returns true when the model changed (and a new view is loading its history).
    function showModel(m) {
      const key = modelKey(m);
      if (key === shownKey) return false;
      const moved = !view || !m || view.name !== m.name;  // the metrics stream follows the name
      shownKey = key;
      if (view) view.close();
      view = m ? createModelView(m, { api, clock, redraw, recent: log.recent(m.name) }) : null;
      picker.select(m ? m.name : null);
      eventsTable.reset(m ? log.recent(m.name) : [], m ? m.flavor : null);
      if (moved) throughput.reset(m ? m.name : null);
      const [title, sub] = (m && VIEW_TEXT[m.flavor]) || METRICS_TEXT;
      $('#metrics-title').textContent = title;
      $('#metrics-sub').textContent = sub;
      for (const [id, path] of [['#link-stats', '/api/stats'], ['#link-metrics', '/api/metrics'], ['#link-history', '/api/metrics/history']]) {
        $(id).href = withModel(path, m ? m.name : null);
      }
      $('#empty-state').hidden = !!m;
      $('#metrics-section').hidden = !m;
      $('#events-section').hidden = !m;
      modelPanel.render(m);
      if (view) view.loadHistory();
      if (moved) connection.follow();
      redraw.request();
      return true;
    }

    function applyStats(stats, resync) {
      const described = stats.models && typeof stats.models === 'object' ? Object.values(stats.models) : [];
      picker.sync(described.filter((m) => m && typeof m.name === 'string'), stats.default);
      const m = chosen();
      if (!showModel(m) && resync && view) view.loadHistory();
      modelPanel.render(m);
      modelPanel.showUptime(stats.uptime_s);
      throughput.update(m && m.rates ? m.rates : stats.rates);
      renderLatency(stats);
    }

    async function refreshStats() {
      applyStats(await api.getJSON('/api/stats'), false);
    }

    async function pollStats() {
      if (connection.live) {
        try {
          await refreshStats();
          await picker.refresh();
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
        window.addEventListener('hashchange', () => {
          wanted = hashModel();
          showChosen();
        });
        connection.connect();
        setTimeout(pollStats, STATS_MS);
      },
    };
  }

  const start = () => createDashboard().start();
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
