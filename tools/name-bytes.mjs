/**
 * File names as bytes (docs/format.md, "Names"): a name that is not valid
 * UTF-8 travels as a string in which each byte outside a valid UTF-8
 * sequence is the lone surrogate U+DC80–U+DCFF (Python's "surrogateescape",
 * PEP 383). JSON carries those as `\udcXX` escapes; PAX records as the bytes
 * themselves. Written for the recovery tools from the format's description.
 */

/** Bytes → name: TextDecoder's strict mode tells valid sequences from stray bytes, one sequence at a time. */
export function decodeName(bytes) {
  const strict = new TextDecoder('utf-8', { fatal: true });
  try {
    return strict.decode(bytes);
  } catch {
    // Some byte is not UTF-8: find the longest valid sequence (1 to 4 bytes) at each place, else escape the byte.
  }
  let out = '';
  for (let i = 0; i < bytes.length;) {
    let length = 0;
    for (let n = 1; n <= 4 && i + n <= bytes.length && length === 0; n++) {
      try {
        const char = strict.decode(bytes.subarray(i, i + n));
        if (char.length > 0 && !char.includes('\ufffd')) length = n;
        else if (char === '\ufffd') length = n; // a genuine U+FFFD (EF BF BD)
      } catch {
        // not a whole sequence yet
      }
    }
    if (length === 0) {
      out += String.fromCharCode(0xdc00 + bytes[i]);
      i++;
    } else {
      out += strict.decode(bytes.subarray(i, i + length));
      i += length;
    }
  }
  return out;
}

/** Name → the path to give `fs`: the string when it is plain text, else its bytes. */
export function fsPath(name) {
  if (!/[\ud800-\udfff]/.test(name)) return name;
  const parts = [];
  let run = '';
  for (const char of name) {
    const code = char.codePointAt(0);
    if (code < 0xd800 || code > 0xdfff) {
      run += char;
      continue;
    }
    if (code < 0xdc80 || code > 0xdcff) throw new Error(`a name holds U+${code.toString(16)}, which stands for no byte`);
    parts.push(Buffer.from(run, 'utf8'), Buffer.of(code - 0xdc00));
    run = '';
  }
  parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}
