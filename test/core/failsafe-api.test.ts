import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Failsafe, type BackupFailure, type BackupProgress, type ConfigObject } from '../../api/index.js';
import { FailsafeError } from '../../core/errors.js';
import { defineSource } from '../../core/sdk/registry.js';
import { DirectorySource } from '../../plugins/directory/directory.js';

const QUICKSTART = join(import.meta.dirname, '..', '..', 'examples', 'quickstart');

/** The part of app()'s config a test rewrites to break it. */
type WithAppSources = ConfigObject & { jobs: { app: { sources: { type: string; path?: string }[] } } };

async function app(): Promise<{ root: string; config: ConfigObject }> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-api-'));
  await cp(join(QUICKSTART, 'data'), join(root, 'data'), { recursive: true });
  await writeFile(join(root, 'app.json'), '{"port": 8080}');
  const config: ConfigObject = {
    version: 1,
    targets: { disk: { type: 'local', path: './backups' } },
    encryption: { passphrase: '${APP_SECRET}' },
    segmentSize: '1MiB',
    jobs: {
      app: {
        sources: [
          { type: 'directory', path: './data' },
          { type: 'config-file', path: './app.json', name: 'settings' },
        ],
        targets: ['disk'],
      },
    },
  };
  return { root, config };
}

async function rejection(promise: Promise<unknown>): Promise<FailsafeError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FailsafeError);
  return err as FailsafeError;
}

const env = { APP_SECRET: 'library secret' };

