import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adminOperations } from '../../src/http/admin/operations.ts';
import { monitorEnvNames } from '../../src/monitor/config.ts';
import { alertTypes, checkNames } from '../../src/monitor/health-checks.ts';
import { createPrometheusMetrics } from '../../src/monitor/prometheus.ts';

describe('docs/operations.md', () => {
  const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');

  // A table row starting with the name in backticks (tables are padded by the formatter).
  const row = (name: string) => new RegExp(`^\\| \`${name}\` +\\|`, 'm');

  it('explains every check and alert type', () => {
    for (const name of checkNames) expect(doc, name).toMatch(row(name));
    for (const type of alertTypes) expect(doc, type).toMatch(row(type));
  });

  it('lists every environment variable of the monitor settings', () => {
    for (const name of Object.keys(monitorEnvNames)) expect(doc, name).toMatch(row(name));
  });

  it('lists every admin route', () => {
    for (const spec of Object.values(adminOperations)) {
      expect(doc, spec.path).toMatch(new RegExp(`\\| \`${spec.method.toUpperCase()} ${spec.path}[?\` ]`));
    }
  });

  it('lists every hookbox_ metric', async () => {
    const metrics = createPrometheusMetrics({ processMetrics: false });
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(8);
    for (const name of names) {
      const documented = doc.includes(`\`${name}\``) || doc.includes(`\`${name.replace(/_total$/, '')}`);
      const grouped =
        /^hookbox_events_(failed|dead|ignored)_total$/.test(name) &&
        doc.includes(`_${name.split('_')[2]}_total\``);
      expect(documented || grouped, name).toBe(true);
    }
  });
});
