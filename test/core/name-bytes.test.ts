import { describe, expect, it } from 'vitest';
import { decodeName, encodeName, fsPath, isWellFormedName, parseShownName, showName } from '../../core/fs/name-bytes.js';

const NAMES: Buffer[] = [
  Buffer.from([0x61, 0xff, 0x62]),
  Buffer.from('é\\x41', 'utf8'),
  Buffer.from([0xed, 0xb3, 0xbf]), // UTF-8's form of a surrogate: not valid, kept byte by byte
  Buffer.from([0xc3]),
  Buffer.from([0xc0, 0xaf]), // an overlong "/"
  Buffer.from('\ufffd😀', 'utf8'),
  Buffer.from([0x66, 0x0a, 0x67]),
];

describe('names as bytes', () => {
  it.each(NAMES.map((b) => [b.toString('hex'), b]))('%s decodes to a string that encodes back to the same bytes', (_hex, bytes) => {
    const name = decodeName(bytes);
    expect(encodeName(name).equals(bytes)).toBe(true);
    expect(isWellFormedName(name)).toBe(true);
    expect(parseShownName(showName(name))).toBe(name);
  });

  it('keeps valid UTF-8 as text and escapes only the other bytes', () => {
    expect(decodeName(Buffer.from('plain é'))).toBe('plain é');
    expect(decodeName(Buffer.from([0x61, 0xff]))).toBe('a\udcff');
    expect(fsPath('a/b')).toBe('a/b');
    expect(fsPath('a/\udcff')).toEqual(Buffer.from([0x61, 0x2f, 0xff]));
  });

  it('refuses escapes that no decoding makes: a byte under 0x80 (a "/" or NUL), other surrogates, escaped valid UTF-8', () => {
    for (const forged of ['\udc2f', '\udc00', '\ud800', 'a\udfff', '\udcc3\udca9']) expect(isWellFormedName(forged)).toBe(false);
    expect(() => encodeName('\udc2f')).toThrow();
  });

  it('shows bytes, control characters and backslashes escaped', () => {
    expect(showName('a\udcffb')).toBe('a\\xffb');
    expect(showName('a\\b')).toBe('a\\\\b');
    expect(showName('f\ng')).toBe('f\\x0ag');
    expect(showName('é😀')).toBe('é😀');
  });
});
