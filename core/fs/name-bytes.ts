/**
 * File names are bytes on POSIX systems, not text: a name need not be valid
 * UTF-8. Failsafe carries names as JavaScript strings with Python's
 * "surrogateescape" convention (PEP 383): the valid UTF-8 parts of a name are
 * decoded as usual and every byte that is not part of one becomes the lone
 * surrogate U+DC80–U+DCFF (byte 0x80–0xFF). Such a string is never the
 * decoding of valid UTF-8, so the mapping is lossless both ways, and JSON
 * carries it as `\udcXX` escapes (docs/format.md, "Names"). Any file system
 * call with such a path takes `fsPath(path)`, its bytes.
 */

const ESCAPE_BASE = 0xdc00;
const SURROGATE = /[\ud800-\udfff]/;

/** A name's bytes as a string: UTF-8 where valid, each other byte as U+DC80–U+DCFF. */
export function decodeName(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buffer.toString('utf8');
  // U+FFFD marks a byte that was not valid UTF-8 (or a genuine U+FFFD): only then is the slow path needed.
  if (!text.includes('\ufffd')) return text;
  let out = '';
  for (let i = 0; i < buffer.length;) {
    const length = validSequence(buffer, i);
    if (length === 0) {
      out += String.fromCharCode(ESCAPE_BASE + buffer[i]!);
      i++;
    } else {
      out += buffer.toString('utf8', i, i + length);
      i += length;
    }
  }
  return out;
}

/** The length of the valid UTF-8 sequence at `i` (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
function validSequence(bytes: Buffer, i: number): number {
  const lead = bytes[i]!;
  if (lead < 0x80) return 1;
  const cont = (at: number, low = 0x80, high = 0xbf): boolean => at < bytes.length && bytes[at]! >= low && bytes[at]! <= high;
  if (lead >= 0xc2 && lead <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const [low, high] = lead === 0xe0 ? [0xa0, 0xbf] : lead === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(i + 1, low, high) && cont(i + 2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const [low, high] = lead === 0xf0 ? [0x90, 0xbf] : lead === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(i + 1, low, high) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

/** The bytes a decoded name stands for; throws on a surrogate that no byte maps to (only a forged name has one). */
export function encodeName(name: string): Buffer {
  if (!SURROGATE.test(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (code < 0xd800 || code > 0xdfff) {
      run += char;
      continue;
    }
    if (code < 0xdc80 || code > 0xdcff) throw new Error(`U+${code.toString(16).toUpperCase()} stands for no byte`);
    parts.push(Buffer.from(run, 'utf8'), Buffer.of(code - ESCAPE_BASE));
    run = '';
  }
  parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/**
 * Whether `name` is what `decodeName` gives for some bytes: its escapes stand
 * for bytes 0x80–0xFF only (never `/` or NUL) and never for bytes that form
 * valid UTF-8, so one file has exactly one name.
 */
export function isWellFormedName(name: string): boolean {
  if (!SURROGATE.test(name)) return true;
  try {
    return decodeName(encodeName(name)) === name;
  } catch {
    return false;
  }
}

/** A path for the `fs` calls: the string itself when it is plain text, else its bytes. */
export function fsPath(path: string): string | Buffer {
  return SURROGATE.test(path) ? encodeName(path) : path;
}

// eslint-disable-next-line no-control-regex -- control characters are what a listing must not print raw
const SHOWN_ESCAPED = /[\\\x00-\x1f\x7f\udc80-\udcff]/gu;

/**
 * A name as listings show it: a byte that is not UTF-8 and a control
 * character as `\xNN`, a backslash as `\\`; anything else as it is.
 * `parseShownName` reads it back.
 */
export function showName(name: string): string {
  return name.replace(SHOWN_ESCAPED, (char) => {
    if (char === '\\') return '\\\\';
    const code = char.charCodeAt(0);
    const byte = code >= ESCAPE_BASE ? code - ESCAPE_BASE : code;
    return `\\x${byte.toString(16).padStart(2, '0')}`;
  });
}

/** The name that `showName` showed as `shown` (what a user copies from a listing into `--path`). */
export function parseShownName(shown: string): string {
  return shown.replace(/\\(\\|x[0-9a-fA-F]{2})/g, (_all, escape: string) => {
    if (escape === '\\') return '\\';
    const byte = parseInt(escape.slice(1), 16);
    return String.fromCharCode(byte >= 0x80 ? ESCAPE_BASE + byte : byte);
  });
}
