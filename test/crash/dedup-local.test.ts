/** kill -9 of deduplicating backups and prunes on a local folder. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDedupCrashes } from '../helpers/dedup-crash.js';

describeDedupCrashes('a local folder', async () => ({ type: 'local', path: join(await mkdtemp(join(tmpdir(), 'failsafe-dedup-target-')), 'target') }));
