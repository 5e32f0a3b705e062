/**
 * A young-generation collection for worker threads that receive segment-sized
 * buffers in small wrappers: V8 frees such memory only at a collection, which
 * the tiny wrappers do not trigger until tens of MB pile up in each thread
 * (measured: +40 MB of resident memory per segment worker). Well under a
 * millisecond on a worker's small heap. `gc` is not exposed to workers by
 * flag, hence the new context.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as (options: { type: 'minor' | 'major' }) => void;

export function collectYoungGarbage(): void {
  gc({ type: 'minor' });
}
