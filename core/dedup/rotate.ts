/**
 * `keys rotate` over a deduplicating (format 2) repository, in three steps
 * so that a crash anywhere leaves a repository that one key set reads whole
 * and a second run finishes (docs/encryption.md, Rotating keys):
 *
 *   1. add: every pack's trailer and every snapshot object get their run key
 *      sealed for the new key set beside the old slots — both sets open them;
 *   2. config: the repository's keys under a fresh master key, sealed for the
 *      new set alone — from here on the old set no longer opens the repository;
 *   3. strip: the old slots are removed from every pack and snapshot object.
 *
 * Index objects and snapshots' reference lists are sealed with the index key,
 * which the config holds and which does not change, nor do the chunk-id and
 * gear keys (dedup against the old packs goes on). Run keys are not changed:
 * whoever kept an old run key, or an old object and the old secret, still
 * reads what that run wrote. Each object is replaced whole by one atomic put.
 */
import type { KeyRing } from '../crypto/keys.js';
import type { Signer } from '../crypto/signing.js';
import { asFailsafeError, FailsafeError } from '../errors.js';
import { PACKS_PREFIX } from '../pack/load-index.js';
import { CONFIG_KEY, configSlots, encodeConfig, readConfig, type RepositoryKeys } from '../pack/repository-config.js';
import type { Storage } from '../repository/storage.js';
import { pauseForTest } from '../testing/test-hooks.js';
import { addToPack, addToSnapshot, stripPack, stripSnapshot, trailerSlots, type RotationKeys } from './rotate-objects.js';
import { SlotMatcher } from './rotate-slots.js';
import { SNAPSHOTS_PREFIX } from './snapshot.js';
import { TAIL_PROBE } from '../pack/format.js';

