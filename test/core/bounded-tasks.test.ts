import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BoundedTasks } from '../../core/pipeline/bounded-tasks.js';

describe('BoundedTasks', () => {
  it('never runs more than its limit at once, and drain waits for all', async () => {
    const tasks = new BoundedTasks(3);
    let running = 0;
    let most = 0;
    let finished = 0;
    for (let i = 0; i < 12; i++) {
      await tasks.add(async () => {
        most = Math.max(most, ++running);
        await sleep(5 + (i % 4));
        running--;
        finished++;
      });
    }
    await tasks.drain();
    expect(most).toBe(3);
    expect(finished).toBe(12);
  });

  it('throws the first failure from add or drain, after the others settled', async () => {
    const tasks = new BoundedTasks(2);
    let slowDone = false;
    await tasks.add(async () => {
      await sleep(30);
      slowDone = true;
    });
    await tasks.add(async () => {
      throw new Error('disk full');
    });
    await sleep(5);
    await expect(tasks.add(async () => undefined)).rejects.toThrow('disk full');
    await expect(tasks.drain()).rejects.toThrow('disk full');
    expect(slowDone).toBe(true);
  });
});
