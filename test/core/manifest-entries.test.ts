/**
 * The hand-written entries gate (core/format/manifest-entries.ts) against
 * the zod schema it replaces in the decode: on every rule the schema
 * enforces, and on thousands of mutated entries, both accept the same
 * entries with the same result, and refuse the same ones naming the same
 * field with the same words.
 */
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { FailsafeError } from '../../core/errors.js';
import { parseEntries } from '../../core/format/manifest-entries.js';
import { entrySchema, MAX_NAME_LENGTH, MAX_PATH_LENGTH } from '../../core/format/manifest-schema.js';

type Json = Record<string, unknown>;
const mtime = '2026-11-20T10:00:00.000Z';
const GOOD: Json[] = [
  { source: 'data', path: 'd', type: 'directory', size: 0, mode: 0o40755, mtime, segment: 0, offset: 0 },
  { source: 'data', path: 'd/a.txt', type: 'file', size: 12, mode: 0o100644, mtime, uid: 0, gid: 4294967295, sha256: 'ab'.repeat(32), segment: 0, offset: 512 },
  { source: 'data', path: 'd/b.txt', type: 'file', size: 12, mode: 0o100644, mtime, hardLink: 'd/a.txt', sparse: true, segment: 3, offset: 1024 },
  { source: 'etc', path: 'l', type: 'symlink', size: 0, mode: 0o120777, mtime, linkTarget: 'caf\udce9', segment: 0, offset: 2048 },
];

/** What the schema says: the entries it keeps, or where and why it refuses (as parseOrCorrupt words it). */
function bySchema(entries: unknown): { ok: unknown } | { refused: string } {
  const result = z.array(entrySchema).safeParse(entries);
  if (result.success) return { ok: result.data };
  const issue = result.error.issues[0]!;
  return { refused: `at ${['entries', ...issue.path.map(String)].join('.')}: ${issue.message}` };
}

function byHand(entries: unknown): { ok: unknown } | { refused: string } {
  try {
    return { ok: parseEntries(entries, 't:m') };
  } catch (err) {
    expect(err).toBeInstanceOf(FailsafeError);
    expect((err as FailsafeError).code).toBe('E_CORRUPT');
    return { refused: (err as Error).message.replace(/^t:m: manifest body is malformed /, '') };
  }
}

const same = (entries: unknown): void => {
  const [schema, hand] = [bySchema(entries), byHand(entries)];
  expect(hand).toEqual(schema);
  // Field for field in the same order: whatever serializes a decoded entry again writes the same bytes.
  if ('ok' in hand) expect(JSON.stringify(hand.ok)).toBe(JSON.stringify((schema as { ok: unknown }).ok));
};

/** Values that break one rule or another: wrong types, limits crossed by one, the shapes the refinements refuse. */
const ODD: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  0.5,
  -0,
  1e21,
  2 ** 53,
  2 ** 53 - 1,
  0o177777,
  0o200000,
  2 ** 32 - 1,
  2 ** 32,
  '',
  '.',
  '..',
  'a/b',
  'a\\b',
  'a\0b',
  'x'.repeat(MAX_NAME_LENGTH),
  'x'.repeat(MAX_NAME_LENGTH + 1),
  'x'.repeat(MAX_PATH_LENGTH),
  'x'.repeat(MAX_PATH_LENGTH + 1),
  '\ud800',
  'caf\udce9',
  'yesterday',
  mtime,
  `${mtime}${' '.repeat(40)}`,
  'AB'.repeat(32),
  'ab'.repeat(32),
  'ab'.repeat(31),
  'file',
  'directory',
  'symlink',
  'link',
  [],
  {},
  [1],
  'data',
];
const FIELDS = ['source', 'path', 'type', 'size', 'mode', 'mtime', 'linkTarget', 'uid', 'gid', 'sha256', 'hardLink', 'sparse', 'segment', 'offset'];

describe('the hand-written entries gate', () => {
  it('keeps what the schema keeps, and drops the fields it does not know', () => {
    same(GOOD);
    same(GOOD.map((e) => ({ ...e, extra: 1, __proto__: { size: 'x' } })));
    expect(byHand([{ ...GOOD[0], extra: 1 }])).toEqual({ ok: [GOOD[0]] });
  });

  it('refuses what is no list of entries, as the schema does', () => {
    for (const entries of [undefined, null, 'many', 3, {}, [null], [[]], ['x'], [GOOD[0], 7]]) same(entries);
  });

  it('refuses each value that breaks a rule, in each field, naming the field and the rule as the schema does', () => {
    let refused = 0;
    for (const field of FIELDS) {
      for (const value of ODD) {
        for (const base of GOOD) {
          const entries = [GOOD[0], { ...base, [field]: value }];
          same(entries);
          if ('refused' in byHand(entries)) refused += 1;
        }
      }
      for (const base of GOOD) same([{ ...base, [field]: undefined }].map((e) => JSON.parse(JSON.stringify(e)) as Json));
    }
    // The cases are not all accepted: most of them break a rule.
    expect(refused).toBeGreaterThan(FIELDS.length * ODD.length * 2);
  });

  it('answers as the schema does on mutated entries (seeded, several fields at once)', () => {
    let seed = 24;
    const random = (n: number): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    const outcomes = new Set<string>();
    for (let round = 0; round < 3000; round += 1) {
      const entries = GOOD.map((e) => ({ ...e }));
      for (let k = 1 + random(3); k > 0; k -= 1) {
        const entry = entries[random(entries.length)]!;
        const field = FIELDS[random(FIELDS.length)]!;
        if (random(5) === 0) delete entry[field];
        else entry[field] = ODD[random(ODD.length)];
      }
      same(entries);
      outcomes.add('ok' in byHand(entries) ? 'ok' : 'refused');
    }
    expect([...outcomes].sort()).toEqual(['ok', 'refused']);
  });
});
