/**
 * Plain string order (UTF-16 code units) for the ids and ISO 8601 times
 * snapshots are sorted by. `localeCompare` gives the same order for them, but
 * its first call loads ICU's collation data: 4 MB of a short command's peak
 * memory (docs/performance.md, Memory).
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
