import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { type CheckName, checkNames, type HealthChecks } from '../../monitor/health-checks.ts';
import type { HealthReport } from '../../monitor/health-monitor.ts';
import { eventStatuses } from '../../store/types.ts';
import type { DashboardSession } from './session.ts';

/**
 * Server-rendered HTML of the dashboard. Every page is a complete document that paints before
 * any script runs: the overview renders the health status, checks and alerts here; the other
 * pages render their frame and forms, and dashboard.js fills in the data from the admin API.
 * Nothing secret is rendered: the CSRF token is the session's own, never a configured token.
 */

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export type PageName =
  | 'overview'
  | 'events'
  | 'event'
  | 'dead-letters'
  | 'duplicates'
  | 'blocked-keys'
  | 'destinations';

export interface AssetUrls {
  css: string;
  js: string;
  charts: string;
  /** destinations: the Destinations page and an event's deliveries (destinations-page.ts). */
  destinations: string;
}

const navigation: { page: PageName; href: string; label: string }[] = [
  { page: 'overview', href: '/dashboard', label: 'Overview' },
  { page: 'events', href: '/dashboard/events', label: 'Events' },
  { page: 'dead-letters', href: '/dashboard/dead-letters', label: 'Dead letters' },
  { page: 'duplicates', href: '/dashboard/duplicates', label: 'Duplicates' },
  { page: 'blocked-keys', href: '/dashboard/blocked-keys', label: 'Blocked keys' },
  { page: 'destinations', href: '/dashboard/destinations', label: 'Destinations' },
];

function documentHead(title: string, assets: AssetUrls, extra: Html = html``): Html {
  return html`<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Hookbox</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assets.css}">
${extra}
</head>`;
}

/** The frame of every signed-in page: skip link, navigation, session, main, live announcer. */
export function renderLayout(input: {
  page: PageName;
  title: string;
  session: DashboardSession;
  assets: AssetUrls;
  body: Html;
  data?: Record<string, string>;
}): Html {
  const { page, session, assets } = input;
  const current = page === 'event' ? 'events' : page;
  const dataAttributes = Object.entries(input.data ?? {}).map(
    ([name, value]) => html` data-${name}="${value}"`,
  );
  return html`<!doctype html>
<html lang="en">
${documentHead(
  input.title,
  assets,
  html`<meta name="csrf-token" content="${session.csrfToken}">
<script src="${assets.charts}" defer></script>
<script src="${assets.js}" defer></script>
<script src="${assets.destinations}" defer></script>`,
)}
<body data-page="${page}" data-role="${session.credential}"${dataAttributes}>
<a class="skip-link" href="#main">Skip to content</a>
<header class="topbar">
  <a class="brand" href="/dashboard"><span aria-hidden="true" class="brand-mark">▣</span> Hookbox</a>
  <nav aria-label="Dashboard">
    <ul>
      ${navigation.map(
        (item) =>
          html`<li><a href="${item.href}"${item.page === current ? html` aria-current="page"` : ''}>${item.label}</a></li>`,
      )}
    </ul>
  </nav>
  <div class="session">
    <span class="role role-${session.credential}">${session.credential === 'admin' ? 'Admin' : 'Read-only'}</span>
    <form method="post" action="/dashboard/sign-out">
      <input type="hidden" name="csrf" value="${session.csrfToken}">
      <button type="submit" class="button-quiet">Sign out</button>
    </form>
  </div>
</header>
<main id="main" tabindex="-1">
${input.body}
</main>
<div id="announcer" class="visually-hidden" aria-live="polite" aria-atomic="true"></div>
<noscript><p class="noscript">The dashboard needs JavaScript to load data and run actions.</p></noscript>
</body>
</html>`;
}

export function renderSignIn(input: { assets: AssetUrls; next: string; error?: string | null }): Html {
  const describedBy = input.error ? 'token-help token-error' : 'token-help';
  return html`<!doctype html>
<html lang="en">
${documentHead('Sign in', input.assets)}
<body data-page="sign-in">
<main id="main" class="sign-in">
  <h1><span aria-hidden="true" class="brand-mark">▣</span> Hookbox</h1>
  <form method="post" action="/dashboard/sign-in" class="card">
    <h2>Sign in to the dashboard</h2>
    <input type="hidden" name="next" value="${input.next}">
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus
      spellcheck="false" aria-describedby="${describedBy}"${input.error ? html` aria-invalid="true"` : ''}>
    <p id="token-help" class="hint">ADMIN_TOKEN for full access, or one of ADMIN_READONLY_TOKENS to look without acting.</p>
    ${input.error ? html`<p id="token-error" class="form-error" role="alert">${input.error}</p>` : ''}
    <button type="submit" class="button-primary">Sign in</button>
  </form>
</main>
</body>
</html>`;
}

