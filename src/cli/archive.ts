import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { serializeAttempt, serializeBody, serializeEventSummary } from '../http/admin/serialize.ts';
import type { ArchivableEvent, Attempt, Store } from '../store/types.ts';
import { createProgress, type Progress, type ProgressStream } from './progress.ts';
import { fail, openCliStore, parseTimeOption } from './shared.ts';

interface ArchiveOptions {
  olderThan: string;
  out: string;
  batchSize: string;
  delete: boolean;
}

/**
 * The checkpoint beside the archive (`FILE.progress`), rewritten atomically after each batch.
 * `bytes` is the archive's length after the last batch it records: a resumed run cuts anything
 * written after it (a batch whose checkpoint never made it to disk) and carries on from `lastId`,
 * so no line is ever written twice. `pendingDelete` are the ids of the last batch, deleted again
 * on resume (deleting is idempotent) in case the run stopped between checkpoint and delete.
 */
export interface ArchiveProgress {
  version: 1;
  /** Events processed before this (epoch ms) are archived; fixed at the first run. */
  cutoff: number;
  olderThan: string;
  deleteAfterWrite: boolean;
  lastId: string;
  bytes: number;
  archived: number;
  pendingDelete: string[];
  done: boolean;
  startedAt: string;
  updatedAt: string;
}

export function registerArchiveCommand(program: Command): void {
  program
    .command('archive')
    .description(
      'write processed events older than an age to a gzip NDJSON file (one event with its attempts per line), then delete them; resumable',
    )
    .requiredOption('--older-than <age>', 'processed before this: an age like 90d, ISO 8601, or unix seconds')
    .requiredOption('--out <file>', 'the archive to write, e.g. events-2026-01.ndjson.gz')
    .option('--batch-size <n>', 'events per batch (one gzip member and one delete each)', '200')
    .option('--no-delete', 'write the archive but keep the events in the store')
    .action(async (options: ArchiveOptions, command: Command) => {
      const batchSize = Number(options.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5000)
        fail('--batch-size takes a whole number from 1 to 5000', 2);
      const cutoff = parseTimeOption('--older-than', options.olderThan);
      const out = resolve(options.out);
      const store = await openCliStore(command);
      try {
        const result = await archiveEvents({
          store,
          out,
          cutoff,
          olderThan: options.olderThan,
          batchSize,
          deleteAfterWrite: options.delete,
          report: createReporter(process.stderr),
        });
        if (result.alreadyComplete) {
          process.stdout.write(
            `${out} is already complete (${result.archived} event(s)); archive newer events to a new file\n`,
          );
          return;
        }
        process.stdout.write(
          `${result.resumed ? 'resumed and ' : ''}archived ${result.archived} event(s) processed before ${new Date(result.cutoff).toISOString()} to ${out}${options.delete ? ', then deleted them' : ' (kept in the store)'}\n`,
        );
      } catch (error) {
        if (error instanceof ArchiveRefused) fail(error.message, 2);
        throw error;
      } finally {
        await store.close();
      }
    });
}

export class ArchiveRefused extends Error {}

export interface ArchiveRun {
  store: Store;
  out: string;
  /** Used only when no checkpoint exists; a resumed run keeps the checkpoint's. */
  cutoff: number;
  olderThan: string;
  batchSize: number;
  deleteAfterWrite: boolean;
  /** Called after each batch. */
  report?: (progress: { archived: number; total: number; lastId: string; done: boolean }) => void;
  /** Stop after this many batches (tests simulate an interrupted run). */
  maxBatches?: number;
}

