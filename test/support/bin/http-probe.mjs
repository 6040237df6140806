// Sends COUNT HTTP GETs to each URL, one new connection per request (load balancing is per
// connection), and prints a JSON object: URL → { answers: { body → count }, errors: count }.
// Every request has its own timeout, so the whole run is bounded.
// Usage: node http-probe.mjs COUNT TIMEOUT_MS URL...
import { request } from 'node:http';

const [countText = '1', timeoutText = '2000', ...urls] = process.argv.slice(2);
const count = Number(countText);
const timeoutMs = Number(timeoutText);

const get = (url) =>
  new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ body: body.trim() }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: err.message }));
    req.end();
  });

const results = {};
for (const url of urls) {
  const entry = { answers: {}, errors: 0, lastError: '' };
  for (let i = 0; i < count; i++) {
    const r = await get(url);
    if (r.error !== undefined) {
      entry.errors++;
      entry.lastError = r.error;
    } else {
      entry.answers[r.body] = (entry.answers[r.body] ?? 0) + 1;
    }
  }
  results[url] = entry;
}
process.stdout.write(`${JSON.stringify(results)}\n`);
