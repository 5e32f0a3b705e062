/**
 * A TCP proxy that misbehaves once, as a hostile network would: it sits
 * between the real client and the real server (plain node:net, nothing mocked)
 * and, at one HTTP request of our choosing, flips a byte of the request or
 * response body, drops the connection, or stalls it (forwards nothing more,
 * so the client's idle timeout ends it). Everything else passes unchanged.
 *
 * It reads just enough HTTP/1.1 to find bodies: request heads and their
 * Content-Length. Clients do not pipeline, so when a request is seen its
 * connection's response side is idle, and the next response head is its answer.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type FaultKind = 'flip' | 'drop' | 'stall';

export interface Fault {
  kind: FaultKind;
  /** `upload`: in the request body; `download`: in the response body. */
  direction: 'upload' | 'download';
  /** Which request: tested against its head (`PUT /bucket/key?partNumber=2 HTTP/1.1…`). */
  request: RegExp;
  /** Where in the body, from its first byte. */
  offset: number;
  /** How many matching requests to spoil, one after the other (default 1). */
  times?: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:port`, to use as the client's endpoint. */
  endpoint: string;
  port: number;
  /** Arms `fault`; it fires at the next matching request(s). */
  inject(fault: Fault): void;
  /** How many times an armed fault fired since the proxy started. */
  readonly fired: number;
  /** Bytes passed from the server to the client since the proxy started: what downloads cost. */
  readonly downloaded: number;
  stop(): Promise<void>;
}

const HEAD_END = Buffer.from('\r\n\r\n');

interface Armed extends Fault {
  left: number;
}

/** A fault placed in one body: the byte offsets still to pass before it acts. */
interface Pending {
  fault: Armed;
  remaining: number;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const armed: Armed[] = [];
  const sockets = new Set<Socket>();
  let fired = 0;
  let downloaded = 0;

  const take = (direction: Fault['direction'], head: string): Armed | undefined => {
    const index = armed.findIndex((f) => f.direction === direction && f.request.test(head));
    if (index < 0) return undefined;
    const fault = armed[index]!;
    if (--fault.left === 0) armed.splice(index, 1);
    return fault;
  };

  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      // A reset on one side ends the other: the fault the test asked for, or the client giving up on a stall.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.once('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    let stalled = false;
    /** The download fault of the request just seen, placed once its response head has passed. */
    let nextDownload: Armed | undefined;
    let download: Pending | undefined;
    let responseHead: Buffer = Buffer.alloc(0);
    let upload: Pending | undefined;
    let requestHead: Buffer = Buffer.alloc(0);
    let bodyLeft = 0;
    let lost = false;

    /** Applies `pending` to a body chunk: what to forward, and whether the connection then drops or stalls. */
    const act = (chunk: Buffer, pending: Pending): { out: Buffer; done: boolean; end?: 'drop' | 'stall' } => {
      if (pending.remaining >= chunk.length) {
        pending.remaining -= chunk.length;
        return { out: chunk, done: false };
      }
      fired++;
      const at = pending.remaining;
      if (pending.fault.kind !== 'flip') return { out: chunk.subarray(0, at), done: true, end: pending.fault.kind };
      const out = Buffer.from(chunk);
      out[at] = out[at]! ^ 0x01;
      return { out, done: true };
    };
    /** Writes `out` to `to`, then drops or stalls the connection as the fault says. */
    const send = (to: Socket, out: Buffer[], end?: 'drop' | 'stall'): void => {
      const bytes = Buffer.concat(out);
      // Nothing more passes, either way: for a drop, bytes that arrive before the socket is destroyed would reach the
      // client out of place, as TCP never delivers them.
      if (end) stalled = true;
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
      };
      if (bytes.length > 0) to.write(bytes, end === 'drop' ? drop : undefined);
      else if (end === 'drop') drop();
    };

    client.on('data', (data: Buffer) => {
      if (stalled) return;
      const out: Buffer[] = [];
      let rest = data;
      // Request side: heads, then Content-Length bytes of body, again and again.
      while (rest.length > 0 && !lost) {
        if (bodyLeft > 0) {
          const body = rest.subarray(0, bodyLeft);
          rest = rest.subarray(body.length);
          bodyLeft -= body.length;
          if (!upload) out.push(body);
          else {
            const result = act(body, upload);
            out.push(result.out);
            if (result.done) upload = undefined;
            if (result.end) return send(upstream, out, result.end);
          }
          continue;
        }
        requestHead = Buffer.concat([requestHead, rest]);
        const end = requestHead.indexOf(HEAD_END);
        if (end < 0) return send(upstream, out);
        const headBytes = requestHead.subarray(0, end + HEAD_END.length);
        rest = requestHead.subarray(headBytes.length);
        out.push(headBytes);
        requestHead = Buffer.alloc(0);
        const head = headBytes.toString('latin1');
        if (/^transfer-encoding:\s*chunked/im.test(head)) lost = true; // not framed here: pass the rest through untouched
        bodyLeft = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
        const up = take('upload', head);
        upload = up ? { fault: up, remaining: up.offset } : undefined;
        nextDownload = take('download', head);
        responseHead = Buffer.alloc(0);
        download = undefined;
      }
      if (rest.length > 0) out.push(rest);
      send(upstream, out);
    });

    upstream.on('data', (data: Buffer) => {
      if (stalled) return;
      downloaded += data.length;
      if (!nextDownload && !download) return void client.write(data);
      let chunk = data;
      if (!download) {
        // The response head (after any `100 Continue`), passed through whole.
        responseHead = Buffer.concat([responseHead, chunk]);
        let end = responseHead.indexOf(HEAD_END);
        while (end >= 0 && /^HTTP\/1\.\d 1\d\d/.test(responseHead.toString('latin1', 0, 16))) {
          client.write(responseHead.subarray(0, end + HEAD_END.length));
          responseHead = responseHead.subarray(end + HEAD_END.length);
          end = responseHead.indexOf(HEAD_END);
        }
        if (end < 0) return;
        client.write(responseHead.subarray(0, end + HEAD_END.length));
        chunk = responseHead.subarray(end + HEAD_END.length);
        responseHead = Buffer.alloc(0);
        download = { fault: nextDownload!, remaining: nextDownload!.offset };
        nextDownload = undefined;
      }
      if (chunk.length === 0) return;
      const result = act(chunk, download);
      if (result.done) download = undefined;
      send(client, [result.out], result.end);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    inject: (fault) => void armed.push({ ...fault, left: fault.times ?? 1 }),
    get fired() {
      return fired;
    },
    get downloaded() {
      return downloaded;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
