// Keeps ONE TCP connection to URL's host and sends a GET over it every INTERVAL_MS, COUNT times;
// prints a JSON object { answers: [body...], errors: [message...], sockets: number of sockets used }.
// Used to show that a long-lived (or idle) connection through a VIP keeps its backend.
// Usage: node http-hold.mjs URL INTERVAL_MS COUNT
import { Agent, request } from 'node:http';

const [url = '', intervalText = '1000', countText = '1'] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true, maxSockets: 1, keepAliveMsecs: 3_600_000 });
const sockets = new Set();
const answers = [];
const errors = [];

const get = () =>
  new Promise((resolve) => {
    const req = request(url, { agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ body: body.trim() }));
    });
    req.on('socket', (socket) => {
      sockets.add(socket);
      // No keepalive probes: the connection must survive idle on its own.
      socket.setKeepAlive(false);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: err.message }));
    req.end();
  });

for (let i = 0; i < Number(countText); i++) {
  if (i > 0) {
    await new Promise((r) => setTimeout(r, Number(intervalText)));
  }
  const r = await get();
  if (r.error !== undefined) {
    errors.push(r.error);
  } else {
    answers.push(r.body);
  }
}
agent.destroy();
process.stdout.write(`${JSON.stringify({ answers, errors, sockets: sockets.size })}\n`);