// ---- overview ----

export const checkLabels: Record<CheckName, string> = {
  recentFailures: 'Recent failures',
  processingBacklog: 'Processing backlog',
  oldestPending: 'Oldest pending',
  averageAttempts: 'Average attempts',
  duplicateEvents: 'Duplicate deliveries',
  successRate: 'Success rate',
  blockedKeys: 'Blocked ordering keys',
  destinationFailures: 'Failing destinations',
  destinationBacklog: 'Destinations backing up',
};

/** `3 events`, `1 event`, `95%`: the check's unit after its value. */
export function formatCheckValue(value: number, unit: string): string {
  if (unit === 'percent') return `${value}%`;
  const singular: Record<string, string> = {
    events: 'event',
    keys: 'key',
    minutes: 'minute',
    attempts: 'attempt',
    deliveries: 'delivery',
    destinations: 'destination',
  };
  return `${value} ${value === 1 ? (singular[unit] ?? unit) : unit}`;
}

function renderChecks(checks: HealthChecks | null): Html {
  if (!checks) return html`<tr><td colspan="4">Health is unavailable; retrying.</td></tr>`;
  return html`${checkNames.map((name) => {
    const check = checks[name];
    return html`<tr data-check="${name}">
  <th scope="row">${checkLabels[name]}<span class="check-message">${check.message}</span></th>
  <td class="num nowrap">${formatCheckValue(check.value, check.unit)}</td>
  <td class="num nowrap">${check.bound} ${formatCheckValue(check.threshold, check.unit)}</td>
  <td><span class="pill ${check.passed ? 'pill-pass' : 'pill-fail'}">${check.passed ? 'Pass' : 'Fail'}</span></td>
</tr>`;
  })}`;
}

function renderAlerts(report: HealthReport | null): Html {
  if (!report) return html`<p class="empty">Unknown.</p>`;
  if (report.alerts.length === 0) return html`<p class="empty">No active alerts.</p>`;
  return html`<ul class="alerts">${report.alerts.map(
    (alert) => html`<li class="alert alert-${alert.severity.toLowerCase()}">
  <p><span class="pill pill-${alert.severity.toLowerCase()}">${alert.severity}</span> <strong>${alert.type}</strong>: ${alert.message}</p>
  <p class="alert-action">${alert.action}</p>
</li>`,
  )}</ul>`;
}

function renderRecommendations(report: HealthReport | null): Html {
  if (!report || report.recommendations.length === 0) return html``;
  return html`<h3>Recommendations</h3><ol class="recommendations">${report.recommendations.map((text) => html`<li>${text}</li>`)}</ol>`;
}

