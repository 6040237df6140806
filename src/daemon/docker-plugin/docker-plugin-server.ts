import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { InvalidArgumentError, UnavailableError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { ActivateResponse, ErrorResponse } from './docker-plugin-api.js';
import { PLUGIN_CONTENT_TYPE } from './docker-plugin-api.js';
import type { DockerPluginBackend } from './docker-plugin-backend.js';
import { DockerPluginState } from './docker-plugin-state.js';
import { DockerIpamDriver } from './docker-ipam-driver.js';
import { DockerNetworkDriver } from './docker-network-driver.js';
import type { Body } from './docker-request.js';
import { socketIsLive } from '../../common/net/unix-socket-live.js';

const log = createLogger('daemon.docker-plugin');

/** Docker's requests are a few hundred bytes; anything past this is refused. */
const MAX_BODY_BYTES = 1 << 20;

/**
 * HTTP status of a failure. Docker shows `Err` whatever the status, but reads 404 as "the plugin
 * does not implement this method" (and then, for some methods, carries on with defaults), so
 * 404 is kept for unknown methods; bad input is 400 and everything else 500.
 */
function statusOf(err: unknown): number {
  return err instanceof VxmeshError && err.code === 'INVALID_ARGUMENT' ? 400 : 500;
}

type Handler = (body: Body) => unknown;

export interface DockerPluginServerOptions {
  /** The socket Docker finds the plugin by: `/run/docker/plugins/<name>.sock`. */
  readonly socketPath: string;
  readonly dataRoot: string;
  readonly backend: DockerPluginBackend;
}

/**
 * The Docker remote network and IPAM plugin API (JSON over HTTP POST on a unix socket):
 * `Plugin.Activate`, `NetworkDriver.*` and `IpamDriver.*`. Failures answer `{"Err": "..."}` with
 * a 4xx status for bad input and 5xx otherwise; an unknown method is 404.
 */
export class DockerPluginServer implements AsyncDisposable {
  readonly #opts: DockerPluginServerOptions;
  readonly #server: Server;
  readonly #routes: ReadonlyMap<string, Handler>;
  #closed = false;

  private constructor(opts: DockerPluginServerOptions) {
    this.#opts = opts;
    const network = new DockerNetworkDriver(opts.backend, new DockerPluginState(opts.dataRoot));
    const ipam = new DockerIpamDriver(opts.backend);
    const ack = (): Record<string, never> => ({});
    this.#routes = new Map<string, Handler>([
      ['/Plugin.Activate', (): ActivateResponse => ({ Implements: ['NetworkDriver', 'IpamDriver'] })],
      ['/NetworkDriver.GetCapabilities', () => network.getCapabilities()],
      ['/NetworkDriver.CreateNetwork', (b) => network.createNetwork(b)],
      ['/NetworkDriver.DeleteNetwork', (b) => network.deleteNetwork(b)],
      ['/NetworkDriver.CreateEndpoint', (b) => network.createEndpoint(b)],
      ['/NetworkDriver.DeleteEndpoint', (b) => network.deleteEndpoint(b)],
      ['/NetworkDriver.EndpointOperInfo', (b) => network.endpointOperInfo(b)],
      ['/NetworkDriver.Join', (b) => network.join(b)],
      ['/NetworkDriver.Leave', (b) => network.leave(b)],
      // Node discovery is the managers' business; Docker's notifications change nothing here.
      ['/NetworkDriver.DiscoverNew', ack],
      ['/NetworkDriver.DiscoverDelete', ack],
      // Port publishing on the gateway endpoint: vxmesh endpoints are never Docker's gateway.
      ['/NetworkDriver.ProgramExternalConnectivity', ack],
      ['/NetworkDriver.RevokeExternalConnectivity', ack],
      // Swarm-mode allocation on Docker managers: vxmesh allocates in its own managers.
      ['/NetworkDriver.AllocateNetwork', () => ({ Options: {} })],
      ['/NetworkDriver.FreeNetwork', ack],
      ['/IpamDriver.GetCapabilities', () => ipam.getCapabilities()],
      ['/IpamDriver.GetDefaultAddressSpaces', () => ipam.getDefaultAddressSpaces()],
      ['/IpamDriver.RequestPool', (b) => ipam.requestPool(b)],
      ['/IpamDriver.ReleasePool', (b) => ipam.releasePool(b)],
      ['/IpamDriver.RequestAddress', (b) => ipam.requestAddress(b)],
      ['/IpamDriver.ReleaseAddress', (b) => ipam.releaseAddress(b)],
    ]);
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  /** Listens on the socket (replacing a stale file nothing answers on). */
  static async start(opts: DockerPluginServerOptions): Promise<DockerPluginServer> {
    const server = new DockerPluginServer(opts);
    await mkdir(dirname(opts.socketPath), { recursive: true, mode: 0o755 });
    if (await socketIsLive(opts.socketPath)) {
      throw new UnavailableError(`something already serves ${opts.socketPath}`);
    }
    await rm(opts.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(opts.socketPath, () => {
        server.#server.removeListener('error', reject);
        resolve();
      });
    });
    await chmod(opts.socketPath, 0o600);
    log.info({ socket: opts.socketPath }, 'Docker network and IPAM plugin listening');
    return server;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.url ?? '').split('?')[0] ?? '';
    try {
      if (req.method !== 'POST') {
        throw new VxmeshError('INVALID_ARGUMENT', `${req.method ?? '?'} ${method}: plugin calls are POST`);
      }
      const handler = this.#routes.get(method);
      if (!handler) {
        this.#reply(res, 404, { Err: `${method.slice(1) || '/'} is not implemented by the vxmesh plugin` });
        await drain(req);
        return;
      }
      const body = await readBody(req);
      const answer = await handler(body);
      this.#reply(res, 200, answer);
    } catch (err) {
      const status = statusOf(err);
      if (status >= 500) {
        log.warn({ err, method }, 'Docker plugin call failed');
      }
      const message = err instanceof VxmeshError ? err.message : 'internal error (see the vxmeshd log)';
      this.#reply(res, status, { Err: message } satisfies ErrorResponse);
    }
  }

  #reply(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body ?? {});
    res.writeHead(status, { 'Content-Type': PLUGIN_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    await rm(this.#opts.socketPath, { force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The request's JSON object; empty text (Plugin.Activate) and `null` are `{}`. */
async function readBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw new InvalidArgumentError('body', `larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '' || text === 'null') {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError('body', 'is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError('body', 'is not a JSON object');
  }
  return parsed as Body;
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}
