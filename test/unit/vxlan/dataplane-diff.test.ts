import { describe, expect, it } from 'vitest';
import { diffDataplane } from '../../../src/vxlan/dataplane-diff.js';
import type { DataplanePlan } from '../../../src/vxlan/dataplane-plan.js';
import { scopeLabel } from '../../../src/vxlan/command-runner.js';
import { NET_A, NET_B, baseSpec, noEgress, overlay } from './fixtures.js';
import { link, namespace, observed } from './state-builders.js';

/** `stage tool [ns]: line` for every line of the plan. */
function flat(plan: DataplanePlan): string[] {
  return plan.stages.flatMap((s) =>
    s.batches.flatMap((b) => b.lines.map((l) => `${s.name} ${b.tool}${scopeLabel(b.scope) === '' ? '' : ` [${scopeLabel(b.scope)}]`}: ${l}`)),
  );
}

const OV_A = `vxd-o-${NET_A.slice(0, 12)}`;
const OV_B = `vxd-o-${NET_B.slice(0, 12)}`;

describe('diffDataplane', () => {
  it('orders a fresh node: registry, daemon (VXLAN, nft), overlay, container', () => {
    const spec = noEgress(baseSpec(), { memberVteps: [] });
    const { plan, errors } = diffDataplane(spec, observed({ namespaces: new Set(['c1']), containers: new Map([['c1', namespace([link('lo')])]]) }));
    expect(errors).toEqual([]);
    expect(plan.stages.map((s) => `${s.name}:${s.batches.map((b) => `${b.tool}/${scopeLabel(b.scope) || '-'}`).join(',')}`)).toEqual([
      'registry:ip/-',
      'daemon:ip/-,nft/-',
      `overlay:ip/${OV_A},bridge/${OV_A}`,
      'container:ip/c1',
    ]);
    expect(flat(plan)[0]).toBe(`registry ip: netns add ${OV_A}`);
  });

  it('tears a stale namespace down link by link before the registry deletes it', () => {
    const stale = 'vxd-o-zzzzzzzzzzzz';
    const { plan } = diffDataplane(
      noEgress(baseSpec(), { overlays: [] }),
      observed({
        namespaces: new Set([stale, 'unrelated-o-x', 'c1']),
        overlays: new Map([[stale, namespace([link('lo'), link('vxlan0', { kind: 'vxlan' }), link('br0', { kind: 'bridge' })])]]),
        nft: undefined,
      }),
    );
    const lines = flat(plan).filter((l) => !l.includes(' nft'));
    expect(lines).toEqual([`teardown ip [${stale}]: link del dev vxlan0`, `teardown ip [${stale}]: link del dev br0`, `registry ip: netns del ${stale}`]);
  });

  it('hoists the deletion of a veth whose container-side name is reused elsewhere in the pass', () => {
    // c1's eth0 is currently the peer of overlay A's veth; the spec moves eth0 to overlay B.
    const veA = 'vec1epaaaa0000';
    const ovA = namespace([link('lo'), link(veA, { kind: 'veth', ifindex: 10, linkIndex: 20, linkNetnsId: 3 })], {
      netnsIds: new Map([['c1', 3]]),
    });
    const c1 = namespace([link('lo'), link('eth0', { kind: 'veth', ifindex: 20, linkIndex: 10, linkNetnsId: 0 })], {
      netnsIds: new Map([[OV_A, 0]]),
    });
    const spec = noEgress(baseSpec(), { overlays: [overlay(NET_B, 4098, 2, 'c1', 'eth0')] });
    const { plan } = diffDataplane(
      spec,
      observed({ namespaces: new Set([OV_A, 'c1']), overlays: new Map([[OV_A, ovA]]), containers: new Map([['c1', c1]]) }),
    );
    const lines = flat(plan);
    expect(lines.slice(0, 3)).toEqual([
      `teardown ip [${OV_A}]: link del dev ${veA}`,
      `registry ip: netns del ${OV_A}`,
      `registry ip: netns add ${OV_B}`,
    ]);
    expect(lines.some((l) => l.includes('link del dev eth0'))).toBe(false);
  });

  it('deletes a foreign interface holding a claimed name explicitly, in the teardown stage', () => {
    const c1 = namespace([link('lo'), link('eth0', { kind: 'dummy' })]);
    const spec = noEgress(baseSpec());
    const { plan } = diffDataplane(spec, observed({ namespaces: new Set(['c1']), containers: new Map([['c1', c1]]) }));
    expect(flat(plan)[0]).toBe('teardown ip [c1]: link del dev eth0');
  });

  it('keeps an ordinary deletion in its own namespace batch (one batch per namespace)', () => {
    const ov = namespace([link('lo'), link('dummy9', { kind: 'dummy' })]);
    const spec = noEgress(baseSpec());
    const { plan } = diffDataplane(
      spec,
      observed({ namespaces: new Set([OV_A, 'c1']), overlays: new Map([[OV_A, ov]]), containers: new Map([['c1', namespace([link('lo')])]]) }),
    );
    expect(plan.stages.some((s) => s.name === 'teardown')).toBe(false);
    expect(flat(plan).filter((l) => l.startsWith(`overlay ip [${OV_A}]`))[0]).toBe(`overlay ip [${OV_A}]: link del dev dummy9`);
  });

  it('leaves unreadable namespaces and an unreadable nft table alone', () => {
    const { plan, errors } = diffDataplane(baseSpec(), observed({ namespaces: new Set([OV_A, 'c1']) }), {
      unreadable: new Set([OV_A]),
      nftUnknown: true,
    });
    expect(flat(plan).some((l) => l.includes(OV_A) || l.includes(' nft'))).toBe(false);
    expect(errors).toEqual(expect.arrayContaining([expect.stringContaining('could not be read'), expect.stringContaining('nft')]));
  });
});
