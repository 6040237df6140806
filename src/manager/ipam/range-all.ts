import type { KeyValue, KvStore } from '../../kvstore/index.js';

const PAGE = 500;

/**
 * Every key under `prefix`, read page by page at the first page's revision (or at
 * `opts.revision`, to read several prefixes as of one revision) so the result is one consistent
 * snapshot. Returns the keys and that revision.
 */
export async function rangeAll(
  store: KvStore,
  prefix: string,
  opts: { readonly signal?: AbortSignal; readonly revision?: bigint } = {},
): Promise<{ kvs: KeyValue[]; revision: bigint }> {
  const kvs: KeyValue[] = [];
  let after: string | undefined;
  let revision: bigint | undefined = opts.revision;
  for (;;) {
    const page = await store.range(prefix, {
      limit: PAGE,
      ...(after === undefined ? {} : { after }),
      ...(revision === undefined ? {} : { revision }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    kvs.push(...page.kvs);
    revision ??= page.revision;
    if (!page.more || page.kvs.length === 0) {
      return { kvs, revision };
    }
    after = page.kvs[page.kvs.length - 1]?.key;
  }
}
