import { spawn } from 'node:child_process';
import type { Serializable } from 'node:child_process';
import { Socket as UdpSocket } from 'node:dgram';
import { Server, Socket } from 'node:net';
import { UnavailableError } from '../../common/errors.js';
import { writeNamespaceEtc } from '../containers/network-namespaces.js';
import { closeHandles } from './close-handles.js';
import { BIND_RESOLVER_SOURCE, CONNECT_TCP_SOURCE } from './binder-child-source.js';
import type { DnsNamespaceDriver, ResolverSockets } from './dns-namespace-driver.js';
import { EMBEDDED_DNS_ADDRESS } from './resolv-conf.js';

export interface NetnsDnsDriverOptions {
  /** Where the resolver listens inside each namespace. Default 127.0.0.11:53. */
  readonly address?: string;
  readonly port?: number;
  /** Helpers allowed to run at once (each is a node process for ~50 ms). Default 4. */
  readonly maxConcurrentHelpers?: number;
  /** A helper that has not finished by then is killed. Default 10 s. */
  readonly helperTimeoutMs?: number;
  /** The node binary helpers run with. Default: this process's. */
  readonly nodePath?: string;
}

type Handle = UdpSocket | Server | Socket;

/**
 * The real driver: runs a short-lived node helper inside the namespace with `ip netns exec`,
 * which creates the sockets there and passes them to this process over the IPC channel
 * (`subprocess.send(msg, handle)`), then exits. No process stays behind per container. Needs
 * root and iproute2. Helpers run at most `maxConcurrentHelpers` at a time.
 */
export class NetnsDnsDriver implements DnsNamespaceDriver {
  readonly #address: string;
  readonly #port: number;
  readonly #timeoutMs: number;
  readonly #nodePath: string;
  readonly #maxHelpers: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(opts: NetnsDnsDriverOptions = {}) {
    this.#address = opts.address ?? EMBEDDED_DNS_ADDRESS;
    this.#port = opts.port ?? 53;
    this.#timeoutMs = opts.helperTimeoutMs ?? 10_000;
    this.#nodePath = opts.nodePath ?? process.execPath;
    this.#maxHelpers = Math.max(1, opts.maxConcurrentHelpers ?? 4);
  }

  async bindResolver(namespace: string, signal?: AbortSignal): Promise<ResolverSockets> {
    const handles = await this.#runHelper(namespace, BIND_RESOLVER_SOURCE, [this.#address, String(this.#port)], signal);
    const udp = handles.get('udp');
    const tcp = handles.get('tcp');
    const upstream4 = handles.get('upstream4');
    const upstream6 = handles.get('upstream6');
    if (
      !(udp instanceof UdpSocket) ||
      !(tcp instanceof Server) ||
      !(upstream4 instanceof UdpSocket) ||
      (upstream6 !== undefined && !(upstream6 instanceof UdpSocket))
    ) {
      closeHandles(handles.values());
      throw new UnavailableError(`the DNS helper in ${namespace} sent unexpected sockets`);
    }
    return { udp, tcp, upstream4, upstream6 };
  }

  async connectTcp(namespace: string, address: string, port: number, signal?: AbortSignal): Promise<Socket> {
    const handles = await this.#runHelper(
      namespace,
      CONNECT_TCP_SOURCE,
      [address, String(port), String(this.#timeoutMs)],
      signal,
    );
    const socket = handles.get('socket');
    if (!(socket instanceof Socket)) {
      closeHandles(handles.values());
      throw new UnavailableError(`the DNS helper in ${namespace} sent no connection to ${address}:${port}`);
    }
    return socket;
  }

  async writeResolvConf(namespace: string, content: string): Promise<void> {
    await writeNamespaceEtc(namespace, { 'resolv.conf': content });
  }

  /**
   * Runs one helper and collects the handles it sends, by message kind. Resolves on `ready`;
   * rejects on `error`, exit before `ready`, timeout or abort, closing whatever arrived.
   */
  async #runHelper(
    namespace: string,
    source: string,
    args: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, Handle>> {
    signal?.throwIfAborted();
    await this.#acquire();
    try {
      return await this.#spawnHelper(namespace, source, args, signal);
    } finally {
      this.#release();
    }
  }

  #spawnHelper(
    namespace: string,
    source: string,
    args: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, Handle>> {
    return new Promise((resolve, reject) => {
      const handles = new Map<string, Handle>();
      let stderr = '';
      let settled = false;
      const child = spawn('ip', ['netns', 'exec', namespace, this.#nodePath, '-e', source, ...args], {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        // No NODE_OPTIONS or loaders from this process: the helper is plain CommonJS.
        env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      });
      const finish = (err: Error | undefined): void => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (child.connected) {
          child.disconnect();
        }
        if (err) {
          child.kill('SIGKILL');
          closeHandles(handles.values());
          reject(err);
        } else {
          resolve(handles);
        }
      };
      const onAbort = (): void =>
        finish(new UnavailableError(`DNS helper in ${namespace} aborted`, { cause: signal?.reason }));
      const timer = setTimeout(
        () => finish(new UnavailableError(`DNS helper in ${namespace} did not finish within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        stderr = (stderr + d).slice(-2000);
      });
      child.on('message', (message: Serializable, handle: unknown) => {
        const kind = messageKind(message);
        if (handle instanceof UdpSocket || handle instanceof Server || handle instanceof Socket) {
          if (settled || handles.has(kind)) {
            closeHandles([handle]);
          } else {
            handles.set(kind, handle);
          }
          return;
        }
        if (kind === 'ready') {
          finish(undefined);
        } else if (kind === 'error') {
          finish(new UnavailableError(`DNS helper in ${namespace}: ${messageText(message)}`));
        }
      });
      child.on('error', (err) =>
        finish(new UnavailableError(`cannot start the DNS helper in ${namespace}: ${err.message}`, { cause: err })),
      );
      child.on('exit', (code, sig) =>
        finish(
          new UnavailableError(
            `DNS helper in ${namespace} exited (${code ?? sig ?? 'unknown'}) before it was done${stderr.trim() ? `: ${stderr.trim()}` : ''}`,
          ),
        ),
      );
    });
  }

  async #acquire(): Promise<void> {
    if (this.#running < this.#maxHelpers) {
      this.#running++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) {
      next(); // the slot passes straight to the next waiter
    } else {
      this.#running--;
    }
  }
}

function messageKind(message: Serializable): string {
  if (typeof message === 'object' && message !== null && 'kind' in message && typeof message.kind === 'string') {
    return message.kind;
  }
  return '';
}

function messageText(message: Serializable): string {
  if (typeof message === 'object' && message !== null && 'message' in message && typeof message.message === 'string') {
    return message.message;
  }
  return 'unknown error';
}
