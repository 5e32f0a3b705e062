// The decode of a 100,000-file format-1 manifest (the dashboard's first folder of a big snapshot waits for it).
// Usage: node bench/manifest-decode.js [dist folder] [runs]. Prints the median of the runs in ms.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const dist = resolve(process.argv[2] ?? 'dist');
const runs = Number(process.argv[3] ?? 5);
const { encodeManifest, decodeManifest } = await import(pathToFileURL(`${dist}/core/format/manifest.js`).href);

const FILES = 100_000;
const mtime = '2026-11-20T10:00:00.000Z';
const entries = [{ source: 'data', path: 'tree', type: 'directory', size: 0, mode: 0o40755, mtime, uid: 1000, gid: 1000, segment: 0, offset: 0 }];
for (let n = 0; n < FILES; n += 1) {
  const [i, j, k] = [Math.floor(n / 1000), Math.floor(n / 100) % 10, n % 100];
  const base = { source: 'data', size: 0, mode: 0o40755, mtime, uid: 1000, gid: 1000, segment: 0, offset: 0 };
  if (n % 1000 === 0) entries.push({ ...base, path: `tree/d${i}`, type: 'directory' });
  if (n % 100 === 0) entries.push({ ...base, path: `tree/d${i}/s${j}`, type: 'directory' });
  entries.push({ ...base, path: `tree/d${i}/s${j}/f${k}.txt`, type: 'file', mode: 0o100644, size: 100 + (n % 900), sha256: 'ab'.repeat(32), offset: n * 512 });
}
const manifest = {
  format: 1,
  id: '20261120T100000Z-abcdef',
  job: 'app',
  createdAt: mtime,
  tool: 'failsafe bench',
  compression: { algorithm: 'gzip', level: 6 },
  cipher: 'none',
  segmentSize: 64 * 1024 * 1024,
  tarBytes: FILES * 1024,
  sources: [{ name: 'data', type: 'path', entries: entries.length, bytes: entries.reduce((s, e) => s + e.size, 0) }],
  segments: [{ index: 0, key: 'segments/app/x/0', storedSize: 1, sha256: 'ab'.repeat(32), plainSize: FILES * 1024 }],
  entries,
};
const stats = { files: FILES, bytes: manifest.sources[0].bytes, storedBytes: 1, segments: 1 };
const object = await encodeManifest(manifest, stats, { cipher: 'none' });
const times = [];
const cpu = [];
for (let r = 0; r < runs; r += 1) {
  const [start, used] = [performance.now(), process.cpuUsage()];
  const { manifest: back } = await decodeManifest(object, 'bench:manifest', () => Promise.reject(new Error('no key')));
  times.push(performance.now() - start);
  const spent = process.cpuUsage(used);
  cpu.push((spent.user + spent.system) / 1000);
  if (back.entries.length !== entries.length) throw new Error('entries lost');
}
const median = (list) => list.sort((a, b) => a - b)[Math.floor(runs / 2)].toFixed(0);
console.log(`decode of ${entries.length} entries (${object.length} bytes stored), median of ${runs}: ${median(times)} ms wall, ${median(cpu)} ms CPU`);
