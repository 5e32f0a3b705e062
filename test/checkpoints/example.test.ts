import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const example = join(import.meta.dirname, '..', '..', 'examples', 'checkpoints', 'batch.js');

describe('examples/checkpoints/batch.js', () => {
  it('is killed with SIGKILL mid-batch, and the next run resumes at its last checkpoint', async () => {
    const state = await mkdtemp(join(tmpdir(), 'failsafe-example-'));
    const crashed = spawnSync(process.execPath, [example, '--crash-at', '23', '--state', state], { encoding: 'utf8' });
    expect(crashed.signal).toBe('SIGKILL');
    expect((await readdir(join(state, 'thumbnails'))).length).toBe(23);

    const resumed = spawnSync(process.execPath, [example, '--state', state], { encoding: 'utf8' });
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toContain('found unfinished "Thumbnail generation" at 40% (running)');
    expect(resumed.stdout).toContain('processed 30 of 50 photos, starting at 20');
    expect((await readdir(join(state, 'thumbnails'))).length).toBe(50);
  });
});