/** Archive in id order, one fsynced gzip member per batch, checkpoint, then delete the batch. */
export async function archiveEvents(run: ArchiveRun) {
  const { store, out, batchSize } = run;
  const progressFile = `${out}.progress`;
  let progress: ArchiveProgress;
  let resumed = false;
  if (existsSync(progressFile)) {
    progress = JSON.parse(readFileSync(progressFile, 'utf8')) as ArchiveProgress;
    if (progress.version !== 1)
      throw new ArchiveRefused(`${progressFile} is not a checkpoint this Hookbox can read`);
    if (progress.done) {
      return { archived: progress.archived, cutoff: progress.cutoff, resumed: false, alreadyComplete: true };
    }
    resumed = true;
    const size = existsSync(out) ? statSync(out).size : 0;
    if (size < progress.bytes) {
      throw new ArchiveRefused(
        `${out} is shorter (${size} bytes) than its checkpoint says (${progress.bytes}): it was changed or replaced; restore it, or remove ${progressFile} and archive to a new file`,
      );
    }
    // A batch written after the last checkpoint is cut off and written again from the store.
    if (size > progress.bytes) truncateSync(out, progress.bytes);
  } else {
    if (existsSync(out)) {
      throw new ArchiveRefused(
        `${out} exists and has no ${progressFile} checkpoint: choose another --out, or move the file away`,
      );
    }
    const now = new Date().toISOString();
    progress = {
      version: 1,
      cutoff: run.cutoff,
      olderThan: run.olderThan,
      deleteAfterWrite: run.deleteAfterWrite,
      lastId: '',
      bytes: 0,
      archived: 0,
      pendingDelete: [],
      done: false,
      startedAt: now,
      updatedAt: now,
    };
    writeFileSync(out, '');
    saveProgress(progressFile, progress);
  }

  const { cutoff } = progress;
  if (progress.pendingDelete.length > 0 && progress.deleteAfterWrite) {
    await store.deleteFinishedEvents(progress.pendingDelete, cutoff);
  }
  // The total is an estimate for the progress bar (events received before the cutoff are the
  // ones that can have been processed before it).
  const total =
    progress.archived + (await store.countEvents({ status: ['processed', 'ignored'], until: cutoff }));

  const fd = openSync(out, 'a');
  let batches = 0;
  try {
    for (;;) {
      if (run.maxBatches !== undefined && batches >= run.maxBatches) break;
      const events = await store.listFinishedEvents(cutoff, progress.lastId, batchSize);
      if (events.length === 0) {
        progress = { ...progress, pendingDelete: [], done: true, updatedAt: new Date().toISOString() };
        saveProgress(progressFile, progress);
        run.report?.({ archived: progress.archived, total, lastId: progress.lastId, done: true });
        break;
      }
      const lines: string[] = [];
      for (const event of events)
        lines.push(JSON.stringify(toArchiveLine(event, await store.listAttempts(event.id))));
      const member = gzipSync(`${lines.join('\n')}\n`);
      writeFully(fd, member);
      fsyncSync(fd);
      const ids = events.map((e) => e.id);
      progress = {
        ...progress,
        lastId: ids.at(-1)!,
        bytes: progress.bytes + member.length,
        archived: progress.archived + events.length,
        pendingDelete: progress.deleteAfterWrite ? ids : [],
        updatedAt: new Date().toISOString(),
      };
      // Checkpoint before deleting: a deleted event is always in a checkpointed part of the file.
      saveProgress(progressFile, progress);
      if (progress.deleteAfterWrite) await store.deleteFinishedEvents(ids, cutoff);
      batches++;
      run.report?.({ archived: progress.archived, total, lastId: progress.lastId, done: false });
    }
  } finally {
    closeSync(fd);
  }
  return { archived: progress.archived, cutoff, resumed, alreadyComplete: false };
}

/**
 * One NDJSON line: the event as the admin API shows it, but with its headers as stored (an
 * archive must allow re-verification), its body (UTF-8 text when it is, else base64) and attempts.
 */
export function toArchiveLine(event: ArchivableEvent, attempts: Attempt[]) {
  return {
    ...serializeEventSummary(event),
    headers: event.headers,
    ...serializeBody(event.body),
    bodyScrubbedAt: event.bodyScrubbedAt === null ? null : new Date(event.bodyScrubbedAt).toISOString(),
    attemptHistory: attempts.map(serializeAttempt),
  };
}

function writeFully(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.length) offset += writeSync(fd, buffer, offset);
}

/** Write the checkpoint to a temporary file, fsync it, rename it over the old one, fsync the folder. */
function saveProgress(file: string, progress: ArchiveProgress): void {
  const temporary = `${file}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    writeFully(fd, Buffer.from(`${JSON.stringify(progress, null, 2)}\n`));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  try {
    const dir = openSync(dirname(file), 'r');
    fsyncSync(dir);
    closeSync(dir);
  } catch {
    // Some platforms cannot fsync a folder; the rename is still atomic.
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** The shared progress bar (src/cli/progress.ts): redrawn on a terminal, plain lines otherwise. */
function createReporter(stream: ProgressStream): NonNullable<ArchiveRun['report']> {
  let progress: Progress | null = null;
  return ({ archived, total, done }) => {
    progress ??= createProgress('archive', total, stream);
    progress.update(archived);
    if (done) progress.finish(`archive complete: ${archived} event(s)`);
  };
}
