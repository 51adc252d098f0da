import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface Asset {
  body: Buffer;
  contentType: string;
  /** Short content hash: the `v` of its URL, so a changed file gets a new URL and old ones cache forever. */
  hash: string;
  url: string;
}

const assetTypes = {
  'dashboard.css': 'text/css; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
  'destinations.js': 'text/javascript; charset=utf-8',
} as const;
export type AssetName = keyof typeof assetTypes;

let loaded: ReadonlyMap<string, Asset> | null = null;

/**
 * The dashboard's CSS and JS, read once from the assets folder next to this module (no build
 * step, no CDN: the dashboard works offline). A missing file fails at start-up, not on a page view.
 */
export function loadDashboardAssets(): ReadonlyMap<string, Asset> {
  if (loaded) return loaded;
  const assets = new Map<string, Asset>();
  for (const [name, contentType] of Object.entries(assetTypes)) {
    const file = new URL(`./assets/${name}`, import.meta.url);
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch (error) {
      throw new Error(
        `Cannot read the dashboard asset ${file.pathname}: ship src/http/dashboard/assets/ with the module.`,
        {
          cause: error,
        },
      );
    }
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
    assets.set(name, { body, contentType, hash, url: `/dashboard/assets/${name}?v=${hash}` });
  }
  loaded = assets;
  return assets;
}