export function renderOverview(report: HealthReport | null): Html {
  const status = report?.status ?? 'UNKNOWN';
  return html`<div class="page-head">
  <h1>Overview</h1>
  <p class="updated">Refreshes every few seconds. <span id="updated-at">${report ? html`Updated <time datetime="${report.timestamp}">${report.timestamp}</time>` : ''}</span></p>
</div>
<section aria-labelledby="status-heading" class="status-panel">
  <h2 id="status-heading" class="visually-hidden">Status</h2>
  <div id="status" class="status status-${status.toLowerCase()}" role="status" aria-live="polite" aria-atomic="true">
    <span class="status-label">${status}</span>
    <span class="status-detail">${
      report
        ? `${checkNames.filter((name) => !report.checks[name].passed).length} of ${checkNames.length} checks failing`
        : 'the health report could not be computed'
    }</span>
  </div>
</section>
<section aria-labelledby="alerts-heading" class="card card-alerts">
  <h2 id="alerts-heading">Active alerts</h2>
  <div id="alerts">${renderAlerts(report)}</div>
  <div id="recommendations">${renderRecommendations(report)}</div>
</section>
<div class="grid-2">
  <section aria-labelledby="checks-heading" class="card">
    <h2 id="checks-heading">Checks</h2>
    <table id="checks">
      <caption class="visually-hidden">Health checks: value against threshold</caption>
      <thead><tr><th scope="col">Check</th><th scope="col" class="num">Value</th><th scope="col" class="num">Threshold</th><th scope="col">Result</th></tr></thead>
      <tbody>${renderChecks(report?.checks ?? null)}</tbody>
    </table>
  </section>
  <section aria-labelledby="charts-heading" class="card">
    <div class="section-head">
      <h2 id="charts-heading">Throughput</h2>
      <div class="segmented" role="group" aria-label="Chart window">
        <button type="button" data-window="60" aria-pressed="true">Last hour</button>
        <button type="button" data-window="1440" aria-pressed="false">Last day</button>
      </div>
    </div>
    <figure class="chart">
      <svg id="chart-throughput" class="chart-svg" role="img" aria-label="Events per minute: loading"></svg>
      <figcaption>
        Per minute:
        <span class="legend legend-received">received</span>
        <span class="legend legend-processed">processed</span>
        <span class="legend legend-failed">failed attempts</span>
      </figcaption>
    </figure>
    <figure class="chart">
      <svg id="chart-backlog" class="chart-svg chart-small" role="img" aria-label="Backlog: loading"></svg>
      <figcaption><span class="legend legend-backlog">Backlog</span> (events waiting) at the end of each minute</figcaption>
    </figure>
  </section>
</div>
<div class="grid-3">
  <section aria-labelledby="latency-heading" class="card">
    <h2 id="latency-heading">Handler duration</h2>
    <svg id="chart-latency" class="chart-svg chart-bars" role="img" aria-label="Handler duration percentiles: loading"></svg>
    <p class="hint" id="latency-samples"></p>
  </section>
  <section aria-labelledby="backlog-heading" class="card">
    <h2 id="backlog-heading">Backlog</h2>
    <p class="big-number" id="backlog-now">${report ? report.metrics.backlog : '–'}</p>
    <p class="hint">events waiting (pending, failed, processing); threshold ${report?.checks.processingBacklog.threshold ?? '–'}</p>
  </section>
  <section aria-labelledby="oldest-heading" class="card">
    <h2 id="oldest-heading">Oldest pending</h2>
    <p class="big-number" id="oldest-now">${report ? `${report.checks.oldestPending.value} min` : '–'}</p>
    <svg id="chart-oldest" class="chart-svg chart-spark" role="img" aria-label="Oldest pending age while this page is open: collecting"></svg>
    <p class="hint">age while this page is open; threshold ${report?.checks.oldestPending.threshold ?? '–'} min</p>
  </section>
</div>`;
}

// ---- events ----

export interface EventFilterValues {
  search: string;
  source: string;
  provider: string;
  type: string;
  status: string;
  since: string;
  until: string;
}

function options(values: string[], selected: string, anyLabel: string): Html {
  return html`<option value="">${anyLabel}</option>${values.map(
    (value) => html`<option value="${value}"${value === selected ? html` selected` : ''}>${value}</option>`,
  )}`;
}

export function renderEvents(input: {
  filters: EventFilterValues;
  sources: string[];
  providers: string[];
  notice?: string | null;
}): Html {
  const f = input.filters;
  return html`<div class="page-head"><h1>Events</h1></div>
${input.notice ? html`<p class="notice" role="status">${input.notice}</p>` : ''}
<form id="event-filters" class="filters card" method="get" action="/dashboard/events" role="search" aria-label="Filter events">
  <div class="field field-wide">
    <label for="f-search">Event id or dedupe key</label>
    <input id="f-search" name="search" type="search" value="${f.search}" maxlength="256" spellcheck="false">
  </div>
  <div class="field">
    <label for="f-source">Source</label>
    <select id="f-source" name="source">${options(input.sources, f.source, 'Any source')}</select>
  </div>
  <div class="field">
    <label for="f-provider">Provider</label>
    <select id="f-provider" name="provider">${options(input.providers, f.provider, 'Any provider')}</select>
  </div>
  <div class="field">
    <label for="f-type">Type</label>
    <input id="f-type" name="type" type="text" value="${f.type}" list="known-types" maxlength="256" spellcheck="false">
    <datalist id="known-types"></datalist>
  </div>
  <div class="field">
    <label for="f-status">Status</label>
    <select id="f-status" name="status">${options([...eventStatuses], f.status, 'Any status')}</select>
  </div>
  <div class="field">
    <label for="f-since">Received from</label>
    <input id="f-since" name="since" type="datetime-local" value="${f.since}">
  </div>
  <div class="field">
    <label for="f-until">Received before</label>
    <input id="f-until" name="until" type="datetime-local" value="${f.until}">
  </div>
  <div class="field field-buttons">
    <button type="submit" class="button-primary">Apply filters</button>
    <a class="button" href="/dashboard/events">Clear</a>
  </div>
</form>
<section aria-labelledby="events-heading" class="card">
  <div class="section-head">
    <h2 id="events-heading">Newest first</h2>
    <p id="events-summary" class="hint" aria-live="polite">Loading events…</p>
  </div>
  <div class="table-wrap">
    <table id="events-table" class="data-table">
      <caption class="visually-hidden">Events matching the filters, newest first</caption>
      <thead><tr>
        <th scope="col">Received</th><th scope="col">Event</th><th scope="col">Source</th><th scope="col">Provider</th>
        <th scope="col">Status</th><th scope="col" class="num">Attempts</th><th scope="col" class="num">Deliveries</th><th scope="col">Last error</th>
      </tr></thead>
      <tbody></tbody>
    </table>
  </div>
  <nav class="pager" aria-label="Pages of events">
    <button type="button" id="page-newer" disabled>← Newer</button>
    <span id="page-number" class="hint">Page 1</span>
    <button type="button" id="page-older" disabled>Older →</button>
  </nav>
</section>`;
}

