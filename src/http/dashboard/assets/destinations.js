// The dashboard's destination views: the Destinations page and the deliveries of an event's
// page. Reads and acts through the admin API (dashboard.js's api: session cookie, CSRF token);
// data goes into the page with textContent and DOM nodes, never as HTML.
(() => {
  const page = document.body.dataset.page;
  const canAct = document.body.dataset.role === 'admin';
  const $ = (selector) => document.querySelector(selector);

  // dashboard.js's element builder, API call and polling loop (the layout loads it first).
  const { h, api, every } = window.HookboxDom;

  // The existing pill colours: green for fine, amber for waiting on an operator, red for broken.
  const pillClass = {
    active: 'pill-pass',
    paused: 'pill-warning',
    disabled: 'pill-fail',
    succeeded: 'pill-processed',
    pending: 'pill-pending',
    processing: 'pill-processing',
    failed: 'pill-failed',
    dead: 'pill-dead',
  };
  const pill = (value) => h('span', { class: `pill ${pillClass[value] ?? ''}` }, value);

  const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const time = (iso) =>
    iso
      ? h('time', { datetime: iso, title: iso }, dateTime.format(new Date(iso)))
      : h('span', { class: 'empty' }, '—');

  function setResult(element, message, isError) {
    element.textContent = message;
    element.classList.toggle('error', Boolean(isError));
  }

  function destinationsPage() {
    const tbody = $('#destinations-table tbody');
    const result = $('#destination-result');
    let refresh = null;

    async function act(button, destination, verb) {
      button.disabled = true;
      setResult(result, 'Working…');
      try {
        const path = `/api/admin/destinations/${encodeURIComponent(destination.source)}/${encodeURIComponent(destination.name)}/${verb}`;
        const { data } = await api(path, { method: 'POST', body: {} });
        setResult(result, `${data.source}/${data.name} is now ${data.state}.`);
      } catch (error) {
        setResult(result, error.message, true);
      }
      await refresh.now();
    }

    function actions(destination) {
      const button = (verb, label, enabled) =>
        h(
          'button',
          {
            type: 'button',
            'data-action': verb,
            disabled: !enabled,
            onclick: (e) => act(e.currentTarget, destination, verb),
          },
          label,
        );
      return h(
        'div',
        {
          class: 'toolbar',
          role: 'group',
          'aria-label': `Actions for ${destination.source}/${destination.name}`,
        },
        button('pause', 'Pause', destination.state === 'active'),
        button('resume', 'Resume', destination.state === 'paused'),
        button('enable', 'Enable', destination.state === 'disabled'),
      );
    }

    async function load() {
      const { data } = await api('/api/admin/destinations');
      const list = data.destinations;
      $('#destinations-summary').textContent =
        list.length === 0
          ? 'No destination is configured (docs/destinations.md).'
          : `${list.length} destination${list.length === 1 ? '' : 's'}; ${list.filter((d) => d.state !== 'active').length} not active`;
      tbody.replaceChildren(
        ...list.map((d) =>
          h(
            'tr',
            { 'data-destination': `${d.source}/${d.name}`, 'data-state': d.state },
            h(
              'th',
              { scope: 'row' },
              h(
                'a',
                { href: `/dashboard/events?source=${encodeURIComponent(d.source)}` },
                `${d.source}/${d.name}`,
              ),
            ),
            h(
              'td',
              {},
              pill(d.state),
              d.stateReason ? h('span', { class: 'hint' }, ` ${d.stateReason}`) : null,
            ),
            h(
              'td',
              { class: 'num', 'data-field': 'success' },
              d.recentSuccessRate === null ? '—' : `${d.recentSuccessRate}%`,
            ),
            h('td', { class: 'num', 'data-field': 'backlog' }, String(d.backlog)),
            h('td', { class: 'num', 'data-field': 'dead' }, String(d.deliveries.dead)),
            h('td', { class: 'mono' }, d.url),
            canAct ? h('td', {}, actions(d)) : null,
          ),
        ),
      );
    }
    refresh = every(() => 5000, load);
  }

  function eventDeliveries() {
    const eventId = document.body.dataset.eventId;
    if (!eventId || !$('#deliveries-table')) return;
    const tbody = $('#deliveries-table tbody');
    const result = $('#delivery-result');
    let refresh = null;

    async function retry(button, delivery) {
      button.disabled = true;
      setResult(result, 'Working…');
      try {
        await api(`/api/admin/deliveries/${delivery.id}/retry`, { method: 'POST' });
        setResult(result, `Delivery to ${delivery.destination} requeued with a fresh set of attempts.`);
      } catch (error) {
        setResult(result, error.message, true);
      }
      await refresh.now();
    }

    async function load() {
      const { data } = await api(`/api/admin/deliveries?eventId=${encodeURIComponent(eventId)}&limit=500`);
      const list = data.deliveries;
      $('#deliveries-summary').textContent =
        list.length === 0
          ? 'This event goes to no destination.'
          : `${list.length} destination${list.length === 1 ? '' : 's'}`;
      tbody.replaceChildren(
        ...list.map((d) =>
          h(
            'tr',
            { 'data-delivery': d.id, 'data-destination': d.destination, 'data-status': d.status },
            h('th', { scope: 'row' }, `${d.source}/${d.destination}`),
            h('td', {}, pill(d.status)),
            h('td', { class: 'num' }, String(d.attempts)),
            h('td', { class: 'num' }, d.lastStatusCode === null ? '—' : String(d.lastStatusCode)),
            h('td', {}, d.status === 'pending' || d.status === 'failed' ? time(d.nextAttemptAt) : '—'),
            h('td', {}, d.lastError ? h('span', { class: 'error-text' }, d.lastError) : '—'),
            canAct
              ? h(
                  'td',
                  {},
                  h(
                    'button',
                    {
                      type: 'button',
                      'aria-label': `Retry the delivery to ${d.destination}`,
                      disabled: !(d.status === 'failed' || d.status === 'dead'),
                      onclick: (e) => retry(e.currentTarget, d),
                    },
                    'Retry',
                  ),
                )
              : null,
          ),
        ),
      );
    }
    refresh = every(() => 2000, load);
  }

  if (page === 'destinations') destinationsPage();
  if (page === 'event') eventDeliveries();
})();
