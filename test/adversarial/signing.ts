/** What the signed-snapshot tests share: a signing key, a backup, a restore into a fresh folder, a flipped byte. */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { PASS, runCli } from '../helpers/cli.js';

/** A new signing key in a folder of its own: its file and its public key. */
export async function signingKey(): Promise<{ file: string; publicKey: string }> {
  const file = join(await mkdtemp(join(tmpdir(), 'failsafe-signing-')), 'signing-key');
  const r = await runCli(['keygen', '--signing', '--out', file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return { file, publicKey: r.json().publicKey as string };
}

/** Backs up with `config`; resolves with the new snapshot's id. */
export async function backup(config: string): Promise<string> {
  const r = await runCli(['backup', '--json', '-c', config], PASS);
  expect(r.code, r.stderr).toBe(0);
  return r.json().snapshots[0].id as string;
}

/** Restores `id` into a fresh folder: the result, and what the folder holds afterwards. */
export async function restore(d: { root: string; config: string }, id: string, extra: string[] = []) {
  const dest = await mkdtemp(join(d.root, 'dest-'));
  const r = await runCli(['restore', id, '--to', dest, '--yes', '-c', d.config, ...extra], PASS);
  return { ...r, dest, restored: await readdir(dest) };
}

/** Flips the lowest bit of the byte `at` picks in the file at `path`. */
export async function flipByte(path: string, at: (bytes: Buffer) => number): Promise<void> {
  const bytes = await readFile(path);
  const i = at(bytes);
  bytes[i] = bytes[i]! ^ 0x01;
  await writeFile(path, bytes);
}
