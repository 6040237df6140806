// `npm run bench [-- NAME...]`: runs the named benchmarks (default: kvstore and pki), each printing
// its ratios against a baseline measured in the same run. Not part of the test suite.
const benches: Record<string, () => Promise<unknown>> = {
  kvstore: async () => (await import('./kvstore.js')).runKvStoreBench(),
  pki: async () => (await import('./pki.js')).runPkiBench(),
};

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['kvstore', 'pki'];
for (const name of names) {
  const bench = benches[name];
  if (!bench) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n#### ${name}`);
  await bench();
}