// ---- event detail ----

function confirmDialog(): Html {
  return html`<dialog id="confirm-dialog" aria-labelledby="confirm-title" aria-describedby="confirm-text">
  <form method="dialog">
    <h2 id="confirm-title">Are you sure?</h2>
    <p id="confirm-text"></p>
    <div class="dialog-buttons">
      <button type="submit" value="cancel" id="confirm-cancel">Cancel</button>
      <button type="submit" value="confirm" id="confirm-ok" class="button-danger">Confirm</button>
    </div>
  </form>
</dialog>`;
}

const readOnlyNote = html`<p class="notice notice-readonly">This session is read-only: sign in with ADMIN_TOKEN to retry, mark or delete events.</p>`;

export function renderEventDetail(input: { eventId: string; session: DashboardSession }): Html {
  const canAct = input.session.credential === 'admin';
  return html`<nav aria-label="Breadcrumb" class="breadcrumb"><a href="/dashboard/events">Events</a> <span aria-hidden="true">/</span> <span aria-current="page">${input.eventId}</span></nav>
<div class="page-head">
  <h1>Event <code>${input.eventId}</code></h1>
  <span id="event-status" class="pill" aria-live="polite">…</span>
</div>
${
  canAct
    ? html`<div class="toolbar" role="group" aria-label="Event actions">
  <button type="button" id="action-retry" class="button-primary" disabled>Retry</button>
  <button type="button" id="action-mark" disabled>Mark processed</button>
  <button type="button" id="action-delete" class="button-danger" disabled>Delete…</button>
</div>`
    : readOnlyNote
}
<p id="action-result" class="action-result" role="status" aria-live="polite"></p>
<div class="grid-2">
  <section aria-labelledby="meta-heading" class="card">
    <h2 id="meta-heading">Metadata</h2>
    <dl id="event-meta" class="meta"><div><dt>Loading</dt><dd>…</dd></div></dl>
  </section>
  <div>
    <section aria-labelledby="attempts-heading" class="card">
      <h2 id="attempts-heading">Attempts</h2>
      <ol id="attempts" class="timeline"><li class="empty">Loading…</li></ol>
    </section>
    <section aria-labelledby="body-heading" class="card">
      <h2 id="body-heading">Body <span class="hint" id="body-encoding"></span></h2>
      <pre id="event-body" class="code" tabindex="0" aria-labelledby="body-heading"><code></code></pre>
    </section>
  </div>
</div>
<section aria-labelledby="headers-heading" class="card">
  <h2 id="headers-heading">Headers <span class="hint">(signatures and credentials redacted)</span></h2>
  <div class="table-wrap">
    <table id="event-headers" class="data-table">
      <caption class="visually-hidden">Request headers as stored</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead>
      <tbody></tbody>
    </table>
  </div>
</section>
${canAct ? confirmDialog() : ''}`;
}

export function renderEventNotFound(id: string): Html {
  return html`<nav aria-label="Breadcrumb" class="breadcrumb"><a href="/dashboard/events">Events</a></nav>
<h1>No event <code>${id}</code></h1>
<p class="lead">It may have been deleted, or cleaned up after the retention period. <a href="/dashboard/events">Back to the events</a>.</p>`;
}

// ---- dead letters ----

