import { describe, expect, it } from 'vitest';
import { InFlight } from '../../core/util/in-flight.js';

describe('InFlight', () => {
  it('waits for tracked work that its caller stopped waiting for, failed or not', async () => {
    const inFlight = new InFlight();
    const order: string[] = [];
    let finish!: () => void;
    const work = inFlight.track(new Promise<void>((done) => (finish = done)).then(() => void order.push('cleared up')));
    void inFlight.track(Promise.reject(new Error('failed attempt'))).catch(() => undefined);
    const waiting = inFlight.settled(60_000).then(() => void order.push('closed'));
    setImmediate(finish);
    await Promise.all([work, waiting]);
    expect(order).toEqual(['cleared up', 'closed']);
  });

  it('gives up waiting after its bound, for work stalled for good', async () => {
    const inFlight = new InFlight();
    void inFlight.track(new Promise(() => undefined));
    await expect(inFlight.settled(20)).resolves.toBeUndefined();
  });
});
