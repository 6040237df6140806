import { describe, expect, it } from 'vitest';
import { resolveQuestion } from '../../../src/worker/dns/name-resolution.js';
import type { Resolution } from '../../../src/worker/dns/name-resolution.js';
import { T } from './dns-messages.js';
import { state, view, viewsOf } from './fixtures.js';

const { table, views } = viewsOf();
const web1 = view(views, 'c-web1');
const web2 = view(views, 'c-web2');
const vault = view(views, 'c-vault');

/** Resolution as `rcode: sorted data`, or 'forward'. */
function brief(r: Resolution): string {
  if (r.kind === 'forward') {
    return 'forward';
  }
  const data = r.records.map((x) =>
    'address' in x ? x.address : x.type === 'PTR' ? x.target : `${x.port} ${x.target}`,
  );
  return `${r.rcode}: ${data.sort().join(' ')}`.trim();
}

describe('resolveQuestion', () => {
  it.each([
    // [asker, name, type, expected]
    ['web1', 'web1', T.A, 'NOERROR: 10.1.0.2'],
    ['web1', 'web1-host', T.A, 'NOERROR: 10.1.0.2'],
    ['web2', 'app', T.A, 'NOERROR: 10.1.0.2 10.1.0.3'],
    ['web1', 'db', T.A, 'NOERROR: 10.2.0.5'],
    ['web1', 'db', T.AAAA, 'NOERROR: fd00:2::5'],
    ['web1', 'db', T.ANY, 'NOERROR: 10.2.0.5 fd00:2::5'],
    ['web1', 'web2', T.AAAA, 'NOERROR:'],
    ['web1', 'db', T.MX, 'NOERROR:'],
    ['web1', 'store', T.A, 'NOERROR: 10.2.0.5'],
    ['web1', 'api', T.A, 'NOERROR: 10.2.0.2'],
    ['web1', 'nothing', T.A, 'NXDOMAIN:'],
    ['web1', 'www.example.com', T.A, 'forward'],
    ['web1', '', T.A, 'forward'],
  ])('%s asks %s type %i → %s', (asker, name, type, expected) => {
    expect(brief(resolveQuestion(table, view(views, `c-${asker}`), name, type))).toBe(expected);
  });

  it('the first network in interface order that has the name answers', () => {
    // web1 is on front (10.1.0.2) and back (10.2.0.2); front comes first.
    expect(brief(resolveQuestion(table, web1, 'web1', T.A))).toBe('NOERROR: 10.1.0.2');
    expect(brief(resolveQuestion(table, web1, 'web1.back', T.A))).toBe('NOERROR: 10.2.0.2');
    expect(brief(resolveQuestion(table, web1, 'web1.front', T.A))).toBe('NOERROR: 10.1.0.2');
  });

  it('answers only from the asker’s networks, whatever the suffix', () => {
    expect(brief(resolveQuestion(table, web2, 'db', T.A))).toBe('NXDOMAIN:');
    expect(brief(resolveQuestion(table, web2, 'secret', T.A))).toBe('NXDOMAIN:');
    // `app` exists on hidden too (secret's alias): never returned.
    expect(brief(resolveQuestion(table, web2, 'app', T.A))).not.toContain('10.3.0.9');
    // A network the asker is not on is not a cluster suffix for it: forwarded, never answered.
    expect(brief(resolveQuestion(table, web2, 'secret.hidden', T.A))).toBe('forward');
    expect(brief(resolveQuestion(table, web2, 'db.back', T.A))).toBe('forward');
    expect(brief(resolveQuestion(table, vault, 'web1', T.A))).toBe('NXDOMAIN:');
    expect(brief(resolveQuestion(table, vault, 'vault', T.A))).toBe('NOERROR: 10.4.0.7');
  });

  it('links are private to the declaring container and scoped to the network given', () => {
    // web1's link db:database on back resolves; on front db is not present, back answers.
    expect(brief(resolveQuestion(table, web1, 'database', T.A))).toBe('NOERROR: 10.2.0.5');
    expect(brief(resolveQuestion(table, web1, 'database.back', T.A))).toBe('NOERROR: 10.2.0.5');
    expect(brief(resolveQuestion(table, web1, 'database.front', T.A))).toBe('NXDOMAIN:');
    expect(brief(resolveQuestion(table, web2, 'database', T.A))).toBe('NXDOMAIN:');
    // `--link web2` (no alias): the name itself; web2 is not on back, so only front answers it.
    expect(brief(resolveQuestion(table, web1, 'web2', T.A))).toBe('NOERROR: 10.1.0.3');
  });

  it('shared aliases return every holder and survive one holder leaving', () => {
    expect(brief(resolveQuestion(table, web2, 'app', T.A))).toBe('NOERROR: 10.1.0.2 10.1.0.3');
    const without = viewsOf({ ...state, endpoints: state.endpoints.filter((e) => e.id !== 'e1') }, 2);
    expect(brief(resolveQuestion(without.table, view(without.views, 'c-web2'), 'app', T.A))).toBe('NOERROR: 10.1.0.3');
    const none = viewsOf({ ...state, endpoints: state.endpoints.filter((e) => e.id !== 'e1' && e.id !== 'e2') }, 3);
    expect(brief(resolveQuestion(none.table, view(none.views, 'c-web2'), 'app', T.A))).toBe('NXDOMAIN:');
  });

  it('PTR for the asker’s networks gives <name>.<network>; other cluster addresses are NXDOMAIN, outside ones forwarded', () => {
    expect(brief(resolveQuestion(table, web1, '5.0.2.10.in-addr.arpa', T.PTR))).toBe('NOERROR: db.back');
    expect(
      brief(
        resolveQuestion(table, web1, '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.0.d.f.ip6.arpa', T.PTR),
      ),
    ).toBe('NOERROR: db.back');
    expect(brief(resolveQuestion(table, web1, '5.0.2.10.in-addr.arpa', T.A))).toBe('NOERROR:');
    expect(brief(resolveQuestion(table, web2, '5.0.2.10.in-addr.arpa', T.PTR))).toBe('NXDOMAIN:');
    expect(brief(resolveQuestion(table, web1, '9.0.3.10.in-addr.arpa', T.PTR))).toBe('NXDOMAIN:');
    expect(brief(resolveQuestion(table, web1, '99.0.1.10.in-addr.arpa', T.PTR))).toBe('NXDOMAIN:');
    expect(brief(resolveQuestion(table, web1, '8.8.8.8.in-addr.arpa', T.PTR))).toBe('forward');
    expect(brief(resolveQuestion(table, web1, '1.10.in-addr.arpa', T.PTR))).toBe('forward');
  });

  it('cluster-shaped names that do not exist are NXDOMAIN, not forwarded', () => {
    for (const name of ['ghost', 'ghost.front', 'tasks.web', '_http._tcp.web', 'a.b.back']) {
      expect(brief(resolveQuestion(table, web1, name, T.A)), name).toBe('NXDOMAIN:');
    }
    for (const name of ['ghost.example', 'tasks.web.example.org', '_http._tcp.example.org']) {
      expect(brief(resolveQuestion(table, web1, name, T.A)), name).toBe('forward');
    }
  });
});
