/**
 * Which key slots belong to the key set a rotation moves to. A rotation
 * that was interrupted is run again, so each object must tell whether it
 * still needs the new slots added (its run key is not yet sealed for every
 * new secret) or the old ones removed (a slot no new secret opens). Key
 * files and recipients are told apart by their key ids; a passphrase slot
 * only by opening it, one Argon2id run per salt (KeyRing caches them, and a
 * rotation seals every object with one salt).
 */
import type { KeyRing, KeySlot } from '../crypto/keys.js';
import { FailsafeError } from '../errors.js';
import { runSlots } from './run-slots.js';

export class SlotMatcher {
  readonly #ring: KeyRing;
  /** The slots a run key gets now: their kinds and key ids are what a rotated object carries. */
  readonly #wanted: KeySlot[];

  constructor(ring: KeyRing, writeOnly: boolean) {
    this.#ring = ring;
    this.#wanted = runSlots(ring, ring.newDataKey(), writeOnly);
  }

  /** The slots a key gets in a rotated object. */
  seal(key: Uint8Array, writeOnly: boolean): KeySlot[] {
    return runSlots(this.#ring, key, writeOnly);
  }

  /** Whether every secret of the new set has a slot among `slots`. */
  covers(slots: KeySlot[]): boolean {
    return this.#wanted.every((wanted) => slots.some((slot) => this.#same(wanted, slot)));
  }

  /** The slots that belong to the new set: what an object keeps once the old ones are removed. */
  ours(slots: KeySlot[]): KeySlot[] {
    return slots.filter((slot) => this.#wanted.some((wanted) => this.#same(wanted, slot)));
  }

  /** Whether `slots` hold exactly the new set: every secret covered, nothing else. */
  settled(slots: KeySlot[]): boolean {
    return this.covers(slots) && this.ours(slots).length === slots.length;
  }

  #same(wanted: KeySlot, slot: KeySlot): boolean {
    if (wanted.type !== slot.type) return false;
    if (wanted.type === 'passphrase') return this.#opens(slot);
    return 'keyId' in slot && slot.keyId === wanted.keyId;
  }

  #opens(slot: KeySlot): boolean {
    try {
      this.#ring.open([slot]);
      return true;
    } catch (err) {
      if (err instanceof FailsafeError && err.code === 'E_WRONG_KEY') return false;
      throw err;
    }
  }
}
