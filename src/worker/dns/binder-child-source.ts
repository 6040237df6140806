/**
 * Sources of the short-lived helpers the netns driver runs inside a container's namespace with
 * `ip netns exec <ns> node -e <source> <args>`. They are plain CommonJS strings rather than
 * modules so they run the same from the compiled tree and from TypeScript sources under a test
 * runner, without a loader. Protocol on the IPC channel (child → agent):
 *
 *   { kind: '<name>' } + handle   one per socket, in order
 *   { kind: 'ready' }             all handles sent; the agent then disconnects, the child exits
 *   { kind: 'error', message }    nothing usable was sent; the child exits 1
 *
 * The child closes its own copy of each handle once it is sent, so it never reads a query meant
 * for the agent, and exits on disconnect (or after 15 s, whatever the agent does).
 */

const COMMON = String.raw`
'use strict';
const dgram = require('node:dgram');
const net = require('node:net');
setTimeout(() => process.exit(2), 15000).unref();
process.on('disconnect', () => process.exit(0));
const fail = (err) => {
  const message = String((err && err.message) || err);
  try { process.send({ kind: 'error', message }, () => process.exit(1)); } catch { process.exit(1); }
};
const send = (msg, handle) => new Promise((resolve, reject) =>
  process.send(msg, handle, undefined, (err) => (err ? reject(err) : resolve())));
const bindUdp = (type, address, port) => new Promise((resolve, reject) => {
  const s = dgram.createSocket(type === 'udp6' ? { type, ipv6Only: true } : { type });
  s.once('error', reject);
  s.bind({ address, port }, () => { s.removeListener('error', reject); resolve(s); });
});
`;

/** argv: ADDRESS PORT. Sends `udp`, `tcp`, `upstream4` and, if IPv6 works there, `upstream6`. */
export const BIND_RESOLVER_SOURCE = String.raw`${COMMON}
const [address, portText] = process.argv.slice(1);
const port = Number(portText);
(async () => {
  const udp = await bindUdp('udp4', address, port);
  const tcp = await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host: address, port, backlog: 128 }, () => { s.removeListener('error', reject); resolve(s); });
  });
  const up4 = await bindUdp('udp4', '0.0.0.0', 0);
  const up6 = await bindUdp('udp6', '::', 0).catch(() => undefined);
  await send({ kind: 'udp' }, udp); udp.close();
  await send({ kind: 'tcp' }, tcp); tcp.close();
  await send({ kind: 'upstream4' }, up4); up4.close();
  if (up6) { await send({ kind: 'upstream6' }, up6); up6.close(); }
  await send({ kind: 'ready' });
})().catch(fail);
`;

/** argv: ADDRESS PORT TIMEOUT_MS. Sends `socket`: a TCP connection made from the namespace. */
export const CONNECT_TCP_SOURCE = String.raw`${COMMON}
const [address, portText, timeoutText] = process.argv.slice(1);
const s = net.connect({ host: address, port: Number(portText), timeout: Number(timeoutText) });
s.once('timeout', () => { s.destroy(); fail(new Error('connect timed out')); });
s.once('error', fail);
s.once('connect', () => {
  s.setTimeout(0);
  send({ kind: 'socket' }, s).then(() => send({ kind: 'ready' })).catch(fail);
});
`;
