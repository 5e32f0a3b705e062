/**
 * The damage sweep: a tiny snapshot (a folder, a two-byte file and a
 * symlink), in each format, and every stored object damaged one way at a
 * time: one bit flipped at each byte, and the object cut to each length
 * from 0 to one byte short. Each damaged object is followed by a restore
 * into a fresh folder, through the library, with one Failsafe instance
 * reused; the object's bytes are put back after each trial. A trial must be
 * refused with an integrity error (exit 3) or give back exactly the original
 * files; either way nothing around the destination may change.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Failsafe, type ConfigObject } from '../../api/index.js';
import { writeNewIdentity } from '../../core/crypto/identity.js';
import { writeNewSigningKey } from '../../core/crypto/signing.js';
import { asFailsafeError, exitCodeOf } from '../../core/errors.js';
import { tree, treeHash } from '../helpers/tree.js';

export type Damage = 'flip' | 'cut';

/** One stored object: where, what kind (manifest, segment; config, index, pack, snapshot), its bytes. */
export interface StoredObject {
  path: string;
  kind: string;
  bytes: Buffer;
}

export interface Trial {
  object: StoredObject;
  damage: Damage;
  /** The byte flipped, or the length cut to. */
  at: number;
}

/** Outcomes of one object kind: trials, and how each ended. */
export interface KindFigures {
  objects: number;
  bytes: number;
  flips: number;
  cuts: number;
  refused: number;
  harmless: number;
}

export interface Sweep {
  /** The folder the restores go into (and its surroundings): the source, the key, the journal. */
  home: string;
  target: string;
  failsafe: Failsafe;
  id: string;
  objects: StoredObject[];
  /** The source as it was backed up, to compare a restore with. */
  original: Record<string, string>;
  /** What `home` holds between trials: a trial that changes it wrote outside its destination. */
  around: string;
  close(): Promise<void>;
}

/** The object's kind, from its key's first folder. */
function kindOf(key: string): string {
  const top = key.split('/')[0]!;
  const kinds: Record<string, string> = { manifests: 'manifest', data: 'segment', packs: 'pack', snapshots: 'snapshot' };
  return kinds[top] ?? top;
}

/** Every object the backup stored (locks and checkpoints are not read by a restore), in key order. */
async function storedObjects(target: string): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  for (const key of (await readdir(target, { recursive: true })).sort()) {
    if (key.startsWith('locks') || key.startsWith('checkpoints')) continue;
    const bytes = await readFile(join(target, key)).catch(() => undefined);
    if (bytes) objects.push({ path: join(target, key), kind: kindOf(key), bytes });
  }
  return objects;
}

/**
 * How the tiny snapshot is protected: a key file alone, or public-key recipients and a signature: a write-only
 * host's snapshot (format 2 with its dedup key file beside the recipients), restored with the identity.
 */
export type SweepKeys = 'key-file' | 'recipients-signed';

async function sweepConfig(home: string, format: 1 | 2, keys: SweepKeys): Promise<Partial<Pick<ConfigObject, 'encryption' | 'signing'>>> {
  await writeFile(join(home, 'k'), `${randomBytes(32).toString('base64')}\n`);
  if (keys === 'key-file') return { encryption: { keyFile: './k' } };
  const recipient = await writeNewIdentity(join(home, 'id'));
  const signer = await writeNewSigningKey(join(home, 'sig'));
  const signing = { keyFile: './sig', trust: [signer] };
  return { encryption: format === 1 ? { recipients: [recipient] } : { keyFile: './k', recipients: [recipient] }, signing };
}

/** The smallest source that still holds a folder, a file and a symlink; one restore thread. */
export async function tinySnapshot(format: 1 | 2, keys: SweepKeys = 'key-file'): Promise<Sweep> {
  const root = await mkdtemp(join(tmpdir(), 'failsafe-sweep-'));
  const home = join(root, 'home');
  const target = join(root, 'target');
  await mkdir(join(home, 'd', 's'), { recursive: true });
  await writeFile(join(home, 'd', 's', 'f'), 'f\n');
  await symlink('s/f', join(home, 'd', 'l'));
  const config: ConfigObject = {
    version: 1,
    parallelism: 1,
    targets: { t: { type: 'local', path: target } },
    ...(await sweepConfig(home, format, keys)),
    ...(format === 2 ? { repository: { format: 2 } } : {}),
    jobs: { j: { sources: [{ type: 'directory', path: './d' }], targets: ['t'] } },
  };
  const writer = await Failsafe.fromConfig(config, { baseDir: home });
  const outcome = await writer.backup();
  if (outcome.failures.length > 0) throw new Error(`backup failed: ${JSON.stringify(outcome.failures)}`);
  // A write-only host's snapshot is read with the identity.
  const failsafe = keys === 'recipients-signed' ? await writer.withIdentity({ file: join(home, 'id') }) : writer;
  const id = outcome.snapshots[0]!.id;
  const original = await tree(join(home, 'd'));
  // One clean restore first: the journal folder it makes is part of the surroundings from then on.
  await failsafe.restore(id, { to: join(home, 'out') });
  await rm(join(home, 'out'), { recursive: true });
  const sweep = { home, target, failsafe, id, original, objects: await storedObjects(target), around: await surroundings(home) };
  const close = async (): Promise<void> => {
    if (failsafe !== writer) await failsafe.close();
    await writer.close().finally(() => rm(root, { recursive: true, force: true }));
  };
  return { ...sweep, close };
}

/**
 * A digest of `home`: every file and folder, with contents, modes and times, except that of the journal folder
 * only the names are taken (each restore writes its journal there and removes it, so its folder's time moves).
 */
