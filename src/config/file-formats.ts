/**
 * Reading a config file: a module (`.ts`, `.mts`, `.mjs`, `.js`) that default-exports the
 * config, or data (`.json`, `.yaml`, `.yml`) with `${VAR}` environment substitution in string
 * values, so secrets need not be written into the file.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseDocument } from 'yaml';
import type { Problem } from './problems.ts';

/** Looked for in this order in the current folder when no --config is given. */
export const configFileNames = [
  'hookbox.config.ts',
  'hookbox.config.mjs',
  'hookbox.config.js',
  'hookbox.config.json',
  'hookbox.config.yaml',
  'hookbox.config.yml',
] as const;

export type ConfigFormat = 'module' | 'json' | 'yaml';

const formatsByExtension: Record<string, ConfigFormat> = {
  '.ts': 'module',
  '.mts': 'module',
  '.mjs': 'module',
  '.js': 'module',
  '.json': 'json',
  '.yaml': 'yaml',
  '.yml': 'yaml',
};

export function formatOf(path: string): ConfigFormat | undefined {
  const extension = /\.[a-z]+$/i.exec(path)?.[0].toLowerCase() ?? '';
  return formatsByExtension[extension];
}

export interface ReadConfig {
  format: ConfigFormat;
  /** What the file holds (the default export of a module), before validation; undefined when unreadable. */
  value: unknown;
  /** Problems found while reading (syntax, unset variables), each naming where. */
  problems: string[];
  /** Config paths whose `${VAR}` could not be substituted: their value is known to be wrong already. */
  unresolved: string[];
}

/** Read and parse one config file; throws only for a file that cannot be read or imported at all. */
export async function readConfigFile(path: string, env: NodeJS.ProcessEnv): Promise<ReadConfig> {
  const format = formatOf(path);
  if (format === undefined) {
    throw new Error(
      `${basename(path)}: a config file ends in .ts, .mjs or .js (a module default-exporting the config), or .json, .yaml or .yml`,
    );
  }
  if (format === 'module') return { format, value: await importModule(path), problems: [], unresolved: [] };
  const text = readFileSync(path, 'utf8');
  const parsed = format === 'json' ? parseJson(path, text) : parseYaml(path, text);
  if (parsed.problems.length > 0)
    return { format, value: undefined, problems: parsed.problems, unresolved: [] };
  const problems: Problem[] = [];
  const value = substituteEnv(parsed.value, env, [], problems);
  return {
    format,
    value,
    problems: problems.map((p) => `${p.path || '(top level)'}: ${p.message}`),
    unresolved: problems.map((p) => p.path),
  };
}

async function importModule(path: string): Promise<unknown> {
  const url = pathToFileURL(path).href;
  let module: { default?: unknown };
  try {
    // The TypeScript loader is imported only for a TypeScript file.
    module = /\.m?ts$/i.test(path)
      ? await (await import('tsx/esm/api')).tsImport(url, import.meta.url)
      : await import(url);
  } catch (error) {
    if (/\.m?ts$/i.test(path) && isMissingTsx(error)) {
      throw new Error(
        `${basename(path)} is TypeScript, and loading it needs tsx, which is not installed: run npm install tsx, or write the config as hookbox.config.mjs, .json or .yaml`,
        { cause: error },
      );
    }
    // Loader errors span lines (a code frame); one line says enough to find the mistake.
    const message = (error as Error).message.replace(/\s*\n\s*/g, ' ').slice(0, 400);
    throw new Error(`${basename(path)} could not be loaded: ${message}`, { cause: error });
  }
  return module.default ?? module;
}

/** tsx is an optional peer dependency: only a TypeScript config needs it. */
function isMissingTsx(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === 'ERR_MODULE_NOT_FOUND' && typeof message === 'string' && message.includes("'tsx'");
}

function parseJson(path: string, text: string): { value: unknown; problems: string[] } {
  try {
    return { value: JSON.parse(text), problems: [] };
  } catch (error) {
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message);
    const where =
      position && !/line \d+/.test(message) ? ` (${lineAndColumn(text, Number(position[1]))})` : '';
    return { value: undefined, problems: [`${basename(path)}: not valid JSON: ${message}${where}`] };
  }
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

function parseYaml(path: string, text: string): { value: unknown; problems: string[] } {
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    return {
      value: undefined,
      // The message's first line ends "at line L, column C"; the code frame below it is left out.
      problems: document.errors.map(
        (error) => `${basename(path)}: not valid YAML: ${error.message.split('\n')[0]!.replace(/:$/, '')}`,
      ),
    };
  }
  return { value: document.toJS(), problems: [] };
}

const reference = /\$\$\{|\$\{([^}]*)\}/g;
const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replace `${NAME}` in every string value with the variable's value; `$${` writes a literal
 * `${`. An unset (or empty) variable is a problem naming the config path and the variable.
 */
export function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: string[],
  problems: Problem[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(reference, (match, name: string | undefined) => {
      if (match === '$${') return '${';
      const where = path.join('.');
      if (name === undefined || !variableName.test(name)) {
        problems.push({
          path: where,
          message: `"${match}" is not a variable reference: use \${NAME} with letters, digits and _, or $\${ for a literal \${`,
        });
        return match;
      }
      const replacement = env[name];
      if (replacement === undefined || replacement === '') {
        problems.push({
          path: where,
          message: `\${${name}} is ${replacement === undefined ? 'not set' : 'empty'} in the environment: set ${name}, or write the value in the file`,
        });
        return match;
      }
      return replacement;
    });
  }
  if (Array.isArray(value))
    return value.map((item, i) => substituteEnv(item, env, [...path, String(i)], problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteEnv(item, env, [...path, key], problems)]),
    );
  }
  return value;
}
