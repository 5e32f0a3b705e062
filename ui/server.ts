/**
 * `failsafe ui`'s server: the dashboard's application (ui/app.ts) on a
 * Node HTTP server, or HTTPS with `tls`. It listens on the loopback interface
 * unless it has TLS or is told otherwise with `insecureListen`: whoever can
 * reach it and holds the token (or the password) can restore and download
 * any backed-up file. The token is random per start unless given, and shown
 * only to whoever started the server.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Failsafe } from '../api/failsafe.js';
import { LISTEN_PATTERN, type UiConfig } from '../core/config/schema.js';
import { FailsafeError } from '../core/errors.js';
import { createApp } from './app.js';

export const DEFAULT_LISTEN = '127.0.0.1:8740';

export interface UiOptions {
  /** `host:port` (port 0 picks a free one); 127.0.0.1:8740 by default. */
  listen?: string;
  /** Allow an address other than loopback, over plain HTTP: the login is still required. */
  insecureListen?: boolean;
  /** PEM files of the certificate (with its chain) and its private key: HTTPS, and any address may be listened on. */
  tls?: { cert: string; key: string };
  /** `ui.passwordHash`: a password that logs in as the token does. */
  passwordHash?: string;
  /** The login token; random by default. */
  token?: string;
  warn?: (message: string) => void;
}

export interface UiServer {
  /** The address to open, without the token. */
  url: string;
  token: string;
  /** Stops accepting, waits for an action started from the page, then closes. */
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = LISTEN_PATTERN.exec(listen);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) throw new FailsafeError('E_USAGE', `--listen "${listen}" is not host:port, like 127.0.0.1:8740`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** What `startUi` takes from the YAML's `ui:` beside the address: TLS and the password's hash. */
export function uiSecurity(ui: UiConfig | undefined): Pick<UiOptions, 'tls' | 'passwordHash'> {
  return { ...(ui?.tls ? { tls: ui.tls } : {}), ...(ui?.passwordHash ? { passwordHash: ui.passwordHash } : {}) };
}

async function readTls(files: { cert: string; key: string }): Promise<{ cert: Buffer; key: Buffer }> {
  const read = (what: string, file: string): Promise<Buffer> =>
    readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new FailsafeError('E_USAGE', `cannot read the dashboard's TLS ${what} ${file}: ${err.code ?? err.message}`, { cause: err });
    });
  return { cert: await read('certificate', files.cert), key: await read('key', files.key) };
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

export async function startUi(failsafe: Failsafe, options: UiOptions = {}): Promise<UiServer> {
  const { host, port } = parseListen(options.listen ?? DEFAULT_LISTEN);
  const loopback = isLoopback(host);
  if (!loopback && !options.insecureListen && !options.tls) {
    throw new FailsafeError(
      'E_USAGE',
      `listening on ${host} would put the dashboard on the network without TLS: give ui.tls (cert and key) in the YAML, listen on 127.0.0.1 (and reach it through an SSH tunnel), or pass --insecure-listen`,
    );
  }
  const token = options.token ?? randomBytes(32).toString('base64url');
  // The allowed Host headers are known once the port is: the app reads them through this set.
  const hosts = loopback ? new Set<string>() : undefined;
  const { app, runs, auth } = await createApp(failsafe, {
    token,
    ...(hosts ? { hosts } : {}),
    ...(options.warn ? { warn: options.warn } : {}),
    ...(options.passwordHash ? { passwordHash: options.passwordHash } : {}),
  });
  // A server that runs for long lists the snapshots again and again: each header is read once.
  failsafe.keepSnapshotHeaders();
  const tls = options.tls ? await readTls(options.tls) : undefined;
  let server: Server;
  try {
    server = (
      tls ? createAdaptorServer({ fetch: app.fetch, createServer: createHttpsServer, serverOptions: tls }) : createAdaptorServer({ fetch: app.fetch })
    ) as Server;
  } catch (err) {
    throw new FailsafeError('E_USAGE', `the dashboard's TLS certificate or key is not usable: ${(err as Error).message}`, { cause: err });
  }
  const bound = await new Promise<number>((done, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        new FailsafeError('E_USAGE', `cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'the address is in use' : err.message}`, { cause: err }),
      ),
    );
    server.listen(port, host, () => done((server.address() as AddressInfo).port));
  });
  // Each header read once now, in the background, rather than by the first page opened: a first overview of a
  // thousand snapshots then waits only for what is new. A target that cannot be read says so on the page.
  const warmed = failsafe.status().then(
    () => undefined,
    () => undefined,
  );
  const shownHost = host.includes(':') ? `[${host}]` : host;
  for (const name of [shownHost, 'localhost', '127.0.0.1', '[::1]']) hosts?.add(`${name}:${bound}`.toLowerCase());
  return {
    url: `${tls ? 'https' : 'http'}://${shownHost}:${bound}/`,
    token,
    close: async () => {
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeIdleConnections();
      await runs.settled();
      await warmed;
      server.closeAllConnections();
      await auth.endAll();
      await closed;
    },
  };
}
