import { performance } from 'node:perf_hooks';
import { ProcessCommandRunner } from '../src/vxlan/command-runner-process.js';
import { readDataplane } from '../src/vxlan/kernel-reader.js';
import { diffDataplane } from '../src/vxlan/dataplane-diff.js';
import { executePlan } from '../src/vxlan/plan-executor.js';
import { validateDataplaneSpec } from '../src/vxlan/spec-validation.js';
import type { NodeDataplaneSpec, RemoteEndpointSpec } from '../src/vxlan/dataplane-spec.js';
const runner = new ProcessCommandRunner({ baseNamespace: 'dpx-h' });
const n = 50000; const b = (x: number) => (x & 0xff).toString(16).padStart(2, '0');
const rs: RemoteEndpointSpec[] = [];
for (let j = 0; j < n; j++) { const i = j + 16; rs.push({ endpointId: `r${i}`, subnetIndex: 0, mac: `02:42:${b(i >> 24)}:${b(i >> 16)}:${b(i >> 8)}:${b(i)}`, ipv4: `10.${128 + ((i >> 16) & 0x7f)}.${(i >> 8) & 0xff}.${i & 0xff}`, vtep: `198.51.100.${20 + (i % 200)}` }); }
const spec = (r: RemoteEndpointSpec[]): NodeDataplaneSpec => ({ namespacePrefix: 'dpx-', dataPathAddr: '198.51.100.10', dataPathPort: 4789, memberVteps: [], overlays: [{ networkId: 'abc', namespace: 'dpx-o-abc', mtu: 1450, subnets: [{ index: 0, vni: 77, gatewayCidr: '10.128.0.1/10' }], localEndpoints: [], remoteEndpoints: r }] });
for (const s of [spec([]), spec(rs), spec(rs), spec([])]) {
  let t = performance.now();
  validateDataplaneSpec(s); const tVal = performance.now() - t; t = performance.now();
  const read = await readDataplane(runner, s); const tRead = performance.now() - t; t = performance.now();
  const { plan } = diffDataplane(s, read.observed, { daemonNamespace: 'dpx-h' }); const tDiff = performance.now() - t; t = performance.now();
  const res = await executePlan(runner, plan); const tExec = performance.now() - t;
  console.log({ tVal: Math.round(tVal), tRead: Math.round(tRead), tDiff: Math.round(tDiff), tExec: Math.round(tExec), errors: res.errors.length });
}
