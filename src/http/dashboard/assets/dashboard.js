// The Hookbox dashboard's behaviour: every page reads and acts through the admin API
// (/api/admin/...) with the session cookie, and sends the page's CSRF token on every change.
// Data is put into the page with textContent and DOM nodes, never as HTML.
(() => {
  const csrfToken = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
  const page = document.body.dataset.page;
  const canAct = document.body.dataset.role === 'admin';
  const charts = window.HookboxCharts;
  // Shared with destinations.js, which the layout loads after this file (both deferred, in order):
  // one element builder, one API call (one answer to a 401) and one polling loop for every page.
  window.HookboxDom = { h, api, every };

  // ---- plumbing ----

  class ApiError extends Error {
    constructor(message, code, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  function signInAgain() {
    const next = location.pathname + location.search;
    location.assign(`/dashboard/sign-in?next=${encodeURIComponent(next)}`);
  }

  /** Call the admin API; throws ApiError with the API's own message. */
  async function api(path, options = {}) {
    const method = options.method ?? 'GET';
    const headers = { accept: 'application/json' };
    if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch {
      throw new ApiError('Hookbox is unreachable; retrying.', 'network', 0);
    }
    if (response.status === 401) {
      signInAgain();
      throw new ApiError('Your session ended; sign in again.', 'unauthorized', 401);
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = body?.error;
      throw new ApiError(
        error?.message ?? `HTTP ${response.status}`,
        error?.code ?? 'error',
        response.status,
      );
    }
    return body;
  }

  /** Build an element: h('td', { class: 'num' }, 'text', childNode). */
  function h(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes ?? {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const $ = (selector) => document.querySelector(selector);

  const announcer = $('#announcer');
  function announce(message) {
    // Clear first, so the same message twice is read twice.
    announcer.textContent = '';
    setTimeout(() => {
      announcer.textContent = message;
    }, 50);
  }

  const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  function timeElement(iso) {
    if (!iso) return h('span', { class: 'empty' }, '—');
    return h('time', { datetime: iso, title: iso }, dateTime.format(new Date(iso)));
  }

  function statusPill(status) {
    return h('span', { class: `pill pill-${status}` }, status);
  }

  function eventLink(event, label) {
    return h(
      'a',
      { href: `/dashboard/events/${encodeURIComponent(event.id)}`, 'data-key': `link-${event.id}` },
      label,
    );
  }

  /** Show a polling error once, above the content; cleared by the next success. */
  function reportProblem(error) {
    let banner = $('#problem');
    if (!error) {
      banner?.remove();
      return;
    }
    if (!banner) {
      banner = h('p', { id: 'problem', class: 'notice notice-readonly', role: 'alert' });
      $('main').prepend(banner);
    }
    banner.textContent = `Could not refresh: ${error.message}`;
  }

  /**
   * Run `task` now and again `interval()` ms after each run finishes; paused while the tab is
   * hidden. `now()` runs it at once (after the current run, if one is going).
   */
  function every(interval, task) {
    let timer = null;
    let running = false;
    let again = false;
    async function run() {
      clearTimeout(timer);
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        await task();
        reportProblem(null);
      } catch (error) {
        if (error.status !== 401) reportProblem(error);
      } finally {
        running = false;
      }
      if (again) {
        again = false;
        return run();
      }
      if (!document.hidden) timer = setTimeout(run, interval());
    }
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) clearTimeout(timer);
      else run();
    });
    run();
    return { now: run };
  }

  /** Keep keyboard focus on the same logical element across a re-render. */
  function keepFocus(render) {
    const key = document.activeElement?.dataset?.key;
    render();
    if (key) document.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
  }

  /** A modal confirmation; resolves true on confirm. Focus starts on Cancel and returns to the opener. */
  function confirmDialog({ title, text, confirmLabel }) {
    const dialog = $('#confirm-dialog');
    const opener = document.activeElement;
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = confirmLabel;
    return new Promise((resolve) => {
      dialog.addEventListener(
        'close',
        () => {
          resolve(dialog.returnValue === 'confirm');
          if (opener instanceof HTMLElement) opener.focus();
        },
        { once: true },
      );
      dialog.returnValue = '';
      dialog.showModal();
      $('#confirm-cancel').focus();
    });
  }

  function setResult(element, message, isError) {
    element.textContent = message;
    element.classList.toggle('error', Boolean(isError));
  }

  // ---- overview ----

  const checkLabels = {
    recentFailures: 'Recent failures',
    processingBacklog: 'Processing backlog',
    oldestPending: 'Oldest pending',
    averageAttempts: 'Average attempts',
    duplicateEvents: 'Duplicate deliveries',
    successRate: 'Success rate',
    blockedKeys: 'Blocked ordering keys',
  };
  const singularUnits = {
    events: 'event',
    keys: 'key',
    minutes: 'minute',
    attempts: 'attempt',
    deliveries: 'delivery',
  };
  /** Same as formatCheckValue in pages.ts: `3 events`, `1 event`, `95%`. */
  const formatCheckValue = (value, unit) =>
    unit === 'percent' ? `${value}%` : `${value} ${value === 1 ? (singularUnits[unit] ?? unit) : unit}`;

  function overview() {
    const windowKey = 'hookbox.chartWindow';
    const samplesKey = 'hookbox.oldestPending';
    let windowMinutes = Number(sessionStorage.getItem(windowKey)) === 1440 ? 1440 : 60;
    let seriesFetchedAt = 0;
    let lastStatus = $('#status .status-label')?.textContent;

    for (const button of document.querySelectorAll('[data-window]')) {
      button.setAttribute('aria-pressed', String(Number(button.dataset.window) === windowMinutes));
      button.addEventListener('click', () => {
        windowMinutes = Number(button.dataset.window);
        sessionStorage.setItem(windowKey, String(windowMinutes));
        for (const other of document.querySelectorAll('[data-window]')) {
          other.setAttribute('aria-pressed', String(other === button));
        }
        seriesFetchedAt = 0;
        refresh.now();
      });
    }

    function renderStatus(report) {
      const failing = Object.values(report.checks).filter((check) => !check.passed).length;
      const status = $('#status');
      const detail = `${failing} of ${Object.keys(report.checks).length} checks failing`;
      // Only a change is written, so screen readers hear the status when it moves, not every poll.
      if (lastStatus !== report.status || status.querySelector('.status-detail').textContent !== detail) {
        status.className = `status status-${report.status.toLowerCase()}`;
        status.querySelector('.status-label').textContent = report.status;
        status.querySelector('.status-detail').textContent = detail;
        lastStatus = report.status;
      }
      $('#updated-at').replaceChildren('Updated ', timeElement(report.timestamp));
    }

    function renderChecks(checks) {
      const rows = Object.entries(checks).map(([name, check]) =>
        h(
          'tr',
          { 'data-check': name },
          h(
            'th',
            { scope: 'row' },
            checkLabels[name] ?? name,
            h('span', { class: 'check-message' }, check.message),
          ),
          h('td', { class: 'num nowrap' }, formatCheckValue(check.value, check.unit)),
          h('td', { class: 'num nowrap' }, `${check.bound} ${formatCheckValue(check.threshold, check.unit)}`),
          h(
            'td',
            {},
            h(
              'span',
              { class: `pill ${check.passed ? 'pill-pass' : 'pill-fail'}` },
              check.passed ? 'Pass' : 'Fail',
            ),
          ),
        ),
      );
      $('#checks tbody').replaceChildren(...rows);
    }

    function renderAlerts(report) {
      const alerts = report.alerts ?? [];
      $('#alerts').replaceChildren(
        alerts.length === 0
          ? h('p', { class: 'empty' }, 'No active alerts.')
          : h(
              'ul',
              { class: 'alerts' },
              alerts.map((alert) =>
                h(
                  'li',
                  { class: `alert alert-${alert.severity.toLowerCase()}` },
                  h(
                    'p',
                    {},
                    h('span', { class: `pill pill-${alert.severity.toLowerCase()}` }, alert.severity),
                    ' ',
                    h('strong', {}, alert.type),
                    `: ${alert.message}`,
                  ),
                  h('p', { class: 'alert-action' }, alert.action),
                ),
              ),
            ),
      );
      const recommendations = report.recommendations ?? [];
      $('#recommendations').replaceChildren(
        ...(recommendations.length === 0
          ? []
          : [
              h('h3', {}, 'Recommendations'),
              h(
                'ol',
                { class: 'recommendations' },
                recommendations.map((text) => h('li', {}, text)),
              ),
            ]),
      );
    }

    function renderLatency(report) {
      const d = report.metrics.handlerDurationMs;
      const svg = $('#chart-latency');
      charts.drawBars(
        svg,
        [
          { label: 'p50', value: d.p50, className: 'bar-p50' },
          { label: 'p95', value: d.p95, className: 'bar-p95' },
          { label: 'p99', value: d.p99, className: 'bar-p99' },
        ],
        'ms',
      );
      svg.setAttribute(
        'aria-label',
        `Handler duration over the last ${report.metrics.window.minutes} minutes: p50 ${d.p50} ms, p95 ${d.p95} ms, p99 ${d.p99} ms`,
      );
      $('#latency-samples').textContent =
        `${d.samples} handler runs in the last ${report.metrics.window.minutes} min`;
    }

    function renderQueue(report) {
      $('#backlog-now').textContent = String(report.metrics.backlog);
      const age = report.checks.oldestPending.value;
      $('#oldest-now').textContent = `${age} min`;
      let samples = [];
      try {
        samples = JSON.parse(sessionStorage.getItem(samplesKey) ?? '[]');
      } catch {
        samples = [];
      }
      const now = Date.now();
      samples = samples.filter((s) => now - s.t < 24 * 60 * 60_000).slice(-2000);
      samples.push({ t: now, v: age });
      sessionStorage.setItem(samplesKey, JSON.stringify(samples));
      const svg = $('#chart-oldest');
      charts.drawSpark(svg, samples, report.checks.oldestPending.threshold);
      svg.setAttribute(
        'aria-label',
        `Oldest pending age: ${age} minutes now, ${samples.length} samples while this page is open`,
      );
    }

    function renderSeries(series) {
      const start = Date.parse(series.window.since);
      const sum = (values) => values.reduce((total, value) => total + value, 0);
      const span = series.window.minutes === 1440 ? 'day' : 'hour';
      const throughput = $('#chart-throughput');
      charts.drawLines(throughput, {
        start,
        bucketMs: series.bucketMs,
        series: [
          { key: 'received', values: series.received },
          { key: 'processed', values: series.processed },
          { key: 'failed', values: series.failed },
        ],
      });
      throughput.setAttribute(
        'aria-label',
        `Events per minute over the last ${span}: ${sum(series.received)} received, ${sum(series.processed)} processed, ${sum(series.failed)} failed attempts`,
      );
      const backlog = $('#chart-backlog');
      charts.drawLines(backlog, {
        start,
        bucketMs: series.bucketMs,
        series: [{ key: 'backlog', values: series.backlog }],
        area: 'backlog',
      });
      const last = series.backlog[series.backlog.length - 1] ?? 0;
      backlog.setAttribute(
        'aria-label',
        `Backlog over the last ${span}: ${last} now, at most ${Math.max(0, ...series.backlog)}`,
      );
    }

    const refresh = every(
      () => 5000,
      async () => {
        const wantSeries = windowMinutes === 60 || Date.now() - seriesFetchedAt > 30_000;
        const [monitor, series] = await Promise.all([
          api('/api/admin/webhooks/monitor?report=true&refresh=true'),
          wantSeries ? api(`/api/admin/timeseries?window=${windowMinutes}`) : null,
        ]);
        const report = monitor.data;
        renderStatus(report);
        renderChecks(report.checks);
        renderAlerts(report);
        renderLatency(report);
        renderQueue(report);
        if (series) {
          seriesFetchedAt = Date.now();
          renderSeries(series.data);
        }
      },
    );
  }

  // ---- events ----

  function localInputToIso(value) {
    if (!value) return null;
    const ms = new Date(value).getTime();
    return Number.isNaN(ms) ? null : new Date(ms).toISOString();
  }

  function eventsPage() {
    const params = new URLSearchParams(location.search);
    const query = new URLSearchParams({ limit: '50' });
    for (const name of ['search', 'source', 'provider', 'type', 'status']) {
      const value = params.get(name)?.trim();
      if (value) query.set(name, value);
    }
    for (const name of ['since', 'until']) {
      const iso = localInputToIso(params.get(name));
      if (iso) query.set(name, iso);
    }
    const cursors = [null];
    let pageIndex = 0;
    let shownIds = null;

    const tbody = $('#events-table tbody');
    const summary = $('#events-summary');

    function row(event, isNew) {
      return h(
        'tr',
        { class: isNew ? 'is-new' : undefined, 'data-id': event.id },
        h('td', {}, timeElement(event.receivedAt)),
        h(
          'td',
          {},
          eventLink(event, event.eventType),
          h(
            'div',
            { class: 'mono hint' },
            event.id,
            h('span', { class: 'visually-hidden' }, ', dedupe key'),
            ` · ${event.dedupeKey}`,
          ),
        ),
        h('td', {}, event.source),
        h('td', {}, event.provider),
        h('td', {}, statusPill(event.status)),
        h('td', { class: 'num' }, event.attempts),
        h('td', { class: 'num' }, event.deliveryCount),
        h('td', { class: 'error-text' }, event.lastError ?? ''),
      );
    }

    async function load() {
      const pageQuery = new URLSearchParams(query);
      const cursor = cursors[pageIndex];
      if (cursor) pageQuery.set('cursor', cursor);
      const { data } = await api(`/api/admin/events?${pageQuery}`);
      const previous = shownIds;
      const fresh = previous && pageIndex === 0 ? data.events.filter((event) => !previous.has(event.id)) : [];
      keepFocus(() => {
        tbody.replaceChildren(
          ...(data.events.length === 0
            ? [h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No events match these filters.'))]
            : data.events.map((event) => row(event, fresh.includes(event)))),
        );
      });
      shownIds = new Set(data.events.map((event) => event.id));
      cursors[pageIndex + 1] = data.nextCursor;
      $('#page-older').disabled = !data.nextCursor;
      $('#page-newer').disabled = pageIndex === 0;
      $('#page-number').textContent = `Page ${pageIndex + 1}`;
      summary.textContent =
        data.events.length === 0
          ? 'No events.'
          : `Showing ${data.events.length} event${data.events.length === 1 ? '' : 's'}.`;
      if (fresh.length > 0) announce(`${fresh.length} new event${fresh.length === 1 ? '' : 's'}`);
    }

    // New events appear on the first page by themselves; older pages hold still while read.
    const refresh = every(
      () => (pageIndex === 0 ? 4000 : 60_000),
      () => load(),
    );
    $('#page-older').addEventListener('click', () => {
      pageIndex += 1;
      shownIds = null;
      refresh.now();
    });
    $('#page-newer').addEventListener('click', () => {
      pageIndex = Math.max(0, pageIndex - 1);
      shownIds = null;
      refresh.now();
    });

    // Known event types, as suggestions for the type filter.
    api('/api/admin/statistics')
      .then(({ data }) => {
        $('#known-types').replaceChildren(
          ...Object.keys(data.byType ?? {}).map((type) => h('option', { value: type })),
        );
      })
      .catch(() => {});
  }

  // ---- event detail ----

  /** Pretty-printed JSON as spans (keys, strings, numbers, literals); other text as is. */
  function renderBody(code, body, encoding) {
    if (encoding === 'base64') {
      code.replaceChildren(body);
      return 'base64: the body is not UTF-8 text';
    }
    let pretty;
    try {
      pretty = JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      code.replaceChildren(body);
      return 'as received';
    }
    const token = /("(?:\\.|[^"\\])*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b/g;
    const nodes = [];
    let last = 0;
    for (const match of pretty.matchAll(token)) {
      if (match.index > last) nodes.push(pretty.slice(last, match.index));
      if (match[1]) {
        nodes.push(h('span', { class: match[2] ? 'json-key' : 'json-string' }, match[1]));
        if (match[2]) nodes.push(match[2]);
      } else if (match[3]) nodes.push(h('span', { class: 'json-number' }, match[3]));
      else nodes.push(h('span', { class: 'json-literal' }, match[4]));
      last = match.index + match[0].length;
    }
    nodes.push(pretty.slice(last));
    code.replaceChildren(...nodes);
    return 'JSON, pretty-printed';
  }

  function eventDetail() {
    const id = document.body.dataset.eventId;
    const path = `/api/admin/events/${encodeURIComponent(id)}`;
    const result = $('#action-result');
    let event = null;
    let bodyShown = false;

    function renderMeta(e) {
      const item = (term, ...value) => h('div', {}, h('dt', {}, term), h('dd', {}, ...value));
      $('#event-meta').replaceChildren(
        item('Status', statusPill(e.status)),
        item('Source', e.source),
        item('Provider', e.provider),
        item('Type', e.eventType),
        item('Dedupe key', h('code', {}, e.dedupeKey)),
        item('Received', timeElement(e.receivedAt)),
        item('Deliveries', `${e.deliveryCount}`, e.deliveryCount > 1 ? ' (redelivered)' : ''),
        item('Last delivery', timeElement(e.lastDeliveryAt)),
        item('Attempts', `${e.attempts.length} recorded`),
        item('Next attempt', ['pending', 'failed'].includes(e.status) ? timeElement(e.nextAttemptAt) : '—'),
        item('Processed', timeElement(e.processedAt)),
        item(
          'Held by',
          e.lockedBy ? `${e.lockedBy} until ` : '—',
          e.lockedBy ? timeElement(e.lockedUntil) : '',
        ),
        item('Last error', e.lastError ? h('span', { class: 'error-text' }, e.lastError) : '—'),
        item('Body SHA-256', h('code', {}, e.bodySha256)),
      );
    }

    function renderAttempts(attempts) {
      $('#attempts').replaceChildren(
        ...(attempts.length === 0
          ? [h('li', { class: 'empty' }, 'No attempt yet.')]
          : attempts.map((attempt) =>
              h(
                'li',
                { class: `outcome-${attempt.outcome}` },
                h(
                  'div',
                  { class: 'attempt-head' },
                  `#${attempt.attemptNumber} `,
                  statusPill(attempt.outcome),
                ),
                h(
                  'div',
                  { class: 'hint' },
                  timeElement(attempt.startedAt),
                  ` · ${attempt.durationMs} ms · ${attempt.workerId}`,
                ),
                attempt.error ? h('p', { class: 'attempt-error' }, attempt.error) : null,
              ),
            )),
      );
    }

    function renderHeaders(headers) {
      const entries = Object.entries(headers).sort(([a], [b]) => a.localeCompare(b));
      $('#event-headers tbody').replaceChildren(
        ...(entries.length === 0
          ? [h('tr', {}, h('td', { colspan: 2, class: 'empty' }, 'No headers stored.'))]
          : entries.map(([name, value]) =>
              h('tr', {}, h('th', { scope: 'row', class: 'mono' }, name), h('td', { class: 'mono' }, value)),
            )),
      );
    }

    function renderActions(e) {
      if (!canAct) return;
      const retry = $('#action-retry');
      retry.textContent = e.status === 'processed' ? 'Replay' : 'Retry';
      retry.disabled = e.status === 'processing';
      $('#action-mark').disabled = e.status === 'processed' || e.status === 'processing';
      $('#action-delete').disabled = false;
    }

    async function load() {
      let response;
      try {
        response = await api(path);
      } catch (error) {
        if (error.status === 404) {
          setResult(result, 'This event no longer exists.', true);
          for (const button of document.querySelectorAll('.toolbar button')) button.disabled = true;
          return;
        }
        throw error;
      }
      const previous = event;
      event = response.data;
      const pill = $('#event-status');
      pill.className = `pill pill-${event.status}`;
      pill.textContent = event.status;
      if (previous && previous.status !== event.status) announce(`Status is now ${event.status}`);
      renderMeta(event);
      renderAttempts(event.attempts);
      renderHeaders(event.headers);
      if (!bodyShown) {
        $('#body-encoding').textContent =
          `(${renderBody($('#event-body code'), event.body, event.bodyEncoding)})`;
        bodyShown = true;
      }
      renderActions(event);
    }

    // Poll fast while the event is on its way, slowly once it has settled.
    const refresh = every(
      () =>
        event && ['pending', 'processing', 'failed', 'delivering'].includes(event.status) ? 1500 : 10_000,
      load,
    );

    if (!canAct) return;

    async function act(button, run, success) {
      button.disabled = true;
      setResult(result, 'Working…');
      try {
        const response = await run();
        setResult(result, success(response?.data));
      } catch (error) {
        setResult(result, error.message, true);
      }
      await refresh.now();
    }

    $('#action-retry').addEventListener('click', async (click) => {
      const button = click.currentTarget;
      const replay = event?.status === 'processed';
      if (
        replay &&
        !(await confirmDialog({
          title: 'Replay this processed event?',
          text: 'Its handlers run again. Make sure they are idempotent.',
          confirmLabel: 'Replay',
        }))
      ) {
        return;
      }
      await act(
        button,
        () => api(`${path}/retry`, { method: 'POST', body: replay ? { force: true } : {} }),
        (data) => `Requeued (was ${data.previousStatus}); a worker picks it up next.`,
      );
    });

    $('#action-mark').addEventListener('click', (click) =>
      act(
        click.currentTarget,
        () =>
          api('/api/admin/webhooks/monitor', {
            method: 'POST',
            body: { action: 'mark-processed', params: { eventId: id } },
          }),
        (data) =>
          data.changed ? `Marked processed (was ${data.previousStatus}).` : 'It was already processed.',
      ),
    );

    $('#action-delete').addEventListener('click', async () => {
      const confirmed = await confirmDialog({
        title: 'Delete this event?',
        text: `Event ${id} and its attempts are deleted for good. A provider redelivery would store it again as new.`,
        confirmLabel: 'Delete event',
      });
      if (!confirmed) return;
      setResult(result, 'Deleting…');
      try {
        await api(path, { method: 'DELETE' });
        location.assign(`/dashboard/events?deleted=${encodeURIComponent(id)}`);
      } catch (error) {
        setResult(result, error.message, true);
      }
    });
  }

  // ---- dead letters ----

  function deadLetters() {
    const tbody = $('#dead-table tbody');
    const selected = new Set();
    let events = [];
    let nextCursor = null;
    let wanted = 100;
    let working = false;

    const selectAll = $('#select-all');
    const retrySelected = $('#retry-selected');
    const retryAll = $('#retry-all');

    function updateSelection() {
      if (!canAct) return;
      const visible = events.map((e) => e.id);
      for (const id of [...selected]) if (!visible.includes(id)) selected.delete(id);
      const count = selected.size;
      retrySelected.textContent = count === 0 ? 'Retry selected' : `Retry ${count} selected`;
      retrySelected.disabled = working || count === 0;
      selectAll.checked = count > 0 && count === visible.length;
      selectAll.indeterminate = count > 0 && count < visible.length;
      selectAll.disabled = working || visible.length === 0;
    }

    function row(event) {
      const cells = [];
      if (canAct) {
        cells.push(
          h(
            'td',
            { class: 'select' },
            h('input', {
              type: 'checkbox',
              'data-key': `select-${event.id}`,
              'aria-label': `Select event ${event.eventType} ${event.id}`,
              checked: selected.has(event.id),
              disabled: working,
              onchange: (change) => {
                if (change.currentTarget.checked) selected.add(event.id);
                else selected.delete(event.id);
                updateSelection();
              },
            }),
          ),
        );
      }
      cells.push(
        h('td', {}, eventLink(event, event.eventType), h('div', { class: 'mono hint' }, event.id)),
        h('td', {}, event.source),
        h('td', {}, event.eventType),
        h('td', { class: 'num' }, event.attempts),
        h('td', { class: 'error-text' }, event.lastError ?? ''),
        h('td', {}, timeElement(event.receivedAt)),
      );
      return h('tr', { 'data-id': event.id }, ...cells);
    }

    async function load() {
      const [list, statistics] = await Promise.all([
        api(`/api/admin/events?status=dead&limit=${Math.min(1000, wanted)}`),
        api('/api/admin/statistics'),
      ]);
      events = list.data.events;
      nextCursor = list.data.nextCursor;
      const total = statistics.data.byStatus.dead;
      keepFocus(() => {
        tbody.replaceChildren(
          ...(events.length === 0
            ? [h('tr', {}, h('td', { colspan: canAct ? 7 : 6, class: 'empty' }, 'No dead letters.'))]
            : events.map(row)),
        );
      });
      $('#dead-summary').textContent =
        total === 0
          ? 'No dead events.'
          : `${total} dead event${total === 1 ? '' : 's'}; showing ${events.length}.`;
      $('#dead-more').hidden = !nextCursor;
      if (canAct) {
        retryAll.textContent = total === 0 ? 'Retry all dead letters' : `Retry all ${total} dead letters…`;
        retryAll.disabled = working || total === 0;
        retryAll.dataset.total = String(total);
      }
      updateSelection();
    }

    // While a bulk retry runs, the list holds still; it refreshes after.
    const refresh = every(
      () => 5000,
      () => (working ? Promise.resolve() : load()),
    );
    $('#dead-more').addEventListener('click', () => {
      wanted += 100;
      refresh.now();
    });
    if (!canAct) return;

    selectAll.addEventListener('change', () => {
      for (const event of events) {
        if (selectAll.checked) selected.add(event.id);
        else selected.delete(event.id);
      }
      for (const box of tbody.querySelectorAll('input[type="checkbox"]')) box.checked = selectAll.checked;
      updateSelection();
    });

    const progress = $('#bulk-progress');
    const bar = $('#bulk-progress-bar');
    const progressText = $('#bulk-progress-text');

    function setWorking(value) {
      working = value;
      for (const box of tbody.querySelectorAll('input[type="checkbox"]')) box.disabled = value;
      retryAll.disabled = value;
      updateSelection();
    }

    retrySelected.addEventListener('click', async () => {
      const ids = [...selected];
      if (ids.length === 0) return;
      setWorking(true);
      progress.hidden = false;
      $('#bulk-progress-label').textContent = 'Retrying selected';
      bar.max = ids.length;
      bar.value = 0;
      progressText.textContent = `0 of ${ids.length}`;
      let done = 0;
      const failures = [];
      // A few at a time: quick for an operator's selection, gentle on the server.
      const queue = [...ids];
      async function worker() {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          try {
            await api(`/api/admin/events/${encodeURIComponent(id)}/retry`, { method: 'POST', body: {} });
            selected.delete(id);
          } catch (error) {
            failures.push(`${id}: ${error.message}`);
          }
          done += 1;
          bar.value = done;
          progressText.textContent = `${done} of ${ids.length}`;
        }
      }
      await Promise.all([worker(), worker(), worker()]);
      const requeued = ids.length - failures.length;
      progressText.textContent =
        `Requeued ${requeued} of ${ids.length}` +
        (failures.length ? `; failed: ${failures.join('; ')}` : '.');
      announce(`Requeued ${requeued} of ${ids.length} events`);
      setWorking(false);
      await refresh.now();
    });

    retryAll.addEventListener('click', async () => {
      const total = Number(retryAll.dataset.total ?? 0);
      const confirmed = await confirmDialog({
        title: `Retry all ${total} dead letters?`,
        text: 'Every dead event goes back to the queue with a fresh set of attempts. Fix the cause of the failures first.',
        confirmLabel: 'Retry all',
      });
      if (!confirmed) return;
      setWorking(true);
      progress.hidden = false;
      $('#bulk-progress-label').textContent = 'Retrying all dead letters';
      bar.removeAttribute('value');
      progressText.textContent = 'Requeueing…';
      try {
        const { data } = await api('/api/admin/events/retry', { method: 'POST', body: { status: ['dead'] } });
        bar.max = Math.max(1, data.count);
        bar.value = data.count;
        const events = `${data.count} event${data.count === 1 ? '' : 's'}`;
        progressText.textContent = `Requeued ${events}.`;
        announce(`Requeued ${events}`);
      } catch (error) {
        bar.value = 0;
        progressText.textContent = `Failed: ${error.message}`;
      }
      selected.clear();
      setWorking(false);
      await refresh.now();
    });
  }

  // ---- duplicates ----

  function duplicates() {
    every(
      () => 10_000,
      async () => {
        const { data } = await api('/api/admin/duplicates?limit=100');
        $('#redelivered-table tbody').replaceChildren(
          ...(data.redelivered.length === 0
            ? [h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No event was delivered more than once.'))]
            : data.redelivered.map((event) =>
                h(
                  'tr',
                  {},
                  h('td', {}, eventLink(event, event.id)),
                  h('td', {}, event.source),
                  h('td', {}, event.eventType),
                  h('td', { class: 'num' }, event.deliveryCount),
                  h('td', {}, timeElement(event.lastDeliveryAt)),
                  h('td', {}, statusPill(event.status)),
                ),
              )),
        );
        $('#same-body-table tbody').replaceChildren(
          ...(data.sameBody.length === 0
            ? [h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No body is stored under several ids.'))]
            : data.sameBody.map((group) =>
                h(
                  'tr',
                  {},
                  h('td', {}, group.source),
                  h('td', { class: 'mono', title: group.bodySha256 }, `${group.bodySha256.slice(0, 16)}…`),
                  h('td', { class: 'num' }, group.count),
                  h(
                    'td',
                    {},
                    h(
                      'ul',
                      { class: 'plain-list' },
                      group.eventIds.map((eventId, i) =>
                        h(
                          'li',
                          {},
                          eventLink({ id: eventId }, eventId),
                          ' ',
                          h('span', { class: 'mono hint' }, group.dedupeKeys[i] ?? ''),
                        ),
                      ),
                    ),
                  ),
                ),
              )),
        );
      },
    );
  }

  // ---- blocked keys (docs/ordering.md) ----

  function blockedKeys() {
    const tbody = $('#blocked-table tbody');
    const result = $('#blocked-result');
    let working = false;

    async function unblock(key, action) {
      const confirmed = await confirmDialog({
        title: action === 'retry' ? 'Retry the dead head?' : 'Skip the dead head?',
        text:
          action === 'retry'
            ? `Event ${key.headId} runs again, first; the ${key.waiting} waiting event(s) of key ${key.key} follow once it succeeds.`
            : `Event ${key.headId} stays dead; the ${key.waiting} waiting event(s) of key ${key.key} run now, in order.`,
        confirmLabel: action === 'retry' ? 'Retry' : 'Skip',
      });
      if (!confirmed) return;
      working = true;
      try {
        const answer = await api('/api/admin/ordering/blocked-keys/unblock', {
          method: 'POST',
          body: { source: key.source, key: key.key, action },
        });
        setResult(
          result,
          answer.data.unblocked
            ? `Key ${key.key}: ${action === 'retry' ? 'head requeued' : 'head skipped'}.`
            : `Key ${key.key} was no longer blocked.`,
        );
        announce(result.textContent);
      } catch (error) {
        setResult(result, error.message, true);
      } finally {
        working = false;
        refresh.now();
      }
    }

    function row(key) {
      const cells = [
        h('td', {}, key.source),
        h('td', { class: 'mono' }, key.key),
        h(
          'td',
          {},
          eventLink({ id: key.headId }, key.headEventType),
          h('div', { class: 'mono hint' }, key.headId),
        ),
        h('td', { class: 'num' }, key.waiting),
        h('td', { class: 'error-text' }, key.lastError ?? ''),
        h('td', {}, timeElement(key.blockedSince)),
      ];
      if (canAct) {
        cells.push(
          h(
            'td',
            { class: 'nowrap' },
            h(
              'button',
              {
                type: 'button',
                class: 'button-primary',
                'data-key': `retry-${key.source}-${key.key}`,
                disabled: working,
                onclick: () => unblock(key, 'retry'),
              },
              'Retry head',
            ),
            ' ',
            h(
              'button',
              {
                type: 'button',
                'data-key': `skip-${key.source}-${key.key}`,
                disabled: working,
                onclick: () => unblock(key, 'skip'),
              },
              'Skip head…',
            ),
          ),
        );
      }
      return h('tr', { 'data-key-row': `${key.source} ${key.key}` }, ...cells);
    }

    const refresh = every(
      () => 5000,
      async () => {
        const list = await api('/api/admin/ordering/blocked-keys?limit=1000');
        const keys = list.data.keys;
        keepFocus(() => {
          tbody.replaceChildren(
            ...(keys.length === 0
              ? [
                  h(
                    'tr',
                    {},
                    h('td', { colspan: canAct ? 7 : 6, class: 'empty' }, 'No ordering key is blocked.'),
                  ),
                ]
              : keys.map(row)),
          );
        });
        $('#blocked-summary').textContent =
          keys.length === 0
            ? 'No blocked keys.'
            : `${keys.length} blocked key${keys.length === 1 ? '' : 's'}.`;
      },
    );
  }

  const pages = {
    overview,
    events: eventsPage,
    event: eventDetail,
    'dead-letters': deadLetters,
    duplicates,
    'blocked-keys': blockedKeys,
  };
  pages[page]?.();
})();
