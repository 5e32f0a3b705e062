/**
 * Defence in depth: a restore plan refuses a source name that is not one path
 * segment even when the manifest never went through the gate (an
 * OpenedSnapshot built by hand through the API).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SourcePlugin } from '../../core/contracts.js';
import type { Manifest } from '../../core/format/manifest.js';
import type { OpenedSnapshot } from '../../core/repository/snapshots.js';
import { planRestore } from '../../core/restore/plan.js';
import { outsideHash } from './forge.js';

describe('planRestore with a source name that is not one segment', () => {
  it.each(['../outside', 'a/b', '.', ''])('%j is E_CORRUPT, and nothing around the destination changes', async (name) => {
    const box = await mkdtemp(join(tmpdir(), 'failsafe-plan-'));
    const before = await outsideHash(box, 'dest');
    const manifest = { id: 'x', sources: [{ name, type: 'directory', entries: 0, bytes: 0 }], entries: [] } as unknown as Manifest;
    const snapshot = { manifest } as OpenedSnapshot;
    const plugins = { byName: new Map<string, SourcePlugin>(), fallback: () => ({}) as SourcePlugin };
    await expect(planRestore(snapshot, plugins, { to: join(box, 'dest') })).rejects.toMatchObject({ code: 'E_CORRUPT' });
    expect(await outsideHash(box, 'dest')).toBe(before);
  });
});