export interface RotateV2Input {
  storage: Storage;
  /** Rings that open the existing objects: the configuration's (with an identity), then the old secrets. */
  openWith: KeyRing[];
  /** The configuration's key set, which the repository moves to. */
  sealWith: KeyRing;
  /** Packs and snapshots sealed for the recipients alone, as a write-only host's backups are. */
  writeOnly: boolean;
  signer?: Signer;
  /** Signing keys whose snapshots may be signed again by `signer`. */
  trusted: Uint8Array[];
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface RotateV2Report {
  target: string;
  /** Whether the config was (or, in a dry run, would be) written for the new key set. */
  config: boolean;
  /** Objects rewritten (or that would be), each counted once whatever the steps it took. */
  packs: number;
  snapshots: number;
  /** Objects that already held the new key set's slots alone. */
  unchanged: number;
  rotated: { id: string; job: string }[];
  failures: { object: string; code: string; message: string }[];
}

type Kind = 'pack' | 'snapshot';
interface Listed {
  key: string;
  kind: Kind;
}

export async function rotateRepositoryV2(input: RotateV2Input): Promise<RotateV2Report> {
  const { storage, sealWith } = input;
  const report: RotateV2Report = { target: storage.targetName, config: false, packs: 0, snapshots: 0, unchanged: 0, rotated: [], failures: [] };
  const config = await storage.getBuffer(CONFIG_KEY, pick(input));
  const keys = openConfig(config, input);
  const rotation: RotationKeys = {
    openWith: input.openWith,
    matcher: new SlotMatcher(sealWith, input.writeOnly),
    writeOnly: input.writeOnly,
    trusted: input.trusted,
    ...(input.signer ? { signer: input.signer } : {}),
  };
  const objects = await listObjects(storage, input.signal);
  const changed = new Set<string>();
  // Snapshot objects first: small, and where a signer that may not be re-signed shows, before any pack is rewritten.
  for (const kind of ['snapshot', 'pack'] as const) {
    await eachObject(
      objects.filter((o) => o.kind === kind),
      'add',
      input,
      rotation,
      report,
      changed,
    );
    // The new set may not take the repository over while an object it cannot open is left: the old set still reads everything.
    if (report.failures.length > 0) return report;
  }
  if (!new SlotMatcher(sealWith, false).settled(configSlots(config))) {
    report.config = true;
    if (!input.dryRun) await storage.put(CONFIG_KEY, encodeConfig(keys, sealWith), pick(input));
    if (!input.dryRun) await pauseForTest('rotate-v2-config', input.signal);
  }
  await eachObject(objects, 'strip', input, rotation, report, changed);
  report.unchanged = objects.length - changed.size;
  return report;
}

/** The repository's keys, opened by the first ring that can. */
function openConfig(config: Buffer, input: RotateV2Input): RepositoryKeys {
  const what = `${input.storage.targetName}:${CONFIG_KEY}`;
  let first: unknown;
  for (const ring of input.openWith) {
    try {
      return readConfig(config, ring, what);
    } catch (err) {
      if (!(err instanceof FailsafeError && err.code === 'E_WRONG_KEY')) throw err;
      first ??= err;
    }
  }
  throw first ?? new FailsafeError('E_KEY_MISSING', `${what}: no key to open it with`);
}

async function listObjects(storage: Storage, signal?: AbortSignal): Promise<Listed[]> {
  const out: Listed[] = [];
  const options = signal ? { signal } : {};
  for await (const o of storage.list(PACKS_PREFIX, options)) out.push({ key: o.key, kind: 'pack' });
  for await (const o of storage.list(SNAPSHOTS_PREFIX, options)) out.push({ key: o.key, kind: 'snapshot' });
  return out;
}

/** One step over every object; a failure is reported and the next object tried. */
async function eachObject(
  objects: Listed[],
  step: 'add' | 'strip',
  input: RotateV2Input,
  keys: RotationKeys,
  report: RotateV2Report,
  changed: Set<string>,
): Promise<void> {
  for (const object of objects) {
    input.signal?.throwIfAborted();
    try {
      // A dry run wrote no new slots in the add step: its strip step would only find the same objects again.
      if (input.dryRun && step === 'strip' && changed.has(object.key)) continue;
      const rotated = await rotateOne(object, step, input, keys);
      if (!rotated) continue;
      if (!input.dryRun) {
        await input.storage.put(object.key, rotated, pick(input));
        await pauseForTest(step === 'add' ? 'rotate-v2-added' : 'rotate-v2-stripped', input.signal);
      }
      count(object, report, changed);
    } catch (err) {
      if (input.signal?.aborted) throw err;
      const e = asFailsafeError(err);
      report.failures.push({ object: object.key, code: e.code, message: e.message });
    }
  }
}

/** The object's new bytes for this step, or undefined when it needs nothing. A pack is downloaded only when its trailer says it must change. */
async function rotateOne(object: Listed, step: 'add' | 'strip', input: RotateV2Input, keys: RotationKeys): Promise<Buffer | undefined> {
  const { storage } = input;
  const what = `${storage.targetName}:${object.key}`;
  if (object.kind === 'snapshot') {
    const bytes = await storage.getBuffer(object.key, pick(input));
    return step === 'add' ? addToSnapshot(bytes, what, keys) : stripSnapshot(bytes, what, keys);
  }
  // Its size now: the add step changed the length of the trailers it rewrote.
  const size = (await storage.head(object.key, pick(input)))?.size;
  if (size === undefined) throw new FailsafeError('E_NOT_FOUND', `${what}: the pack is missing`);
  const start = Math.max(0, size - TAIL_PROBE);
  const slots = trailerSlots(await storage.getBuffer(object.key, { ...pick(input), range: { start, end: size - 1 } }), size, what);
  if (step === 'add' ? keys.matcher.covers(slots) : keys.matcher.settled(slots)) return undefined;
  const pack = await storage.getBuffer(object.key, pick(input));
  return step === 'add' ? addToPack(pack, what, keys) : stripPack(pack, what, keys);
}

function count(object: Listed, report: RotateV2Report, changed: Set<string>): void {
  if (changed.has(object.key)) return;
  changed.add(object.key);
  if (object.kind === 'pack') {
    report.packs += 1;
    return;
  }
  report.snapshots += 1;
  const [job = '', id = ''] = object.key.slice(SNAPSHOTS_PREFIX.length).split('/');
  report.rotated.push({ id, job });
}

const pick = (input: RotateV2Input): { signal?: AbortSignal } => (input.signal ? { signal: input.signal } : {});
