// A service task for tests: answers every HTTP request with the address of its first interface
// (eth0), so a client can tell which task answered whatever address it connected to.
// Usage: node task-http-server.mjs PORT
import { createServer } from 'node:http';
import { networkInterfaces } from 'node:os';

const port = Number(process.argv[2] ?? '80');
const identity = () => {
  const eth0 = networkInterfaces().eth0?.find((a) => a.family === 'IPv4');
  return eth0?.address ?? 'unknown';
};
const server = createServer((req, res) => {
  res.end(`${identity()}\n`);
});
server.listen(port, '0.0.0.0');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
