/* chantilly dashboard: plain JS, no dependencies, no build step.
 *
 * Data flow
 *   GET /api/stats?model=             polled every STATS_MS, and after every model event: every
 *                                     model (the picker), the shown model's panel, throughput and
 *                                     latency (?model=: the shown one's; the server's while none);
 *                                     then the headline of each model that learned since:
 *                                     GET /api/metrics?model=
 *   GET /api/models                   with every stats poll: which models have a challenger
 *   GET /api/metrics/history?model=   on load, on a model change and after every reconnect: seeds the
 *                                     charts and their drift markers (the champion's and, as
 *                                     NAME@challenger, its challenger's)
 *   GET /api/metrics?model=           with the history: the current values, and which metrics the model has
 *   GET /api/model/NAME/versions      when the shown model or its challenger changes: the versions list
 *   SSE /api/stream/metrics?model=    the shown model's metrics after each learn (and its challenger's,
 *                                     on a second stream): buffered, at most one chart point per redraw
 *   SSE /api/stream/events?recent=    every model's predict / learn / forecast / rank, model / delete
 *                                     and drift, the last RECENT_EVENTS first (a page opened now
 *                                     shows the traffic before it; after a reconnection, those seen
 *                                     already are dropped): kept raw, the recent ones per model (a
 *                                     challenger's under NAME@challenger); the shown model's feed its
 *                                     view and the table, its challenger's the table's Challenger
 *                                     column; a model or delete event asks the stats again
 * Nothing is drawn per message: parts keep what arrives and mark themselves dirty, and one
 * throttle redraws the dirty ones at most every REDRAW_MS, on an animation frame.
 *
 * Parts, each the only owner of its state and its elements (the dashboard at the end wires them)
 *   api          the token; JSON requests carrying it; a 401 calls back
 *   connection   the EventSources (metrics follow the shown model), the live / reconnecting /
 *                … badge, reconnection with backoff
 *   times        every relative time shown ("2 min ago"), from one reading of the server's clock
 *   tokenForm    the token form and its button
 *   emptyState   the no-model panel: snippets with this server's address, copy buttons
 *   picker       every model with its headline metric, live, the default first; which one is shown
 *   eventLog     every model's recent events, raw: a view opened later starts from them
 *   replays      which events came before a reconnection: the stream sends them again
 *   modelPanel   the shown model's description and counters
 *   versions     the shown model's versions (serving, challenger, past), the live ones kept current
 *   throughput   the shown model's rates and their sparkline (the last MAX_RATES samples)
 *   latency      the shown model's p50 / p99 per route; the server's subscribers and expired ids
 *   modelView    one per shown model: its metric series and its challenger's, the drifts detected,
 *                what its paradigm traces from the events (forecast against actual, recent anomaly
 *                scores) and the cards that show them
 *   eventsTable  the shown model's live events, its challenger's answers beside them, Pause / Resume
 */
'use strict';

