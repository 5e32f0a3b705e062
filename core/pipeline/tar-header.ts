/**
 * Tar headers, byte for byte as tar-stream 3 packs them (snapshots written
 * before this writer were packed by it, and a restore reads them with its
 * extract): a ustar header, or — for a name that is not ASCII or does not
 * fit ustar's name/prefix split, or a link target over 100 bytes — a PAX
 * extended header carrying `path`/`linkpath`, followed by a ustar header
 * named `PaxHeader`. Sizes past 8 GiB use the base-256 size field.
 * tar-stream's quirks are kept on purpose: directory names have no trailing
 * slash, mode 0 is written as 0644 (0755 for directories), ids past
 * 0o777777 as 777777; the manifest keeps the exact mode and ids, and
 * restores take them from there. One departure: tar-stream wraps times
 * before 1970 or from 2038-01-19 on into headers other tars refuse or
 * misread, so those go in a PAX `mtime` record (to the millisecond), the
 * ustar field holding the nearest second it can.
 */

import { isUtf8 } from 'node:buffer';
import { encodeName } from '../fs/name-bytes.js';

export type TarEntryType = 'file' | 'directory' | 'symlink';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  mtime: Date;
  /** Bytes of the body; 0 for anything but a file. */
  size: number;
  uid?: number;
  gid?: number;
  linkname?: string;
}

export const BLOCK = 512;
const ZEROS = '0000000000000000000';
const SEVENS = '7777777777777777777';
const TYPEFLAG: Record<TarEntryType | 'pax-header', number> = { file: 0, symlink: 2, directory: 5, 'pax-header': 72 };

/** Zero bytes that pad a body of `size` bytes to a whole block. */
export function paddingOf(size: number): number {
  const over = size % BLOCK;
  return over === 0 ? 0 : BLOCK - over;
}

/** Every header block of one entry (PAX header, its records and padding, then the ustar header). */
export function encodeHeader(header: TarHeader): Buffer {
  const normalized: Required<Omit<TarHeader, 'linkname'>> & { linkname?: string } = {
    ...header,
    size: header.type === 'file' ? header.size : 0,
    mode: header.mode || (header.type === 'directory' ? 0o755 : 0o644),
    uid: header.uid || 0,
    gid: header.gid || 0,
  };
  const paxTime = outsideUstar(normalized.mtime) ? paxSeconds(normalized.mtime) : undefined;
  const plain = paxTime === undefined ? encodeUstar(normalized, normalized.type) : null;
  if (plain) return plain;
  const records = encodePax(normalized.name, normalized.linkname, paxTime);
  const replacement = {
    ...normalized,
    ...(paxTime === undefined ? {} : { mtime: new Date(clampSeconds(normalized.mtime) * 1000) }),
    name: 'PaxHeader',
    ...(normalized.linkname ? { linkname: 'PaxHeader' } : {}),
  };
  const paxHeader = encodeUstar({ ...replacement, size: records.length }, 'pax-header')!;
  const ustar = encodeUstar(replacement, normalized.type)!;
  return Buffer.concat([paxHeader, records, Buffer.alloc(paddingOf(records.length)), ustar]);
}

