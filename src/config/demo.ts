/**
 * Demo mode (`hookbox serve --demo`): a Stripe source with a generated signing secret, and the
 * dashboard with a generated sign-in token. Both live in ./data beside the demo database, so
 * `hookbox send` from the same folder finds the secret and both survive restarts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface DemoSettings {
  secret: string;
  secretFile: string;
  /** The dashboard sign-in token: generated (and saved in `tokenFile`), or the configured ADMIN_TOKEN. */
  adminToken: string;
  /** Null when the token is the operator's own ADMIN_TOKEN (it is then never printed). */
  tokenFile: string | null;
}

export function demoSecretFile(cwd: string): string {
  return resolve(cwd, 'data', 'demo-stripe-secret');
}

export function demoTokenFile(cwd: string): string {
  return resolve(cwd, 'data', 'demo-admin-token');
}

/** The demo's secret when a demo ran in this folder before (for `hookbox send`), else null. */
export function readDemoSecret(cwd: string): string | null {
  const file = demoSecretFile(cwd);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : null;
}

/** Create (or reuse) the demo's secret and, unless an admin token is configured, its dashboard token. */
export function ensureDemo(cwd: string, configuredToken: string | undefined): DemoSettings {
  const secretFile = demoSecretFile(cwd);
  const secret = ensureGenerated(secretFile, () => `whsec_${randomBytes(24).toString('base64url')}`);
  if (configuredToken !== undefined)
    return { secret, secretFile, adminToken: configuredToken, tokenFile: null };
  const tokenFile = demoTokenFile(cwd);
  const adminToken = ensureGenerated(tokenFile, () => randomBytes(24).toString('hex'));
  return { secret, secretFile, adminToken, tokenFile };
}

function ensureGenerated(file: string, generate: () => string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = generate();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}
