// Inline SVG charts for the Hookbox dashboard: lines per bucket, percentile bars, a sparkline.
// No chart library: a few paths and labels, drawn at the element's real size so text is never
// stretched, and redrawn when the element resizes.
(() => {
  const svgNs = 'http://www.w3.org/2000/svg';

  function element(name, attributes, parent) {
    const node = document.createElementNS(svgNs, name);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, String(value));
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attributes) {
    const node = element('text', { x, y, ...attributes }, parent);
    node.textContent = content;
    return node;
  }

  /** The smallest of 1, 2, 2.5, 5 x 10^n at or above `value` (at least 1), so ticks are round. */
  function niceCeiling(value) {
    if (!(value > 1)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function formatClock(ms, withDay) {
    const date = new Date(ms);
    const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return withDay ? `${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}` : time;
  }

  function formatNumber(value) {
    return Number.isInteger(value) ? String(value) : value.toFixed(1);
  }

  /** Size the viewBox to the element, so one unit is one CSS pixel. */
  function prepare(svg) {
    const width = Math.max(200, Math.round(svg.clientWidth || svg.getBoundingClientRect().width || 600));
    const height = Math.max(40, Math.round(svg.clientHeight || svg.getBoundingClientRect().height || 160));
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.replaceChildren();
    return { width, height };
  }

  const redraws = new WeakMap();
  const observer =
    typeof ResizeObserver === 'function'
      ? new ResizeObserver((entries) => {
          for (const entry of entries) redraws.get(entry.target)?.();
        })
      : null;

  function remember(svg, draw) {
    if (!redraws.has(svg)) observer?.observe(svg);
    redraws.set(svg, draw);
  }

  /**
   * Lines over time buckets. options: { start, bucketMs, series: [{ key, values }], area: key of a
   * series to fill under }. All series share one y scale from 0.
   */
  function drawLines(svg, options) {
    remember(svg, () => drawLines(svg, options));
    const { width, height } = prepare(svg);
    const margin = { top: 8, right: 10, bottom: 22, left: 44 };
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = height - margin.top - margin.bottom;
    const count = options.series[0] ? options.series[0].values.length : 0;
    let largest = 0;
    for (const series of options.series)
      for (const value of series.values) largest = Math.max(largest, value);
    const top = niceCeiling(largest);
    const x = (i) => margin.left + (count <= 1 ? plotWidth / 2 : (i / (count - 1)) * plotWidth);
    const y = (value) => margin.top + plotHeight - (value / top) * plotHeight;

    const grid = element('g', { class: 'grid', 'aria-hidden': 'true' }, svg);
    const axis = element('g', { class: 'axis', 'aria-hidden': 'true' }, svg);
    // Counts: a half tick only when it is a whole number.
    for (const fraction of top % 2 === 0 ? [0, 0.5, 1] : [0, 1]) {
      const value = top * fraction;
      element('line', { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value) }, grid);
      text(axis, margin.left - 6, y(value) + 4, formatNumber(value), { 'text-anchor': 'end' });
    }
    const spansDays = count * options.bucketMs > 6 * 60 * 60_000;
    const labelled = count <= 1 ? [0] : [0, Math.round((count - 1) / 2), count - 1];
    for (const i of labelled) {
      const anchor = i === 0 ? 'start' : i === count - 1 ? 'end' : 'middle';
      text(axis, x(i), height - 6, formatClock(options.start + i * options.bucketMs, spansDays), {
        'text-anchor': anchor,
      });
    }
    for (const series of options.series) {
      if (series.values.length === 0) continue;
      const points = series.values.map((value, i) => `${x(i).toFixed(1)},${y(value).toFixed(1)}`);
      if (options.area === series.key) {
        const baseline = y(0).toFixed(1);
        element(
          'path',
          {
            class: `area-${series.key}`,
            d: `M${x(0).toFixed(1)},${baseline}L${points.join('L')}L${x(count - 1).toFixed(1)},${baseline}Z`,
          },
          svg,
        );
      }
      element('path', { class: `series series-${series.key}`, d: `M${points.join('L')}` }, svg);
    }
  }

  /** Horizontal bars: [{ label, value, className }] with `unit` after each value. */
  function drawBars(svg, bars, unit) {
    remember(svg, () => drawBars(svg, bars, unit));
    const { width, height } = prepare(svg);
    const labelWidth = 44;
    const valueWidth = 70;
    const rowHeight = height / Math.max(1, bars.length);
    const largest = Math.max(1, ...bars.map((bar) => bar.value));
    bars.forEach((bar, i) => {
      const top = i * rowHeight;
      const barHeight = Math.min(22, rowHeight * 0.6);
      const barWidth = Math.max(2, ((width - labelWidth - valueWidth) * bar.value) / largest);
      text(svg, 0, top + rowHeight / 2 + 4, bar.label, { class: 'bar-label' });
      element(
        'rect',
        {
          class: `bar ${bar.className || ''}`,
          x: labelWidth,
          y: top + (rowHeight - barHeight) / 2,
          width: barWidth,
          height: barHeight,
          rx: 3,
        },
        svg,
      );
      text(svg, labelWidth + barWidth + 6, top + rowHeight / 2 + 4, `${formatNumber(bar.value)} ${unit}`, {
        class: 'bar-value',
      });
    });
  }

  /** A sparkline of [{ t, v }] samples, with the threshold as a dashed line when it is in range. */
  function drawSpark(svg, samples, threshold) {
    remember(svg, () => drawSpark(svg, samples, threshold));
    const { width, height } = prepare(svg);
    if (samples.length === 0) return;
    const top = niceCeiling(Math.max(...samples.map((s) => s.v), 0));
    const first = samples[0].t;
    const span = Math.max(1, samples[samples.length - 1].t - first);
    const x = (t) => 2 + ((t - first) / span) * (width - 4);
    const y = (v) => height - 3 - (v / top) * (height - 6);
    if (threshold !== undefined && threshold <= top) {
      element(
        'line',
        {
          x1: 0,
          x2: width,
          y1: y(threshold),
          y2: y(threshold),
          class: 'series series-failed',
          'stroke-dasharray': '4 4',
        },
        svg,
      );
    }
    const points = samples.map((s) => `${x(s.t).toFixed(1)},${y(s.v).toFixed(1)}`);
    element('path', { class: 'series series-backlog', d: `M${points.join('L')}` }, svg);
  }

  window.HookboxCharts = { drawLines, drawBars, drawSpark, formatClock };
})();
