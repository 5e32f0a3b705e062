/** `1 file`, `2 files`, `1 entry`, `3 entries`: how every message counts things. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
