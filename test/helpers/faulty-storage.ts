/**
 * A fault-injecting storage wrapper, registered through the composition root
 * (`configure: (c) => c.registerInstance(TOKENS.StorageWrappers, [faulty(...)])`):
 * it sits between a target's real adapter and the retry, as a failing disk or
 * store would, and fails the operations a rule picks with what such a store
 * throws (an errno error turned into E_STORAGE as the local adapter turns
 * it), delays them, or ends a listing part way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { StorageAdapter } from '../../core/contracts.js';
import { fromNodeError } from '../../core/errors.js';
import type { StorageWrapper } from '../../api/tokens.js';

export type FaultKind =
  /** The disk is full: the put fails (nothing stored, as a real adapter's atomic put). */
  | 'ENOSPC'
  /** An I/O error on the operation. */
  | 'EIO'
  /** The operation succeeds after `delayMs`. */
  | 'slow'
  /** A listing yields `after` objects, then fails with EIO (`times` counts the listings broken, not those too short to break). */
  | 'partial-list';

export interface FaultRule {
  kind: FaultKind;
  op: 'put' | 'get' | 'list' | 'any';
  /** Only keys (or listing prefixes) matching this. */
  key?: RegExp;
  /** The first matching operations to let through before the fault; default 0. */
  skip?: number;
  /** How many matching operations fail after those skipped; default: all. */
  times?: number;
  delayMs?: number;
  after?: number;
}

export interface FaultLog {
  /** `<op> <key>` of every operation a fault hit. */
  hit: string[];
}

function errnoError(code: string, op: string, key: string): Error {
  const message = code === 'ENOSPC' ? 'no space left on device' : 'i/o error';
  return Object.assign(new Error(`${code}: ${message}, ${op} '${key}'`), { code });
}

/** Wraps every target's adapter so that `rules` apply; `log` collects what they hit. */
export function faulty(rules: FaultRule[], log: FaultLog = { hit: [] }): StorageWrapper {
  const seen = new Map<FaultRule, number>();
  const due = (rule: FaultRule, n: number): boolean => n > (rule.skip ?? 0) && n <= (rule.skip ?? 0) + (rule.times ?? Number.POSITIVE_INFINITY);
  const pick = (op: string, key: string): FaultRule | undefined =>
    rules.find((rule) => {
      if ((rule.op !== 'any' && rule.op !== op) || (rule.key && !rule.key.test(key))) return false;
      // A partial listing is counted when it breaks one.
      if (rule.kind === 'partial-list') return due(rule, (seen.get(rule) ?? 0) + 1);
      const n = (seen.get(rule) ?? 0) + 1;
      seen.set(rule, n);
      return due(rule, n);
    });
  return (adapter: StorageAdapter, target: string): StorageAdapter => {
    const fail = async (rule: FaultRule, op: string, key: string): Promise<void> => {
      log.hit.push(`${op} ${key}`);
      if (rule.kind === 'slow') return void (await sleep(rule.delayMs ?? 50));
      if (rule.kind !== 'partial-list') throw fromNodeError(errnoError(rule.kind, op, key), `target "${target}": ${op} ${key}`);
    };
    const overrides: Partial<StorageAdapter> = {
      async put(key, body, options) {
        const rule = pick('put', key);
        if (rule) await fail(rule, 'put', key);
        return adapter.put(key, body, options);
      },
      async get(key, options) {
        const rule = pick('get', key);
        if (rule) await fail(rule, 'get', key);
        return adapter.get(key, options);
      },
      async *list(prefix, options) {
        const rule = pick('list', prefix);
        if (rule && rule.kind !== 'partial-list') await fail(rule, 'list', prefix);
        let yielded = 0;
        for await (const object of adapter.list(prefix, options)) {
          if (rule?.kind === 'partial-list' && yielded === (rule.after ?? 0) && due(rule, (seen.get(rule) ?? 0) + 1)) {
            seen.set(rule, (seen.get(rule) ?? 0) + 1);
            log.hit.push(`list ${prefix}`);
            throw fromNodeError(errnoError('EIO', 'list', prefix), `target "${target}": list ${prefix}`);
          }
          yielded++;
          yield object;
        }
      },
    };
    if (adapter.getBuffer) {
      overrides.getBuffer = async (key, options) => {
        const rule = pick('get', key);
        if (rule) await fail(rule, 'get', key);
        return adapter.getBuffer!(key, options);
      };
    }
    const wrapped = new Proxy(adapter, {
      get(inner, property) {
        if (property in overrides) return overrides[property as keyof StorageAdapter];
        // A local adapter's files are read by the restore's workers directly: without this, reads would pass by the faults.
        if (property === 'filePath') return undefined;
        const value: unknown = Reflect.get(inner, property, inner);
        return typeof value === 'function' ? (value as () => unknown).bind(inner) : value;
      },
    });
    return wrapped;
  };
}
