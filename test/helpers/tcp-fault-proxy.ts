/**
 * The fault proxy of ./fault-proxy.ts for protocols it cannot read: it counts
 * raw bytes, not HTTP bodies. SSH is encrypted, so a fault cannot pick a
 * request; it acts at a byte offset counted from when it is armed, in one
 * direction, on whichever connection carries those bytes (a test that wants
 * one connection sets the client's pool to one). A flipped byte breaks the
 * SSH packet's MAC, so the side that reads it ends the connection; a drop
 * resets both sides; a stall forwards nothing more, which the client's
 * keepalive ends.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { FaultKind } from './fault-proxy.js';

export interface TcpFault {
  /** `black-hole`: a stall that also swallows every connection made after it, until `heal()`: a link that died. */
  kind: FaultKind | 'black-hole';
  /** `upload`: bytes from the client to the server; `download`: the other way. */
  direction: 'upload' | 'download';
  /** Bytes in that direction, counted from when the fault is armed, before it acts. */
  offset: number;
}

export interface TcpFaultProxy {
  port: number;
  /** Arms `fault`, replacing any armed one. */
  inject(fault: TcpFault): void;
  /** How many faults acted since the proxy started. */
  readonly fired: number;
  /** Ends a black hole: connections made from now on pass again. */
  heal(): void;
  stop(): Promise<void>;
}

export async function startTcpFaultProxy(target: { host: string; port: number }): Promise<TcpFaultProxy> {
  let armed: (TcpFault & { remaining: number }) | undefined;
  let fired = 0;
  let holed = false;
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    if (holed) {
      // Accepted, and then nothing: no byte reaches the server or comes back.
      client.on('error', () => undefined);
      client.on('data', () => undefined);
      return;
    }
    const upstream = connect(target.port, target.host);
    let stalled = false;
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', drop);
      socket.once('close', drop);
    }
    /** Forwards `data` to `to`, acting on the armed fault when its offset falls inside it. */
    const forward = (data: Buffer, to: Socket, direction: TcpFault['direction']): void => {
      if (stalled) return;
      const fault = armed?.direction === direction ? armed : undefined;
      if (!fault || fault.remaining >= data.length) {
        if (fault) fault.remaining -= data.length;
        to.write(data);
        return;
      }
      armed = undefined;
      fired++;
      const at = fault.remaining;
      if (fault.kind === 'flip') {
        const out = Buffer.from(data);
        out[at] = out[at]! ^ 0x01;
        to.write(out);
        return;
      }
      // Nothing more passes either way; for a drop, bytes arriving before the sockets close would land out of place.
      stalled = true;
      if (fault.kind === 'black-hole') holed = true;
      // A write of nothing may never call back: then the drop is at once.
      if (at > 0) to.write(data.subarray(0, at), fault.kind === 'drop' ? drop : undefined);
      else if (fault.kind === 'drop') drop();
    };
    client.on('data', (data: Buffer) => forward(data, upstream, 'upload'));
    upstream.on('data', (data: Buffer) => forward(data, client, 'download'));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    inject: (fault) => void (armed = { ...fault, remaining: fault.offset }),
    get fired() {
      return fired;
    },
    heal: () => void (holed = false),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
