import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { DashboardSession } from './session.ts';

/**
 * The dashboard's destination views (issue 14): the Destinations page, and the deliveries
 * section of an event's page. Like the other pages, the frame is rendered here and
 * destinations.js fills in the data from the admin API (textContent only, never HTML).
 */

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const readOnlyNote = (what: string) =>
  html`<p class="notice notice-readonly">This session is read-only: sign in with ADMIN_TOKEN to ${what}.</p>`;

export function renderDestinations(input: { session: DashboardSession }): Html {
  const canAct = input.session.credential === 'admin';
  return html`<div class="page-head"><h1>Destinations</h1></div>
<p class="lead">The endpoints events are forwarded to. A paused destination queues its deliveries until it is resumed; one a <code>410 Gone</code> disabled waits to be enabled. Nothing is lost meanwhile.</p>
${canAct ? '' : readOnlyNote('pause, resume or enable destinations')}
<p id="destination-result" class="action-result" role="status" aria-live="polite"></p>
<section aria-labelledby="destinations-heading" class="card">
  <div class="section-head">
    <h2 id="destinations-heading">Every destination</h2>
    <p id="destinations-summary" class="hint" aria-live="polite">Loading destinations…</p>
  </div>
  <div class="table-wrap">
    <table id="destinations-table" class="data-table">
      <caption class="visually-hidden">Configured destinations with their state, success rate over the last hour and backlog</caption>
      <thead><tr>
        <th scope="col">Destination</th><th scope="col">State</th><th scope="col" class="num">Success (1 h)</th>
        <th scope="col" class="num">Backlog</th><th scope="col" class="num">Dead</th><th scope="col">URL</th>
        ${canAct ? html`<th scope="col">Actions</th>` : ''}
      </tr></thead>
      <tbody></tbody>
    </table>
  </div>
</section>`;
}

/** Below an event's own details: one row per destination it goes to, with a retry button. */
export function renderEventDeliveries(input: { session: DashboardSession }): Html {
  const canAct = input.session.credential === 'admin';
  return html`<section aria-labelledby="deliveries-heading" class="card" id="event-deliveries">
  <div class="section-head">
    <h2 id="deliveries-heading">Deliveries to destinations</h2>
    <p id="deliveries-summary" class="hint" aria-live="polite">Loading…</p>
  </div>
  <p id="delivery-result" class="action-result" role="status" aria-live="polite"></p>
  <div class="table-wrap">
    <table id="deliveries-table" class="data-table">
      <caption class="visually-hidden">This event's deliveries, one per destination</caption>
      <thead><tr>
        <th scope="col">Destination</th><th scope="col">Status</th><th scope="col" class="num">Attempts</th>
        <th scope="col" class="num">Last status</th><th scope="col">Next attempt</th><th scope="col">Last error</th>
        ${canAct ? html`<th scope="col">Actions</th>` : ''}
      </tr></thead>
      <tbody></tbody>
    </table>
  </div>
</section>`;
}