export function renderDeadLetters(input: { session: DashboardSession }): Html {
  const canAct = input.session.credential === 'admin';
  return html`<div class="page-head"><h1>Dead letters</h1></div>
<p class="lead">Events whose handlers failed every attempt. Fix the cause, then retry them: each gets a fresh set of attempts.</p>
${
  canAct
    ? html`<div class="toolbar" role="group" aria-label="Dead letter actions">
  <button type="button" id="retry-selected" class="button-primary" disabled>Retry selected</button>
  <button type="button" id="retry-all" disabled>Retry all dead letters…</button>
</div>
<div id="bulk-progress" class="progress" hidden>
  <label for="bulk-progress-bar" id="bulk-progress-label">Retrying</label>
  <progress id="bulk-progress-bar" max="1" value="0"></progress>
  <span id="bulk-progress-text" role="status" aria-live="polite"></span>
</div>`
    : readOnlyNote
}
<section aria-labelledby="dead-heading" class="card">
  <div class="section-head">
    <h2 id="dead-heading">Dead events</h2>
    <p id="dead-summary" class="hint" aria-live="polite">Loading…</p>
  </div>
  <div class="table-wrap">
    <table id="dead-table" class="data-table">
      <caption class="visually-hidden">Dead events, newest first</caption>
      <thead><tr>
        ${canAct ? html`<th scope="col" class="select"><input type="checkbox" id="select-all" aria-label="Select every dead event on this page"></th>` : ''}
        <th scope="col">Event</th><th scope="col">Source</th><th scope="col">Type</th>
        <th scope="col" class="num">Attempts</th><th scope="col">Last error</th><th scope="col">Received</th>
      </tr></thead>
      <tbody></tbody>
    </table>
  </div>
  <nav class="pager" aria-label="More dead events">
    <button type="button" id="dead-more" hidden>Load more</button>
  </nav>
</section>
${canAct ? confirmDialog() : ''}`;
}

// ---- duplicates ----

export function renderDuplicates(): Html {
  return html`<div class="page-head"><h1>Duplicates</h1></div>
<p class="lead">Providers redeliver when they do not get a 2xx in time; Hookbox stores each event once and counts the extra deliveries. A body stored under several ids means a sender minted new ids for one event.</p>
<section aria-labelledby="redelivered-heading" class="card">
  <h2 id="redelivered-heading">Delivered more than once</h2>
  <div class="table-wrap">
    <table id="redelivered-table" class="data-table">
      <caption class="visually-hidden">Events delivered more than once, most deliveries first</caption>
      <thead><tr>
        <th scope="col">Event</th><th scope="col">Source</th><th scope="col">Type</th><th scope="col" class="num">Deliveries</th>
        <th scope="col">Last delivery</th><th scope="col">Status</th>
      </tr></thead>
      <tbody><tr><td colspan="6">Loading…</td></tr></tbody>
    </table>
  </div>
</section>
<section aria-labelledby="same-body-heading" class="card">
  <h2 id="same-body-heading">One body under several ids</h2>
  <div class="table-wrap">
    <table id="same-body-table" class="data-table">
      <caption class="visually-hidden">Bodies stored under several dedupe keys of one source</caption>
      <thead><tr>
        <th scope="col">Source</th><th scope="col">Body SHA-256</th><th scope="col" class="num">Events</th><th scope="col">Event ids and dedupe keys</th>
      </tr></thead>
      <tbody><tr><td colspan="4">Loading…</td></tr></tbody>
    </table>
  </div>
</section>`;
}

// ---- blocked keys (docs/ordering.md) ----

export function renderBlockedKeys(input: { session: DashboardSession }): Html {
  const canAct = input.session.credential === 'admin';
  return html`<div class="page-head"><h1>Blocked ordering keys</h1></div>
<p class="lead">A key whose head went dead (onDead block) holds its later events back. Fix the cause, then retry the head (it runs again, first) or skip it (it stays dead and the key goes on).</p>
${canAct ? '' : readOnlyNote}
<p id="blocked-result" class="action-result" role="status" aria-live="polite"></p>
<section aria-labelledby="blocked-heading" class="card">
  <div class="section-head">
    <h2 id="blocked-heading">Blocked keys</h2>
    <p id="blocked-summary" class="hint" aria-live="polite">Loading…</p>
  </div>
  <div class="table-wrap">
    <table id="blocked-table" class="data-table">
      <caption class="visually-hidden">Ordering keys blocked by a dead head, longest blocked first</caption>
      <thead><tr>
        <th scope="col">Source</th><th scope="col">Key</th><th scope="col">Dead head</th>
        <th scope="col" class="num">Waiting</th><th scope="col">Last error</th><th scope="col">Blocked since</th>
        ${canAct ? html`<th scope="col">Unblock</th>` : ''}
      </tr></thead>
      <tbody><tr><td colspan="${canAct ? 7 : 6}">Loading…</td></tr></tbody>
    </table>
  </div>
</section>
${canAct ? confirmDialog() : ''}`;
}