async function surroundings(home: string): Promise<string> {
  const names = (await readdir(home, { recursive: true })).sort();
  const kept = await Promise.all(names.filter((n) => !n.startsWith('.failsafe')).map(async (n) => `${n}:${await treeHash(join(home, n))}`));
  return `${names.join('\n')}\n${kept.join('\n')}`;
}

/** Every trial of every object: each byte flipped (bit `at % 8`, so every bit position is tried), each shorter length. */
export function allTrials(objects: StoredObject[]): Trial[] {
  return objects.flatMap((object) => trialsOf(object, 1));
}

/**
 * The default sweep: every trial of an object up to `whole` bytes, and of a larger one every k-th byte and length
 * (k so that about `whole` of each are tried), always with the cut to nothing and the cut of the last byte.
 */
export function sampledTrials(objects: StoredObject[], whole: number): Trial[] {
  return objects.flatMap((object) => trialsOf(object, Math.ceil(object.bytes.length / whole)));
}

function trialsOf(object: StoredObject, step: number): Trial[] {
  const length = object.bytes.length;
  const at = Array.from({ length: Math.ceil(length / step) }, (_, i) => i * step);
  const cuts = at.includes(length - 1) ? at : [...at, length - 1];
  return [...at.map((n) => ({ object, damage: 'flip' as const, at: n })), ...cuts.map((n) => ({ object, damage: 'cut' as const, at: n }))];
}

function damaged({ object, damage, at }: Trial): Buffer {
  if (damage === 'cut') return object.bytes.subarray(0, at);
  const bytes = Buffer.from(object.bytes);
  bytes[at] = bytes[at]! ^ (1 << (at % 8));
  return bytes;
}

/** How a trial ended: refused (with the error's code), harmless, or wrong (with a sentence saying how). */
export type Outcome = { end: 'refused'; code: string } | { end: 'harmless'; what: string } | { end: 'wrong'; why: string };

/** Runs one trial: the damaged object, a restore into a fresh folder, the object put back, the surroundings compared. */
export async function runTrial(sweep: Sweep, trial: Trial, n: number): Promise<Outcome> {
  const { home, failsafe, id, original } = sweep;
  const what = `${trial.object.kind} ${trial.object.path.slice(sweep.target.length)} ${trial.damage} @${trial.at}`;
  const to = join(home, `out-${n}`);
  await writeFile(trial.object.path, damaged(trial));
  let outcome: Outcome;
  try {
    await failsafe.restore(id, { to });
    const same = JSON.stringify(await tree(join(to, 'd'))) === JSON.stringify(original);
    outcome = same ? { end: 'harmless', what } : { end: 'wrong', why: `${what}: restored different files with no error` };
  } catch (err) {
    const code = asFailsafeError(err).code;
    const why = `${what}: exit ${exitCodeOf(err)} ${code} ${(err as Error).message}`;
    outcome = exitCodeOf(err) === 3 ? { end: 'refused', code } : { end: 'wrong', why };
  } finally {
    await writeFile(trial.object.path, trial.object.bytes);
  }
  await rm(to, { recursive: true, force: true });
  if ((await surroundings(home)) !== sweep.around) return { end: 'wrong', why: `${what}: the folder around the destination changed` };
  return outcome;
}

export interface SweepFigures {
  kinds: Record<string, KindFigures>;
  /** How many refusals each error code made. */
  codes: Record<string, number>;
  /** Which trials were harmless (kind, key, damage, byte), to see what a restore does not depend on. */
  harmless: string[];
  /**
   * Of those, the bits flipped inside one key slot of an object sealed for several secrets: the deployment holds
   * another secret whose slot opened it. A slot's own bytes are not authenticated by the others (as a restic key
   * file is one object per password): the damage is found by opening with that slot's secret alone.
   */
  spareSlot: string[];
  wrong: string[];
}

/** Runs the trials, counting outcomes per object kind and refusals per error code; the wrong ones come back as sentences. */
export async function runTrials(sweep: Sweep, trials: Trial[]): Promise<SweepFigures> {
  const figures: SweepFigures = { kinds: {}, codes: {}, harmless: [], spareSlot: [], wrong: [] };
  for (const o of sweep.objects) {
    const f = (figures.kinds[o.kind] ??= { objects: 0, bytes: 0, flips: 0, cuts: 0, refused: 0, harmless: 0 });
    f.objects++;
    f.bytes += o.bytes.length;
  }
  for (const [n, trial] of trials.entries()) {
    const outcome = await runTrial(sweep, trial, n);
    const f = figures.kinds[trial.object.kind]!;
    if (trial.damage === 'flip') f.flips++;
    else f.cuts++;
    if (outcome.end === 'wrong') figures.wrong.push(outcome.why);
    else f[outcome.end]++;
    if (outcome.end === 'harmless') (inSpareSlot(trial) ? figures.spareSlot : figures.harmless).push(outcome.what);
    if (outcome.end === 'refused') figures.codes[outcome.code] = (figures.codes[outcome.code] ?? 0) + 1;
  }
  return figures;
}

/** Whether the trial flips a byte of the `slots` list of an object sealed for more than one secret. */
function inSpareSlot({ object, damage, at }: Trial): boolean {
  if (damage !== 'flip') return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(object.bytes.toString('utf8'));
  } catch {
    return false;
  }
  const slots = (parsed as { slots?: unknown }).slots;
  if (!Array.isArray(slots) || slots.length < 2) return false;
  const start = object.bytes.indexOf('"slots":[');
  // Base64 and hex have no `]`: the list ends at the first one.
  const end = object.bytes.indexOf(']', start);
  return start >= 0 && at >= start && at <= end;
}
