/**
 * An application's own operation, checkpointed in the deployment's store
 * with an error history: `failsafe recover --list` shows the counts and the
 * newest failure, and `--json` the whole bounded history.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../adapters/local/local.js';
import { runBatch } from '../../core/checkpoints/runner.js';
import { CheckpointStore } from '../../core/checkpoints/store.js';
import { makeDeployment, runCli } from '../helpers/cli.js';

describe('recover --list and an operation with an error history', () => {
  it('names its errors by code, its retries, and its newest failure with the item', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./failsafe.key }' });
    await writeFile(join(d.root, 'failsafe.key'), randomBytes(32).toString('base64'));
    // Without `checkpoints:` in the YAML the store is the first job's first target.
    const store = new CheckpointStore(new LocalAdapter({ path: d.target }));
    let flaky = 0;
    const batch = runBatch({
      store,
      operationId: 'photos-2026',
      operationName: 'Photo Processing',
      items: ['a.jpg', 'b.jpg', 'c.jpg'],
      everyItems: 1,
      retry: { minTimeout: 1, maxTimeout: 2 },
      process: (item) => {
        if (item === 'a.jpg' && flaky++ === 0) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        if (item === 'b.jpg') throw new Error('corrupt JPEG');
      },
    });
    await expect(batch).rejects.toThrow('corrupt JPEG');

    const text = await runCli(['recover', '--list', '-c', d.config]);
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^photos-2026: Photo Processing — failed, 33%, last checkpoint /);
    // b.jpg failed four times (3 retries), a.jpg once before it recovered: 2 retried calls, 1 recovered.
    expect(lines[1]).toBe('  5 errors (ECONNRESET 1, Error 4), 4 retries, 50% of retried calls recovered');
    expect(lines[2]).toMatch(/^ {2}last error \S+: Error: corrupt JPEG \{"index":1,"item":"b.jpg"\}$/);

    const [op] = (await runCli(['recover', '--list', '-c', d.config, '--json'])).json();
    expect(op.errors).toEqual({ total: 5, byCode: { ECONNRESET: 1, Error: 4 }, retries: 4, retriedCalls: 2, recoveredCalls: 1, retrySuccessRate: 0.5 });
    expect(op.recentErrors.map((e: { attempt: number }) => e.attempt)).toEqual([1, 1, 2, 3, 4]);
  });

  it('status warns of an operation whose retries mostly fail', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./failsafe.key }' });
    await writeFile(join(d.root, 'failsafe.key'), randomBytes(32).toString('base64'));
    const store = new CheckpointStore(new LocalAdapter({ path: d.target }));
    const items = ['a', 'b', 'c', 'd', 'e', 'f'];
    // Each item fails, is retried once and fails again: 6 retried calls, none recovered; the batch is stopped before its end.
    const controller = new AbortController();
    const batch = runBatch({
      store,
      operationId: 'sync',
      items: [...items, 'stop'],
      onError: 'continue',
      retry: { minTimeout: 1, maxTimeout: 2, retries: 1 },
      signal: controller.signal,
      process: (item) => {
        if (item === 'stop') return controller.abort();
        throw new Error(`upstream refused ${item}`);
      },
    });
    await expect(batch).rejects.toThrow();
    const status = await runCli(['status', '-c', d.config]);
    expect(status.stdout).toContain('operation sync: only 0% of 6 retried calls recovered');
    const [op] = (await runCli(['status', '-c', d.config, '--json'])).json().unfinishedOperations;
    expect(op.errors).toMatchObject({ total: 12, retriedCalls: 6, recoveredCalls: 0 });
  });
});