(() => {
  const TOKEN_KEY = 'chantilly-token';
  const MAX_POINTS = 1000;     // chart points kept client-side (older half gets thinned)
  const MAX_ROWS = 50;         // rows in the live events table
  const RECENT_EVENTS = 50;    // events the stream starts with (?recent=; the server keeps at most 50)
  const REPLAYS = 2000;        // events remembered, to drop those the stream sends again after a reconnection
  const MAX_RATES = 120;       // throughput samples (~3 minutes)
  const MAX_LOG = 600;         // recent events kept per model, for a view opened later
  const MAX_SCORES = 500;      // anomaly scores in the histogram
  const MAX_OBSERVED = 200;    // observations in the forecast chart
  const MAX_IDS = 5000;        // ids of shown predictions, whose learn is not counted again
  const BINS = 24;             // histogram bins
  const REDRAW_MS = 250;       // at most 4 redraws per second
  const STATS_MS = 1500;
  const CLOCK_JUMP_S = 5;      // an event this far from the server's clock as estimated moves it at once, or not at all
  const AGO_MS = 1000;         // relative times ("12 s ago") move on together, once a second
  const RETRY_MIN_MS = 500;    // reconnection backoff: first delay, grows 1.5x up to the max
  const RETRY_MAX_MS = 4000;
  const COLORS = ['var(--c1)', 'var(--c2)', 'var(--c3)', 'var(--c4)', 'var(--c5)'];
  const RIVAL_COLOR = 'var(--rival)';  // a challenger's series, dashed, in every chart
  const MAX_DRIFTS = 200;      // drift markers kept per model
  const CHALLENGER = '@challenger';    // how reads name a model's challenger: NAME@challenger

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

  /** An event as the parts share it: its kind, its data unparsed until someone needs it, and
   *  its place in the order of arrival. */
  let arrivals = 0;
  const eventEntry = (kind, raw) => ({ kind, raw, seen: Date.now() / 1000, data: null, row: null, seq: ++arrivals });

  const challengerOf = (name) => `${name}${CHALLENGER}`;
  /** The model a name belongs to: NAME for NAME@challenger, the name itself otherwise. */
  const baseOf = (name) => (name.endsWith(CHALLENGER) ? name.slice(0, -CHALLENGER.length) : name);

  /** The data of an event entry, parsed once (bad JSON: an empty object). */
  function dataOf(entry) {
    if (entry.data === null) entry.data = parseObject(entry.raw) || {};
    return entry.data;
  }

  // The server writes every event's data as {"t":...,"model":"<name>",...}: the name is read
  // from that prefix without parsing the rest (features can be long). Anything else is parsed.
  const EVENT_MODEL = /^\{"t":[-+.\deE]+,"model":"([A-Za-z0-9._-]{1,64}(?:@challenger)?)"/;
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
   *  points are timestamped with it, so that they line up with the history's, and relative
   *  times ("uploaded 2 min ago") are read from it. An event's time was the server's clock a
   *  moment before the event arrived: one ahead of the estimate moves it at once, one close to
   *  it nudges it, and one more than CLOCK_JUMP_S behind says nothing (an old event, which the
   *  stream sends again when it opens: ?recent=). */
  function createServerClock() {
    let offset = 0;  // server time - client time, s
    return {
      now: () => Date.now() / 1000 + offset,
      observe(serverT, clientT) {
        const off = serverT - clientT;
        if (off > offset + CLOCK_JUMP_S) offset = off;
        else if (off > offset - CLOCK_JUMP_S) offset = offset * 0.8 + off * 0.2;
      },
    };
  }

  /** Every relative time on the page ("uploaded 3 min ago"), read from one clock at one
   *  moment: tick() redraws all of them together with the same `now`, and one shown between
   *  ticks uses that `now` too. The model panel and the versions list used to read the clock
   *  each at its own redraw (the list not at all while nothing learned), and the clock's
   *  estimate moves when events come in: one upload read "10 s ago" in one and "7 s ago" in
   *  the other. An element shows a time while it carries it in data-ago (server time, s). */
  function createRelativeTimes(clock) {
    let now = clock.now();
    const paint = (el) => { el.textContent = fmtAgo(Number(el.dataset.ago), now); };
    return {
      /** Shows `t` (server time in s, or null: '—') in `el` as "… ago", kept current by tick(). */
      show(el, t) {
        if (typeof t === 'number' && Number.isFinite(t)) {
          el.dataset.ago = String(t);
          paint(el);
        } else {
          delete el.dataset.ago;
          el.textContent = '—';
        }
      },
      tick() {
        now = clock.now();
        for (const el of document.querySelectorAll('[data-ago]')) paint(el);
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

  /** The event streams and the badge that tells whether they are live. `on.load()` resyncs at
   *  every (re)connection (fresh stats and models), before the streams open; `on.metrics(raw)`,
   *  `on.challengerMetrics(raw)` and `on.event(kind, raw)` get each message's unparsed data. The
   *  metrics stream is `on.metricsPath()`'s, and a second one `on.challengerPath()`'s while
   *  that is not null (the shown model's challenger), asked again at every (re)connection and
   *  by follow(). Only the first two streams decide whether the page is live: the challenger
   *  comes and goes. */
  function createConnection(api, on) {
    let status = 'connecting';
    let everLive = false;     // once live, a lost connection says "reconnecting", not "connecting"
    let authNeeded = false;   // after a 401, nothing is tried until authorize()
    let metrics = null;       // the EventSources while open
    let events = null;
    let rival = null;         // the challenger's metrics, while there is one
    let metricsPath = null;   // where metrics and rival listen
    let rivalPath = null;
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

    function drop(source) {
      if (source) {
        source.onopen = source.onerror = source.onmessage = null;
        source.close();
      }
    }

    function close() {
      for (const source of [metrics, events, rival]) drop(source);
      metrics = events = rival = null;
      metricsPath = rivalPath = null;
    }

    function listen(path) {
      const source = new EventSource(api.streamUrl(path));
      source.onopen = checkLive;
      source.onerror = fail;
      return source;
    }

    // (Re)opens the metrics streams whose path changed; a stream that follows the same model
    // is kept, so that no message is lost.
    function openMetrics() {
      const path = on.metricsPath();
      if (!metrics || path !== metricsPath) {
        drop(metrics);
        metricsPath = path;
        metrics = listen(path);
        metrics.onmessage = (e) => on.metrics(e.data);
      }
      const second = on.challengerPath();
      if (second !== rivalPath || (second !== null && !rival)) {
        drop(rival);
        rival = null;
        rivalPath = second;
        if (second !== null) {
          const source = rival = new EventSource(api.streamUrl(second));
          source.onmessage = (e) => on.challengerMetrics(e.data);
          // Closed for good (promoted or deleted meanwhile): the next models poll says which.
          source.onerror = () => {
            if (source.readyState === EventSource.CLOSED && rival === source) {
              drop(source);
              rival = null;
            }
          };
        }
      }
    }

    function open() {
      close();
      openMetrics();
      // The last events first, so that a page opened now shows the traffic before it.
      events = listen(`/api/stream/events?recent=${RECENT_EVENTS}`);
      for (const kind of ['predict', 'learn', 'forecast', 'rank', 'model', 'delete', 'drift']) {
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
      try {
        await on.load();
      } catch (e) {
        if (!(e instanceof AuthError)) retry();
        return;
      }
      open();
    }

    return {
      connect,
      fail,
      /** Moves the metrics streams to on.metricsPath() and on.challengerPath() (while the
       *  streams are closed, the next connection will). */
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

  // A model and what it was uploaded as: a new upload, a promotion or a rollback is another key.
  const modelKey = (m) => (m ? `${m.name}|${m.version}|${m.uploaded_at}|${m.class}|${m.flavor}` : null);

  /** The shown model's description and counters, and the server's uptime. */
  function createModelPanel(times) {
    const counters = ['#model-library', '#model-uploaded', '#model-version', '#model-drifts', '#model-predictions',
      '#model-learns', '#model-pending'];

    function render(m) {
      const broken = $('#model-broken');  // why the server cannot serve it, and what to do
      broken.hidden = !(m && m.broken);
      broken.textContent = m && m.broken ? m.broken : '';
      const cls = $('#model-class');
      $('#model-name').textContent = m && m.name ? m.name : '';
      if (!m) {
        cls.textContent = 'no model loaded';
        cls.title = '';
        $('#model-flavor').textContent = 'none';
        for (const id of counters) $(id).textContent = '—';
        times.show($('#model-uploaded'), null);
        $('#model-drifts').dataset.raw = '';
        $('#model-drifts').classList.remove('warn');
        return;
      }
      cls.textContent = m.class || m.name || 'model';
      cls.title = m.class || '';
      $('#model-flavor').textContent = m.flavor || '—';
      $('#model-library').textContent = [m.library, m.library_version].filter(Boolean).join(' ') || '—';
      $('#model-library').title = $('#model-library').textContent;
      const up = $('#model-uploaded');
      times.show(up, m.uploaded_at);
      up.title = typeof m.uploaded_at === 'number' ? new Date(m.uploaded_at * 1000).toLocaleString() : '';
      $('#model-predictions').textContent = fmtCount(m.predictions);
      $('#model-learns').textContent = fmtCount(m.learns);
      $('#model-pending').textContent = fmtCount(m.pending);
      $('#model-version').textContent = typeof m.version === 'number' ? `v${m.version}` : '—';
      const drifts = $('#model-drifts');
      const n = numberOrNull(m.drifts);
      drifts.textContent = fmtCount(n);
      drifts.dataset.raw = n === null ? '' : String(n);
      drifts.classList.toggle('warn', n > 0);
      drifts.title = n === null ? '' : `${fmtCount(n)} concept drift${n === 1 ? '' : 's'} detected in the live error since the upload`;
    }

    return {
      render,
      showUptime(s) { $('#server-uptime').textContent = fmtDuration(s); },
    };
  }

  /* ------------------------------------------------------------ versions */

  const ROLE_TEXT = { serving: 'serving', challenger: 'challenger', version: 'past' };

  /** The shown model's versions, newest first, from GET /api/model/NAME/versions (which lists
   *  them oldest first), fetched when the model or its challenger changes (load()). Newest
   *  first because the list scrolls in a card of bounded height: the challenger and the
   *  serving version, the ones that move, are on top, and past ones scroll below. The serving
   *  version and the challenger keep learning: live() keeps their learns and headline metric
   *  current from what the dashboard already has (stats, models, the view's metrics); their
   *  "uploaded … ago" moves with every other relative time (times). Read-only: nothing here
   *  calls an admin route. */
  function createVersionsList(api, times) {
    const wrap = $('#versions-wrap');
    const body = $('#versions');
    const head = $('#versions-metric');
    let name = null;       // the model listed
    let metric = null;     // the headline metric's name
    let listing = [];      // what the server answered
    let calls = 0;         // an answer to any but the newest load() is dropped
    let current = { serving: null, challenger: null };  // {learns, values} of the live ones

    function headline(v) {
      const values = v.metrics && typeof v.metrics === 'object' && !Array.isArray(v.metrics) ? v.metrics : {};
      const key = metric !== null && metric in values ? metric : Object.keys(values)[0];
      return key === undefined ? [metric || '', undefined] : [key, values[key]];
    }

    function render() {
      wrap.hidden = !listing.length;
      head.textContent = metric || 'Metric';
      body.replaceChildren(...listing.map((found) => {
        const live = current[found.role];
        const v = live ? { ...found, learns: live.learns ?? found.learns, metrics: live.values || found.metrics } : found;
        const tr = htmlNode('tr');
        tr.dataset.version = String(v.version);
        tr.dataset.role = v.role;
        const role = htmlNode('span', `role role-${v.role}`, ROLE_TEXT[v.role] || String(v.role));
        const roleCell = htmlNode('td', 'v-role');
        roleCell.append(role);
        const cls = htmlNode('td', 'v-class');
        if (v.library) cls.append(htmlNode('span', 'v-lib', v.library), ' ');  // a space: where a narrow cell wraps
        cls.append(v.class || '—');
        cls.title = [v.class, [v.library, v.library_version].filter(Boolean).join(' ')].filter(Boolean).join('\n');
        const learns = htmlNode('td', 'v-num v-learns num', fmtCount(numberOrNull(v.learns)));
        learns.dataset.raw = typeof v.learns === 'number' ? String(v.learns) : '';
        const [key, value] = headline(v);
        const val = htmlNode('td', 'v-num v-metric num', fmt(numberOrNull(value ?? null)));
        val.dataset.headline = key;  // not data-metric: that marks the view's metrics
        val.dataset.raw = typeof value === 'number' ? String(value) : '';
        val.title = typeof value === 'number' ? `${key}: ${value}` : '';
        const when = htmlNode('td', 'v-when');
        times.show(when, v.uploaded_at);
        when.title = [
          typeof v.uploaded_at === 'number' ? `uploaded ${new Date(v.uploaded_at * 1000).toLocaleString()}` : '',
          typeof v.retired_at === 'number' ? `replaced ${new Date(v.retired_at * 1000).toLocaleString()}` : '',
        ].filter(Boolean).join('\n');
        tr.append(htmlNode('td', 'v-version num', `v${v.version}`), roleCell, cls, learns, val, when);
        if (v.role === 'serving') tr.setAttribute('aria-current', 'true');
        return tr;
      }));
    }

    return {
      /** Lists the versions of the model `m` (null: none). */
      async load(m) {
        const call = ++calls;
        if (!m) {
          name = null;
          listing = [];
          render();
          return;
        }
        if (m.name !== name) {
          listing = [];
          current = { serving: null, challenger: null };
        }
        name = m.name;
        metric = headlineOf(m, null)[0] || null;
        let answer;
        try {
          answer = await api.getJSON(`/api/model/${encodeURIComponent(m.name)}/versions`);
        } catch (e) {
          return;  // deleted meanwhile (its event says so), or the connection is down: the next load
        }
        if (call !== calls || !answer || !Array.isArray(answer.versions)) return;
        listing = answer.versions.filter((v) => v && typeof v.version === 'number').sort((a, b) => b.version - a.version);
        render();
      },
      /** The live versions' learns and metrics: `{serving, challenger}`, each {learns, values} or null. */
      live(serving, challenger) {
        const same = (a, b) => (a && b ? a.learns === b.learns && a.values === b.values : a === b);
        if (same(serving, current.serving) && same(challenger, current.challenger)) return;
        current = { serving, challenger };
        if (listing.length) render();
      },
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
        $('#throughput-scope').textContent = name ? `${name} · last 10 s` : 'all models · last 10 s';
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

  /** The latency table: p50 and p99 per route over the last 10 s, of the shown model (what
   *  GET /api/stats?model= answers; of the whole server while none is shown), like the
   *  throughput beside it, and its scope said in the card's head. The counters under it are
   *  the whole server's, and say so. */
  function createLatencyCard() {
    let scope = null;  // the model whose latency the card shows, null for the server

    function show(latency) {
      for (const route of ['predict', 'learn']) {
        for (const q of ['p50', 'p99']) {
          const cell = $(`#lat-${route}-${q}`);
          const v = numberOrNull(((latency || {})[route] || {})[q]);
          cell.replaceChildren(document.createTextNode(fmt(v, nf3)));
          if (v !== null) cell.appendChild(htmlNode('span', 'unit', 'ms'));
          cell.dataset.raw = v === null ? '' : String(v);
        }
      }
    }

    return {
      /** Starts over for another model, `name` (null: the server's); '—' until its figures come. */
      reset(name) {
        scope = name;
        $('#latency-scope').textContent = name ? `${name} · last 10 s` : 'all models · last 10 s';
        $('#latency-card').dataset.scope = name || '';
        show(null);
      },
      /** A stats answer, asked for the model `of` (null: for the server): its latency is shown
       *  only if it is of the model the card is for; the counters in any case. */
      update(stats, of) {
        if (of === scope) show(stats.latency_ms);
        $('#subscribers').textContent = fmtCount(stats.subscribers);
        $('#expired').textContent = fmtCount(stats.expired);
      },
    };
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
   *  with the area under it, the newest value marked, and value and time axes. `rival`: the
   *  challenger's points, dashed beside it on the same axes (null: none); `drifts`: {t, n, who}
   *  marked as vertical lines at their time (see driftMarks). */
  function drawLineChart(svg, pts, color, rival = null, drifts = []) {
    const size = fitViewBox(svg, 300, 120, 50, 40);
    const defined = pts.filter(([, v]) => v !== null);
    const rivalDefined = rival ? rival.filter(([, v]) => v !== null) : [];
    const both = defined.concat(rivalDefined);
    if (!both.length) {
      svg.replaceChildren();
      return;
    }
    const times = both.map(([t]) => t).concat(drifts.map((d) => d.t));
    const scale = chartScales(both, size, [Math.min(...times), Math.max(...times)]);
    const nodes = [...valueAxis(scale), ...driftMarks(drifts, scale.x, scale)];
    if (defined.length) nodes.push(...linePaths(pts, scale, color));
    if (rivalDefined.length) nodes.push(plainLine(rival, scale, RIVAL_COLOR, 'dashed rival'), newestMarker(rivalDefined, scale, RIVAL_COLOR));
    if (defined.length) nodes.push(newestMarker(defined, scale, color));
    svg.replaceChildren(...nodes, ...timeAxis(scale));
  }

  /** Where things go in a chart of `defined` points: the margins, three value ticks, x(t), y(v).
   *  `span`: [t0, t1] the time axis covers (default: the first and last points'). */
  function chartScales(defined, { w, h }, span = null) {
    const [lo, hi] = valueRange(defined);
    const [t0, t1] = span || [defined[0][0], defined[defined.length - 1][0]];
    const top = 6;
    const bottom = h - 16;  // room for the time axis
    const ticks = [0, 0.5, 1].map((frac) => ({
      y: top + (bottom - top) * frac,
      label: fmt(lo + (hi - lo) * (1 - frac), nf3),
    }));
    const left = Math.max(...ticks.map((tick) => tick.label.length)) * 6.2 + 10;  // room for the labels
    const right = w - 6;
    return {
      w, h, top, bottom, left, t0, t1, ticks,
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

  const driftLabel = (d) => `${d.who === 'challenger' ? 'Challenger drift' : 'Drift'} detected at ${fmtClock(d.t)}, learn ${fmtCount(d.n)}`;

  /** A vertical line for each drift ({t, n, who: 'champion' | 'challenger'}) at `at(d)` (its
   *  x, or null where the chart cannot place it), flagged at the top, its time and learn in
   *  its title (a tooltip) and aria-label; the chart's own label counts them (driftSummary). */
  function driftMarks(drifts, at, { top, bottom }) {
    const marks = [];
    for (const d of drifts) {
      const xv = typeof at === 'function' ? at(d.t) : null;
      if (xv === null || !Number.isFinite(xv)) continue;
      const x = xv.toFixed(1);
      const label = driftLabel(d);
      const mark = svgNode('g', { class: `drift drift-${d.who}`, 'data-drift': String(d.n), 'data-t': String(d.t), 'data-who': d.who, 'aria-label': label });
      mark.append(
        svgNode('title', {}, label),
        svgNode('line', { class: 'drift-line', x1: x, x2: x, y1: top, y2: bottom }),
        svgNode('path', { class: 'drift-flag', d: `M${x},${top}l-4,-5h8z` }));
      marks.push(mark);
    }
    return marks;
  }

  /** What a chart's label says of its drifts: "; 2 drifts detected, at 12:00:01 (learn 1,523), …". */
  function driftSummary(drifts) {
    const own = drifts.filter((d) => d.who !== 'challenger');
    const theirs = drifts.length - own.length;
    if (!drifts.length) return '';
    const listed = own.slice(-5).map((d) => `at ${fmtClock(d.t)} (learn ${fmtCount(d.n)})`).join(', ');
    return `; ${fmtCount(own.length)} drift${own.length === 1 ? '' : 's'} detected${listed ? `, ${own.length > 5 ? 'the last ' : ''}${listed}` : ''}`
      + (theirs ? `; ${fmtCount(theirs)} in the challenger's error` : '');
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
   *  asked for, or null) dotted after the last observation. A drift is marked at the first
   *  observation learned at or after its time (none before the first one shown). */
  function drawForecastChart(svg, observed, ahead, drifts = []) {
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
    const indexAt = (t) => {
      if (!n || typeof observed[0].t !== 'number' || t < observed[0].t) return null;
      const i = observed.findIndex((p) => typeof p.t === 'number' && p.t >= t);
      return i < 0 ? null : scale.x(i);
    };
    const nodes = [...valueAxis(scale), ...driftMarks(drifts, indexAt, scale),
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
   *  points, extra)`, points being [t, value or null] oldest first, and `extra` what else the
   *  chart shows: `rival` ({version, value, points}: the challenger's, or null) and `drifts`
   *  ({t, n, who}). The challenger's current value is in the legend (.rival-value, exact in
   *  data-raw), beside the model's, and its line is dashed. */
  function createLineCard(name, color, direction) {
    const element = cardFrame(name, HINTS.get(direction), color);
    element.dataset.metric = name;
    element.dataset.points = '0';
    element.dataset.rivalPoints = '0';
    element.setAttribute('aria-label', `${name} metric`);
    const value = htmlNode('div', 'value na', '—');
    value.dataset.raw = '';
    const sub = htmlNode('div', 'sub', 'waiting for the first learn');
    const legend = htmlNode('div', 'legend rival-legend');
    legend.hidden = true;
    const ownLabel = htmlNode('span', '', 'model');
    const ownValue = htmlNode('span', 'num own-value', '—');
    const ownItem = legendItem(ownLabel, color);
    ownItem.append(ownValue);
    const rivalLabel = htmlNode('span', '', 'challenger');
    const rivalValue = htmlNode('span', 'num rival-value', '—');
    rivalValue.dataset.raw = '';
    const rivalItem = legendItem(rivalLabel, RIVAL_COLOR, 'swatch-dashed');
    rivalItem.append(rivalValue);
    legend.append(ownItem, rivalItem);
    const svg = svgNode('svg', { role: 'img', 'aria-label': `${name}: no data yet` });
    const empty = htmlNode('div', 'chart-empty', 'no points yet');
    const chart = htmlNode('div', 'chart');
    chart.append(svg, empty);
    element.append(value, sub, legend, chart);

    /** The challenger's value in the legend, toned by whether it is better than the model's. */
    function showRival(rival, v) {
      legend.hidden = !rival;
      element.classList.toggle('challenged', !!rival);
      if (!rival) {
        rivalValue.dataset.raw = '';
        element.dataset.rivalPoints = '0';
        return;
      }
      const r = rival.value;
      ownLabel.textContent = `model${typeof rival.own === 'number' ? ` v${rival.own}` : ''} `;
      ownValue.textContent = typeof v === 'number' ? fmt(v) : '—';
      rivalLabel.textContent = `challenger${typeof rival.version === 'number' ? ` v${rival.version}` : ''} `;
      rivalValue.textContent = typeof r === 'number' ? fmt(r) : '—';
      rivalValue.dataset.raw = typeof r === 'number' ? String(r) : '';
      rivalValue.title = typeof r === 'number' ? String(r) : 'not defined yet';
      const better = typeof r === 'number' && typeof v === 'number' && direction !== null && r !== v
        ? (direction ? r > v : r < v) : null;
      rivalValue.className = `num rival-value${better === null ? '' : better ? ' ok' : ' ko'}`;
      if (better !== null) rivalValue.title += better ? ' (better than the model)' : ' (worse than the model)';
    }

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
      render(v, pts, { rival = null, drifts = [] } = {}) {
        const defined = pts.filter(([, x]) => x !== null);
        const rivalPts = rival ? rival.points : null;
        const rivalDefined = rivalPts ? rivalPts.filter(([, x]) => x !== null) : [];
        showValue(v);
        showRival(rival, v);
        element.dataset.points = String(defined.length);
        if (rival) element.dataset.rivalPoints = String(rivalDefined.length);
        element.dataset.drifts = String(drifts.length);
        empty.hidden = defined.length + rivalDefined.length > 0;
        const current = typeof v === 'number' ? fmt(v) : 'not defined yet';
        const theirs = rival
          ? `; challenger${typeof rival.version === 'number' ? ` v${rival.version}` : ''}, ${rivalDefined.length} points, current value ${typeof rival.value === 'number' ? fmt(rival.value) : 'not defined yet'}`
          : '';
        svg.setAttribute('aria-label', `${name} over time, ${defined.length} points; current value ${current}${theirs}${driftSummary(drifts)}`);
        drawLineChart(svg, pts, color, rivalPts, drifts);
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
      render(context) {
        const { latest } = context;
        card.render(latest[name], context.series.values(name), extraFor(name, context));
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
      render({ trace, drifts }) {
        const observed = trace.observed();
        const ahead = trace.ahead();
        element.dataset.actual = JSON.stringify(observed.map((p) => p.actual));
        element.dataset.forecast = JSON.stringify(observed.map((p) => p.forecast));
        element.dataset.ahead = JSON.stringify(ahead || []);
        empty.hidden = observed.length > 0 || !!ahead;
        drawForecastChart(svg, observed, ahead, drifts || []);
        const last = observed[observed.length - 1];
        const said = last
          ? `last ${fmtCount(observed.length)} observations; the latest is ${fmt(last.actual)}, forecast ${fmt(last.forecast)}`
          : 'no observations yet';
        const next = ahead ? `; next ${ahead.length}: ${ahead.slice(0, 12).map((v) => fmt(v)).join(', ')}` : '';
        const shownDrifts = svg.querySelectorAll('.drift').length;
        svg.setAttribute('aria-label', `Forecast against actual: ${said}${next}`
          + (shownDrifts ? `; ${shownDrifts} drift${shownDrifts === 1 ? '' : 's'} marked` : ''));
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

  /** What a line card of the metric `name` shows besides the model's line: the challenger's
   *  (`context.rival`: {version, own (the model's version), latest, series} or null) and the drifts. */
  function extraFor(name, { rival, drifts }) {
    return {
      rival: rival ? { version: rival.version, own: rival.own, value: (rival.latest || {})[name], points: rival.series.values(name) } : null,
      drifts: drifts || [],
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
        cards.push({ element: card.element, render: (context) => card.render(context.latest[name], context.series.values(name), extraFor(name, context)) });
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

  /** One model's side of a view: its metric series, its newest metrics, the drifts detected
   *  in its live error ({t, n} by n), and what loading its history needs. */
  function createSide(name, desc) {
    return {
      name,
      desc,
      series: createMetricSeries(),
      latest: null,      // the newest metrics, shown as the cards' values
      pending: null,     // the newest live message not drawn yet, unparsed
      received: 0,       // live messages so far: tells whether a history answer is the freshest
      calls: 0,          // an answer to any but the newest load is dropped
      drifts: new Map(), // n -> {t, n}
    };
  }

  function addDrift(side, t, n) {
    if (typeof t !== 'number' || typeof n !== 'number' || side.drifts.has(n)) return false;
    side.drifts.set(n, { t, n });
    if (side.drifts.size > MAX_DRIFTS) side.drifts.delete(side.drifts.keys().next().value);
    return true;
  }

  /** What the dashboard shows of one model: its metric series and, while it has one, its
   *  challenger's (`challenger`: its description, or null), the drifts detected in either's
   *  live error, what its paradigm traces from its events (starting from `recent`, the entries
   *  of its events seen so far) and the cards. A new upload gets a new view, so nothing of the
   *  previous model can leak into its charts; a new challenger gets a new side. */
  function createModelView(model, { api, clock, redraw, recent, challenger }) {
    const own = createSide(model.name, model);
    let rival = null;        // the challenger's side
    let trace = createTrace(model.flavor);
    const cards = createMetricCards($('#metrics'), model);
    let queued = trace ? recent.slice() : [];  // event entries not traced yet
    let reported = null;     // the metrics the newest answer reports, the cards planned at the next flush
    let dirty = true;
    let closed = false;
    cards.sync([]);          // the paradigm's own cards show before any metric

    function takeLive(side, m) {
      if (!m) return;
      side.latest = m;
      if (side === own) cards.sync(Object.keys(m));
      side.series.push(clock.now(), m);
      dirty = true;
    }

    async function loadSide(side) {
      const call = ++side.calls;
      const receivedBefore = side.received;
      let history;
      let current;
      try {
        [history, current] = await Promise.all([
          api.getJSON(withModel('/api/metrics/history', side.name)),
          api.getJSON(withModel('/api/metrics', side.name)).catch((e) => (e instanceof AuthError ? Promise.reject(e) : null)),
        ]);
      } catch (e) {
        return;
      }
      if (call !== side.calls || closed || (side !== own && side !== rival)) return;
      const points = (history && Array.isArray(history.points) ? history.points : [])
        .filter((p) => p && typeof p.t === 'number' && p.metrics)
        .map((p) => ({ t: p.t, m: p.metrics }));
      side.series.seed(points);
      for (const d of (history && Array.isArray(history.drifts) ? history.drifts : [])) {
        if (d) addDrift(side, d.t, d.n);
      }
      const fresh = current && typeof current === 'object' ? current : null;
      if (side.received === receivedBefore) {
        // No live message since the requests went out: what they fetched is the newest.
        side.latest = fresh || (points.length ? points[points.length - 1].m : side.latest);
      }
      // The server leaves out metrics a model cannot feed (LogLoss without predict_proba_one):
      // the cards follow the metrics it reports. They are planned again in flush(), right
      // before they are drawn: planned here, new cards (an empty histogram, charts without
      // points) stood on the page until the next redraw, in place of cards already drawn.
      if (fresh && side === own) reported = Object.keys(fresh);
      dirty = true;
      redraw.request();
    }

    function setChallenger(desc) {
      if (modelKey(desc) === (rival ? modelKey(rival.desc) : null)) return false;
      rival = desc ? createSide(challengerOf(model.name), desc) : null;
      if (rival) loadSide(rival);
      dirty = true;
      redraw.request();
      return true;
    }
    if (challenger) rival = createSide(challengerOf(model.name), challenger);  // loaded by loadHistory()

    function drifts() {
      const marks = [...own.drifts.values()].map((d) => ({ ...d, who: 'champion' }));
      if (rival) marks.push(...[...rival.drifts.values()].map((d) => ({ ...d, who: 'challenger' })));
      return marks;
    }

    return {
      name: model.name,
      key: modelKey(model),
      flavor: model.flavor,
      /** The challenger's name (NAME@challenger) while there is one, else null. */
      get rivalName() { return rival ? rival.name : null; },
      /** Starts the challenger's side over for `desc` (null: it has none); false when unchanged. */
      setChallenger,
      loadHistory() {
        loadSide(own);
        if (rival) loadSide(rival);
      },
      /** The newest metrics (null before the first answer); a new object when they change. */
      latest: () => own.latest,
      rivalLatest: () => (rival ? rival.latest : null),
      /** A live metrics message: only the newest one before a redraw is drawn. */
      receive(raw) {
        own.pending = raw;
        own.received += 1;
        redraw.request();
      },
      /** A live metrics message of the challenger. */
      receiveRival(raw) {
        if (!rival) return;
        rival.pending = raw;
        rival.received += 1;
        redraw.request();
      },
      /** A drift event ({t, model, learns}) of this model or its challenger. */
      drift(d) {
        const side = d.model === own.name ? own : rival && d.model === rival.name ? rival : null;
        if (side && addDrift(side, d.t, d.learns)) {
          dirty = true;
          redraw.request();
        }
      },
      /** An event entry of this model. */
      event(entry) {
        if (!trace) return;
        queued.push(entry);
        if (queued.length > MAX_LOG * 2) queued = queued.slice(-MAX_LOG);  // hidden for long: no frames ran
        redraw.request();
      },
      /** Starts over from `entries` (its log, once a model event forgot the events before it):
       *  what the events trace, and the drifts, which come again with the history. */
      restart(entries) {
        trace = createTrace(model.flavor);
        queued = trace ? entries.slice() : [];
        own.drifts.clear();
        loadSide(own);
        dirty = true;
        redraw.request();
      },
      invalidate() { dirty = true; },
      flush() {
        if (reported) {  // before the live messages, which are newer
          cards.sync(reported);
          reported = null;
          dirty = true;
        }
        for (const side of rival ? [own, rival] : [own]) {
          if (side.pending !== null) {
            takeLive(side, parseObject(side.pending));
            side.pending = null;
          }
        }
        if (queued.length) {
          for (const entry of queued) trace.add(entry.kind, dataOf(entry));
          queued = [];
          dirty = true;
        }
        if (dirty) {
          dirty = false;
          cards.render({
            latest: own.latest || {},
            series: own.series,
            trace,
            rival: rival ? { version: rival.desc.version, own: model.version, latest: rival.latest, series: rival.series } : null,
            drifts: drifts(),
          });
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

  /** Every model as a tab, with its flavor and its headline metric, the default marked and
   *  first (then the others alphabetically, as the README says), the shown one selected;
   *  `onChoose(name)` hears of a click or an arrow key. The models come from GET /api/stats
   *  (sync(), after every model event too). Values come from the shown model's view (show())
   *  and, for the others, from GET /api/metrics?model= for each model that learned since the
   *  last refresh() (touch() marks them). A model with a challenger is marked (data-challenged,
   *  and a "vs vN" badge); the challengers' descriptions come from GET /api/models
   *  (challengers()). */
  function createModelPicker(api, onChoose) {
    const nav = $('#model-picker');
    const list = $('#model-list');
    let entries = new Map();  // name -> {desc, values, tab, metric, value}
    const rivals = new Map(); // name -> its challenger's description
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
      const rival = rivals.get(desc.name);
      tab.dataset.challenged = String(!!rival);
      if (rival) {
        const mark = htmlNode('span', 'tab-challenged', typeof rival.version === 'number' ? `vs v${rival.version}` : 'challenged');
        mark.title = `Challenged: ${rival.class || 'a challenger'} sees every call and is scored alike; its answers are only recorded`;
        mark.setAttribute('aria-hidden', 'true');
        top.append(mark, htmlNode('span', 'sr-only', `, challenged by version ${rival.version}`));
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

    /** The names in the tabs' order: the default first (where calls that name no model go,
     *  so the model most people came to see), then the others alphabetically. */
    function order() {
      const rank = (name) => (name === defaultName ? 0 : 1);
      return [...entries.keys()].sort((x, y) => rank(x) - rank(y) || (x < y ? -1 : x > y ? 1 : 0));
    }

    function draw() {
      const names = order();
      const shape = JSON.stringify([defaultName, names.map((n) => [n, entries.get(n).desc.flavor, modelKey(rivals.get(n))])]);
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
      /** Every model's challenger, from GET /api/models' answer. */
      challengers(models) {
        rivals.clear();
        for (const m of models) {
          if (m && typeof m.name === 'string' && m.challenger && typeof m.challenger === 'object') rivals.set(m.name, m.challenger);
        }
        draw();
      },
      challengerOf: (name) => rivals.get(name) || null,
      select(name) {
        selected = name;
        draw();
      },
      has: (name) => entries.has(name),
      description: (name) => (entries.has(name) ? entries.get(name).desc : null),
      get defaultName() { return defaultName; },
      first: () => (entries.size ? order()[0] : null),
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

  /** Which events the page has handled already. The events stream starts, at every
   *  connection, with the last RECENT_EVENTS events the server kept (?recent=): after a
   *  reconnection, those it had sent before come again, and are handled once. An event is
   *  known by its kind and data (its time is in it). Only the events of earlier connections
   *  count, the last REPLAYS of them (far more than the stream sends again): two alike events
   *  in one connection (two calls alike in one batch, which share their time) are both shown. */
  function createReplayFilter() {
    let before = new Set();  // kind and data of the last events of the earlier connections
    let current = [];        // of this connection, oldest first
    return {
      /** A new connection: what the earlier ones handled is what its first events repeat. */
      begin() {
        before = new Set([...before, ...current].slice(-REPLAYS));
        current = [];
      },
      /** False for an event handled before this connection (once: a later one alike is new). */
      fresh(kind, raw) {
        const key = `${kind}\n${raw}`;
        if (before.delete(key)) return false;
        current.push(key);
        if (current.length > REPLAYS * 2) current = current.slice(-REPLAYS);
        return true;
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

  /** The answer of an event: what its prediction cell shows. */
  const answerOf = (kind, ev) => (kind === 'forecast' ? ev.forecast : kind === 'rank' ? ev.ranking : ev.prediction);

  /** The cell of what the model answered, the answer as JSON in data-raw; data-label names it
   *  where the columns' heads are not shown (a phone stacks each row's cells). */
  function predictionCell(kind, ev) {
    const cell = answerCell(kind, ev);
    const answer = answerOf(kind, ev);
    cell.dataset.raw = answer === undefined ? '' : JSON.stringify(answer);
    cell.dataset.label = kind === 'forecast' ? 'forecast' : kind === 'rank' ? 'ranking' : 'prediction';
    return cell;
  }

  function answerCell(kind, ev) {
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
    const truth = td('c-num c-truth', kind === 'learn' ? fmtValue(ev.ground_truth) : '');
    truth.dataset.raw = kind === 'learn' && ev.ground_truth !== undefined ? JSON.stringify(ev.ground_truth) : '';
    truth.dataset.label = 'truth';
    const error = errorCell(kind, ev, flavor);
    error.classList.add('c-error');
    error.dataset.label = 'error';
    const rival = td('c-num c-rival', '');
    rival.dataset.label = 'challenger';
    tr.append(
      td('c-time', typeof ev.t === 'number' ? fmtClock(ev.t, true) : '—'),
      kindCell,
      td('c-id', id === null ? '—' : id, id === null ? '' : id),
      td('c-feat', feat, full),
      predictionCell(kind, ev),
      truth,
      error,
      rival);
    return tr;
  }

  /** Fills the Challenger cell of `row` with what the challenger answered (`ev`, its event):
   *  its prediction and, for a learn, its error or verdict; the answer as JSON in data-raw. */
  function fillRivalCell(row, kind, ev, flavor) {
    const old = row.querySelector('.c-rival');
    const cell = predictionCell(kind, ev);
    cell.classList.add('c-rival');
    const error = errorCell(kind, ev, flavor);
    if (error.textContent) {
      const judged = htmlNode('span', `rival-error ${error.className.replace('c-num', '').trim()}`.trim(), error.textContent);
      if (error.getAttribute('aria-label')) judged.setAttribute('aria-label', error.getAttribute('aria-label'));
      else judged.title = `error ${error.title || error.textContent}`;
      cell.append(judged);
    }
    cell.dataset.label = 'challenger';
    cell.title = `The challenger's answer, recorded, not returned${cell.title ? `\n${cell.title}` : ''}`;
    old.replaceWith(cell);
  }

  /** What pairs a model's event with its challenger's: the challenger sees the same calls, so
   *  the same kind with the same id or, without one, the same features and label. */
  function callKey(entry) {
    if (entry.key) return entry.key;
    const d = dataOf(entry);
    const id = d.id !== undefined && d.id !== null ? `#${JSON.stringify(d.id)}` : '';
    entry.key = `${entry.kind}|${id || JSON.stringify([d.features, d.ground_truth, d.user, d.horizon])}`;
    return entry.key;
  }

  /** The shown model's newest MAX_ROWS events, newest on top, with Pause / Resume. Events are
   *  kept raw and parsed only when shown: most never are when thousands arrive per second.
   *  Shown events also tell `clock` the server's time. While the model has a challenger, a
   *  Challenger column shows what it answered to the same call (its own events, paired with
   *  the model's when a row is drawn: see callKey). */
  function createEventsTable({ clock, redraw }) {
    let events = [];  // event entries, newest last
    let rivals = [];  // the challenger's event entries, newest last
    let challenged = false;
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

    // Pairs the challenger's events with the shown ones, each at most once, in order: a
    // challenger's event comes after the model's for the same call.
    function pair(shown) {
      const waiting = new Map();  // call key -> shown entries without a pair, oldest first
      for (const entry of shown) {
        if (entry.rival) continue;
        const key = callKey(entry);
        if (!waiting.has(key)) waiting.set(key, []);
        waiting.get(key).push(entry);
      }
      if (!waiting.size) return;
      for (const other of rivals) {
        if (other.paired) continue;
        const queue = waiting.get(callKey(other));
        const at = queue ? queue.findIndex((entry) => entry.seq < other.seq) : -1;
        if (at < 0) continue;
        const [entry] = queue.splice(at, 1);
        entry.rival = other;
        other.paired = true;
        if (entry.row) fillRivalCell(entry.row, other.kind, dataOf(other), flavor);
      }
    }

    function render() {
      dirty = false;
      replaced = false;
      const shown = events.slice(-MAX_ROWS);
      const newest = shown[shown.length - 1];
      if (newest && typeof dataOf(newest).t === 'number') clock.observe(newest.data.t, newest.seen);
      if (challenged) pair(shown);
      // A row is built once per entry; entries are one model's, and a model keeps its flavor.
      const rows = shown.reverse().map((ev) => {
        if (!ev.row) {
          ev.row = eventRow(ev.kind, dataOf(ev), flavor);
          if (ev.rival) fillRivalCell(ev.row, ev.rival.kind, dataOf(ev.rival), flavor);
        }
        return ev.row;
      });
      $('#events').replaceChildren(...rows);
      $('#events-empty').hidden = rows.length > 0;
    }

    function showColumn(on) {
      challenged = on;
      $('#events-table').classList.toggle('with-rival', on);
    }

    return {
      /** Starts over with another model's flavor and recent entries, and its challenger's
       *  (`rivalEntries`, or null when it has none). */
      reset(entries, modelFlavor, rivalEntries = null) {
        events = entries.slice(-MAX_ROWS);
        rivals = (rivalEntries || []).slice(-MAX_ROWS * 2);
        showColumn(rivalEntries !== null);
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
      /** An event of the shown model's challenger. */
      pushRival(entry) {
        rivals.push(entry);
        if (rivals.length > MAX_ROWS * 4) rivals = rivals.slice(-MAX_ROWS * 2);
        if (!paused) {
          dirty = true;
          redraw.request();
        }
      },
      /** The shown model got or lost its challenger (`rivalEntries` as for reset). */
      challenge(rivalEntries) {
        rivals = (rivalEntries || []).slice(-MAX_ROWS * 2);
        showColumn(rivalEntries !== null);
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
      load: async () => {
        replays.begin();
        const [[stats, of], models] = await Promise.all([fetchStats(), api.getJSON('/api/models')]);
        applyModels(models);
        applyStats(stats, true, of);
        if (view && of !== view.name) refreshStats().catch(() => {});  // the shown model's latency at once
        picker.refresh().catch(() => {});
      },
      metricsPath: () => withModel('/api/stream/metrics', view ? view.name : null),
      challengerPath: () => (view && view.rivalName ? withModel('/api/stream/metrics', view.rivalName) : null),
      metrics: (raw) => { if (view) view.receive(raw); },
      challengerMetrics: (raw) => { if (view) view.receiveRival(raw); },
      event: onEvent,
    });
    const emptyState = createEmptyState(api);
    const tokenForm = createTokenForm(api, () => {
      emptyState.renderSnippets();
      connection.authorize();
    });
    const picker = createModelPicker(api, choose);
    const replays = createReplayFilter();
    const log = createEventLog();
    const times = createRelativeTimes(clock);
    const modelPanel = createModelPanel(times);
    const versions = createVersionsList(api, times);
    const throughput = createThroughputCard();
    const latency = createLatencyCard();
    const eventsTable = createEventsTable({ clock, redraw });
    let wanted = hashModel();  // the model the user chose (kept in the URL), null to follow the default
    let shownKey;     // the model on screen: undefined before the server first answers, null for none
    let view = null;  // its view, while there is one
    let modelEvents = 0;  // model and delete events so far: a models answer older than one is stale

    function flush() {
      if (view) {
        view.flush();
        picker.show(view.name, view.latest());
        liveVersions();
      }
      eventsTable.flush();
    }

    /** The serving version's and the challenger's learns (from the last polls) and metrics
     *  (from the view) to the versions list. */
    function liveVersions() {
      if (!view) return;
      const desc = picker.description(view.name);
      const rival = picker.challengerOf(view.name);
      versions.live(desc ? { learns: desc.learns, values: view.latest() } : null,
        rival && view.rivalName ? { learns: rival.learns, values: view.rivalLatest() } : null);
    }

    /** The shown view follows its model's challenger (picker.challengerOf): a new one, or
     *  none, starts its side, the table's column, the versions list and its stream over. */
    function followChallenger() {
      if (!view) return;
      const rival = picker.challengerOf(view.name);
      if (!view.setChallenger(rival)) return;
      eventsTable.challenge(rival ? log.recent(challengerOf(view.name)) : null);
      versions.load(picker.description(view.name));
      connection.follow();
    }

    /** GET /api/models' answer: which models have a challenger (in `descriptions`, by name;
     *  `models` lists the names alone). */
    function applyModels(models) {
      const described = models && models.descriptions && typeof models.descriptions === 'object'
        ? Object.values(models.descriptions) : [];
      picker.challengers(described);
      followChallenger();
    }

    function needToken() {
      if (connection.refuse()) tokenForm.ask();
    }

    /** A model event (an upload, a challenger, a promotion, a rollback) or a delete: the events
     *  of its model before it are of another model, and so are its challenger's when it was
     *  deleted or promoted. They leave the log, and the shown view and table start over from
     *  what is left. What the models are now, the stats and models this asks for say (they
     *  add, replace and remove tabs, views and challengers): the event itself may be an old
     *  one, sent again by ?recent= when the page opened, so it changes nothing by itself. */
    function onModelEvent(kind, raw) {
      modelEvents += 1;
      const data = parseObject(raw);
      const name = data && (typeof data.name === 'string' ? data.name : data.model);
      const gone = kind === 'delete' && view !== null && name === view.name;  // no ?model= for it, no history
      if (typeof name === 'string') {
        const names = name === baseOf(name) && (kind === 'delete' || data.cause === 'promote') ? [name, challengerOf(name)] : [name];
        for (const n of names) log.forget(n);
        if (view && names.some((n) => n === view.name || n === view.rivalName)) {
          if (names.includes(view.name) && !gone) view.restart(log.recent(view.name));
          eventsTable.reset(log.recent(view.name), view.flavor, view.rivalName ? log.recent(view.rivalName) : null);
        }
      }
      refreshStats(!gone).catch(() => {});
    }

    function onEvent(kind, raw) {
      if (!replays.fresh(kind, raw)) return;  // handled before a reconnection, sent again by ?recent=
      if (kind === 'model' || kind === 'delete') {
        onModelEvent(kind, raw);
        return;
      }
      const entry = eventEntry(kind, raw);
      const name = modelOf(entry);
      if (name === null) return;
      if (kind === 'drift') {
        if (view && baseOf(name) === view.name) view.drift(dataOf(entry));
        return;
      }
      log.push(name, entry);
      if (kind === 'learn') picker.touch(name);
      if (view && view.name === name) {
        view.event(entry);
        eventsTable.push(entry);
      } else if (view && view.rivalName === name) {
        eventsTable.pushRival(entry);
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

    /** Shows the chosen model; true when that changed the view. */
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
      const rival = m ? picker.challengerOf(m.name) : null;
      view = m ? createModelView(m, { api, clock, redraw, recent: log.recent(m.name), challenger: rival }) : null;
      picker.select(m ? m.name : null);
      eventsTable.reset(m ? log.recent(m.name) : [], m ? m.flavor : null, rival ? log.recent(challengerOf(m.name)) : null);
      versions.load(m);
      if (moved) {
        throughput.reset(m ? m.name : null);
        latency.reset(m ? m.name : null);
      }
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
      connection.follow();  // the metrics streams follow the name and the challenger
      redraw.request();
      return true;
    }

    /** GET /api/stats for the shown model (?model=: its rates and latency) or, while none is
     *  shown, when it was just deleted (`scoped` false) or once it is gone (a 404: deleted, its
     *  event is on the way), for the server. Resolves to [the answer, the model it is of or null]. */
    async function fetchStats(scoped = true) {
      const name = view && scoped ? view.name : null;
      if (name !== null) {
        try {
          return [await api.getJSON(withModel('/api/stats', name)), name];
        } catch (e) {
          if (!(e && e.status === 404)) throw e;
        }
      }
      return [await api.getJSON('/api/stats'), null];
    }

    /** A stats answer, asked for the model `of` (null: the server's). */
    function applyStats(stats, resync, of) {
      const described = stats.models && typeof stats.models === 'object' ? Object.values(stats.models) : [];
      picker.sync(described.filter((m) => m && typeof m.name === 'string'), stats.default);
      const m = chosen();
      if (!showModel(m) && resync && view) view.loadHistory();
      modelPanel.render(m);
      modelPanel.showUptime(stats.uptime_s);
      throughput.update(m && m.rates ? m.rates : stats.rates);
      latency.update(stats, of);
    }

    /** Asks the stats (`scoped`: of the shown model, else of the server) and the models again. */
    async function refreshStats(scoped = true) {
      const before = modelEvents;
      const [[stats, of], models] = await Promise.all([fetchStats(scoped), api.getJSON('/api/models')]);
      if (modelEvents === before) applyModels(models);  // else it may not know of a new challenger yet
      applyStats(stats, false, of);
      liveVersions();
    }

    async function pollStats() {
      if (connection.live) {
        try {
          await refreshStats();
          await picker.refresh();
        } catch (e) {
          if (!(e instanceof AuthError) && !(e && e.status)) connection.fail();
        }
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
        setInterval(times.tick, AGO_MS);
      },
    };
  }

  const start = () => createDashboard().start();
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
