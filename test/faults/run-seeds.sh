#!/usr/bin/env bash
# Runs the fault suite several times in a row with different seeds, each with extra faults drawn
# at random after the fixed sequence, and prints every run's summary lines (issue 10 acceptance:
# 5 runs in a row pass). CI runs the suite once, with seed 1 and no random faults.
#
# Usage: test/faults/run-seeds.sh [RUNS] [RANDOM_FAULTS] [FIRST_SEED]   (default 5 6 101)
# Needs root and a build (`npm run build`); about 2.5 minutes per run on two cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

runs=${1:-5}
random_faults=${2:-6}
first_seed=${3:-101}
summary=$(mktemp -t vxmesh-faults-XXXXXX.txt)
trap 'rm -f "$summary"' EXIT

failed=0
for ((i = 0; i < runs; i++)); do
  seed=$((first_seed + i))
  log=$(mktemp -t "vxmesh-faults-seed$seed-XXXXXX.log")
  start=$(date +%s)
  if FAULT_SEED=$seed FAULT_RANDOM=$random_faults FAULT_SUMMARY_FILE=$summary \
    npx vitest run test/faults/fault-suite.test.ts >"$log" 2>&1; then
    echo "seed $seed: passed in $(($(date +%s) - start)) s"
    rm -f "$log"
  else
    echo "seed $seed: FAILED after $(($(date +%s) - start)) s; log kept in $log"
    failed=$((failed + 1))
  fi
done
echo
cat "$summary"
echo "runs: $runs, failed: $failed"
exit $((failed > 0))