describe('the programmatic API', () => {
  it('round-trips a deployment given as an object: backup, list, verify, restore', async () => {
    const { root, config } = await app();
    const failsafe = await Failsafe.fromConfig(config, { baseDir: root, env });
    try {
      const outcome = await failsafe.backup();
      expect(outcome.failures).toEqual([]);
      const [snapshot] = outcome.snapshots;
      expect(snapshot).toMatchObject({ job: 'app', target: 'disk' });
      expect((await failsafe.list()).map((s) => s.id)).toEqual([snapshot!.id]);
      expect(await failsafe.verify(snapshot!.id, { readData: true })).toMatchObject({ ok: true });
      await failsafe.restore(snapshot!.id, { to: join(root, 'restored') });
      expect(await readFile(join(root, 'restored', 'data', 'readings.csv'), 'utf8')).toBe(await readFile(join(root, 'data', 'readings.csv'), 'utf8'));
      expect(await readFile(join(root, 'restored', 'settings', 'app.json'), 'utf8')).toBe('{"port": 8080}');
    } finally {
      await failsafe.close();
    }
  });

  it('validates an object as it validates the YAML, naming the key path', async () => {
    const { root, config } = await app();
    const typo = structuredClone(config) as WithAppSources;
    typo.jobs.app.sources[0]!.type = 'dirctory';
    const err = await rejection(Failsafe.fromConfig(typo, { baseDir: root, env }));
    expect(err.code).toBe('E_UNKNOWN_TYPE');
    expect(err.message).toMatch(/^configuration: jobs\.app\.sources\[0\]\.type: unknown source type "dirctory" \(known: directory, /);
    const extra = await rejection(Failsafe.fromConfig({ ...config, retention: 3 }, { baseDir: root, env }));
    expect(extra.message).toBe('configuration: retention: unknown key "retention"');
    const missingVar = await rejection(Failsafe.fromConfig({ ...config, targets: { disk: { type: 'local', path: '${NOPE}' } } }, { baseDir: root, env }));
    expect(missingVar).toMatchObject({ code: 'E_CONFIG_ENV', message: 'configuration: targets.disk.path: environment variable NOPE is not set' });
    const notObject = await rejection(Failsafe.fromConfig([] as unknown as ConfigObject));
    expect(notObject.message).toBe('configuration: expected an object of the failsafe.yaml shape');
  });

  it('takes plugin factories in `plugins` and refuses one that clashes with a built-in', async () => {
    const { root, config } = await app();
    const calls: string[] = [];
    const tracked = defineSource({
      type: 'tracked-dir',
      optionsSchema: z.object({ path: z.string() }).strict(),
      defaultName: () => 'tracked',
      create: (options: { path: string }, name: string) => {
        const source = new DirectorySource({ path: options.path }, name);
        return Object.assign(source, { type: 'tracked-dir', prepare: async () => void calls.push(name) });
      },
    });
    const failsafe = await Failsafe.fromConfig(
      { ...config, plugins: [tracked], jobs: { app: { sources: [{ type: 'tracked-dir', path: './data' }], targets: ['disk'] } } },
      { baseDir: root, env },
    );
    try {
      expect((await failsafe.backup()).snapshots).toHaveLength(1);
      expect(calls).toEqual(['tracked']);
    } finally {
      await failsafe.close();
    }
    const clash = await rejection(Failsafe.fromConfig({ ...config, plugins: [{ ...tracked, type: 'directory' }] }, { baseDir: root, env }));
    expect(clash).toMatchObject({ code: 'E_PLUGIN_LOAD', message: 'plugin source "directory": source type "directory" is already registered' });
  });

  it('reports progress as events and as an async iterator, with bytes, files, segments and targets', async () => {
    const { root, config } = await app();
    const failsafe = await Failsafe.fromConfig(config, { baseDir: root, env });
    const events: BackupProgress[] = [];
    failsafe.on('progress', (p) => events.push(p));
    const stop = new AbortController();
    const seen: BackupProgress[] = [];
    const consumer = (async () => {
      for await (const p of failsafe.progress({ signal: stop.signal })) {
        seen.push(p);
        await sleep(5); // a slow screen: gets the latest state, not every one
      }
    })();
    try {
      const [snapshot] = (await failsafe.backup()).snapshots;
      stop.abort();
      await consumer;
      const last = events.at(-1)!;
      expect(last).toMatchObject({ job: 'app', targets: ['disk'], files: snapshot!.files, bytesRead: snapshot!.bytes, storedBytes: snapshot!.storedBytes });
      expect(last.segments).toBeGreaterThanOrEqual(1);
      expect(events.map((e) => e.files)).toEqual([...events.map((e) => e.files)].sort((a, b) => a - b));
      expect(new Set(events).size).toBe(events.length); // each event is its own object
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.length).toBeLessThanOrEqual(events.length);
      expect(seen.at(-1)).toEqual(last);
    } finally {
      await failsafe.close();
    }
  });

  it('cancels a backup through its AbortSignal, leaving no snapshot', async () => {
    const { root, config } = await app();
    const failsafe = await Failsafe.fromConfig(config, { baseDir: root, env });
    try {
      const controller = new AbortController();
      failsafe.once('progress', () => controller.abort());
      const err = await rejection(failsafe.backup([], { signal: controller.signal }));
      expect(err.code).toBe('E_ABORTED');
      expect(await failsafe.list()).toEqual([]);
      await expect(failsafe.list({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      await failsafe.close();
    }
  });
});

describe('automatic backups in process', () => {
  /** A directory source whose prepare takes `ms`, counting how many run at once. */
  function slowSource(ms: number, stats: { active: number; max: number }) {
    return defineSource({
      type: 'slow-dir',
      optionsSchema: z.object({ path: z.string() }).strict(),
      defaultName: () => 'slow',
      create: (options: { path: string }, name: string) =>
        Object.assign(new DirectorySource({ path: options.path }, name), {
          type: 'slow-dir',
          prepare: async () => {
            stats.active++;
            stats.max = Math.max(stats.max, stats.active);
            await sleep(ms);
            stats.active--;
          },
        }),
    });
  }

  it('backs up periodically without overlapping runs, and stop() waits for the run in progress', async () => {
    const { root, config } = await app();
    const stats = { active: 0, max: 0 };
    const failsafe = await Failsafe.fromConfig(
      { ...config, plugins: [slowSource(60, stats)], jobs: { app: { sources: [{ type: 'slow-dir', path: './data' }], targets: ['disk'] } } },
      { baseDir: root, env },
    );
    try {
      let stored = 0;
      const three = new Promise<void>((resolve) => failsafe.on('snapshot', () => ++stored === 3 && resolve()));
      failsafe.startAutoBackup('app', 10, { immediately: true }); // interval far shorter than a run
      expect(() => failsafe.startAutoBackup('app', 10)).toThrow(/already running/);
      await three;
      await failsafe.stop();
      expect(stats.max).toBe(1);
      expect(stats.active).toBe(0);
      const count = (await failsafe.list()).length;
      expect(count).toBeGreaterThanOrEqual(3);
      await sleep(100);
      expect((await failsafe.list()).length).toBe(count); // nothing runs after stop()
    } finally {
      await failsafe.close();
    }
  });

  it('surfaces a failing run as a failure event, never as an unhandled rejection, and keeps running', async () => {
    const { root, config } = await app();
    const broken = structuredClone(config) as WithAppSources;
    broken.jobs.app.sources = [{ type: 'directory', path: './missing' }];
    const failsafe = await Failsafe.fromConfig(broken, { baseDir: root, env });
    const failures: (BackupFailure & { auto: boolean })[] = [];
    try {
      const two = new Promise<void>((resolve) => failsafe.on('failure', (f) => failures.push(f) === 2 && resolve()));
      failsafe.startAutoBackup([], 20, { immediately: true });
      await two;
      await failsafe.stop();
      expect(failures[0]).toMatchObject({ job: 'app', auto: true, error: { code: 'E_SOURCE_MISSING' } });
      expect(() => failsafe.startAutoBackup('nope', 20)).toThrow(/no job "nope"/);
      expect(() => failsafe.startAutoBackup('app', 0)).toThrow(/positive number of milliseconds/);
    } finally {
      await failsafe.close();
    }
  });
});