/** One ustar block, or null when the name or link target does not fit it. */
function encodeUstar(header: Required<Omit<TarHeader, 'linkname'>> & { linkname?: string }, type: TarEntryType | 'pax-header'): Buffer | null {
  // tar-stream means to end a directory's name with '/' but tests a field it never sets: no slash.
  let name = header.name;
  let prefix = '';
  if (Buffer.byteLength(name) !== name.length) return null;
  while (name.length > 100) {
    const slash = name.indexOf('/');
    if (slash === -1) return null;
    prefix += prefix ? `/${name.slice(0, slash)}` : name.slice(0, slash);
    name = name.slice(slash + 1);
  }
  if (name.length > 100 || prefix.length > 155) return null;
  // A link target that is not UTF-8 goes in a PAX record, as its bytes (the ustar field would get U+FFFD's).
  if (header.linkname && (Buffer.byteLength(header.linkname) > 100 || /[\ud800-\udfff]/.test(header.linkname))) return null;

  const block = Buffer.alloc(BLOCK);
  block.write(name, 0);
  block.write(octal(header.mode & 0o7777, 6), 100);
  block.write(octal(header.uid, 6), 108);
  block.write(octal(header.gid, 6), 116);
  if (header.size.toString(8).length > 11) writeBase256(header.size, block, 124);
  else block.write(octal(header.size, 11), 124);
  block.write(octal(Math.floor(header.mtime.getTime() / 1000), 11), 136);
  block[156] = 0x30 + TYPEFLAG[type];
  if (header.linkname) block.write(header.linkname, 157);
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263);
  block.write(octal(0, 6), 329);
  block.write(octal(0, 6), 337);
  if (prefix) block.write(prefix, 345);
  block.write(octal(checksum(block), 6), 148);
  return block;
}

/**
 * PAX records hold the name's bytes: a name that is not UTF-8 (carried as
 * U+DC80–U+DCFF, core/fs/name-bytes.ts) is written as its own bytes, and the
 * records then start with `hdrcharset=BINARY`, POSIX's word for "these
 * values are bytes, not UTF-8" (Python's tarfile honours it; GNU tar warns, ignores it and still writes the bytes).
 */
function encodePax(name: string, linkname: string | undefined, mtime: string | undefined): Buffer {
  const path = encodeName(name);
  const link = linkname ? encodeName(linkname) : undefined;
  const binary = !isUtf8(path) || (link !== undefined && !isUtf8(link));
  const records = [
    ...(binary ? [withLength('hdrcharset', Buffer.from('BINARY'))] : []),
    withLength('path', path),
    ...(link ? [withLength('linkpath', link)] : []),
    ...(mtime === undefined ? [] : [withLength('mtime', Buffer.from(mtime))]),
  ];
  return Buffer.concat(records);
}

/** ustar's time field holds whole seconds from 1970; 2^31 and past (2038-01-19) wraps or is refused in many readers. */
const USTAR_TIME_END = 2 ** 31;

function outsideUstar(mtime: Date): boolean {
  const seconds = Math.floor(mtime.getTime() / 1000);
  return seconds < 0 || seconds >= USTAR_TIME_END;
}

/** A PAX `mtime`: decimal seconds, to the millisecond, negative before 1970. */
function paxSeconds(mtime: Date): string {
  return (mtime.getTime() / 1000).toFixed(3).replace(/\.?0+$/, '');
}

/** What the ustar field of an entry with a PAX time holds: the nearest whole second it can, never a wrapped one. */
function clampSeconds(mtime: Date): number {
  return Math.min(Math.max(Math.floor(mtime.getTime() / 1000), 0), 8 ** 11 - 1);
}

/** A PAX record, ` key=value\n` after its leading decimal length, which counts its own digits. */
function withLength(key: string, value: Buffer): Buffer {
  const length = key.length + value.length + 3;
  let digits = Math.floor(Math.log(length) / Math.log(10)) + 1;
  if (length + digits >= Math.pow(10, digits)) digits++;
  return Buffer.concat([Buffer.from(`${length + digits} ${key}=`), value, Buffer.from('\n')]);
}

function octal(value: number, width: number): string {
  const text = value.toString(8);
  if (text.length > width) return `${SEVENS.slice(0, width)} `;
  return `${ZEROS.slice(0, width - text.length)}${text} `;
}

function writeBase256(value: number, block: Buffer, offset: number): void {
  block[offset] = 0x80;
  for (let i = 11; i > 0; i--) {
    block[offset + i] = value & 0xff;
    value = Math.floor(value / 0x100);
  }
}

function checksum(block: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < BLOCK; i++) sum += block[i]!;
  return sum;
}
