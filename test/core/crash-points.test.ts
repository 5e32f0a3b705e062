/**
 * The crash-point registry (core/testing/crash-points.ts) and the table in
 * docs/reliability.md agree: every command listed has its row, with the
 * number of named points the registry gives it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../core/testing/crash-points.js';

describe('crash points', () => {
  it('docs/reliability.md counts each command’s named points as the registry lists them', async () => {
    const docs = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'reliability.md'), 'utf8');
    const counted = Object.fromEntries([...docs.matchAll(/^\| ([^|]+) \| (\d+) named, \d+ swept/gm)].map((m) => [m[1], Number(m[2])]));
    expect(counted).toEqual(Object.fromEntries(Object.entries(CRASH_POINTS).map(([command, points]) => [command, points.length])));
  });

  it('names each point once per command', () => {
    for (const points of Object.values(CRASH_POINTS)) expect(new Set(points).size).toBe(points.length);
  });
});
