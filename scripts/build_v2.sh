#!/usr/bin/env bash
# The final protocol v2 rows still to build, one builder per core, all sharing one ordered list
# (scripts/rows_v2.txt): the uniform sample's first 100 architectures at seed 0 (issue 25,
# item 5), a second seed (1) for the first 30 of them (seed noise from 30 pairs, not 10), then
# more second seeds and architectures 101-150. Each builder trains the next row that no live
# builder has claimed (build_finals.py --claim runs/claims), trainings under way first, so the
# rows come in the list's order whatever each one costs. The second seeds handed over from the
# GPU's share (scripts/rows_v2_seeds_cpu.txt) come first, then the best architectures of the
# d256 searches (scripts/rows_v2_d256.txt, written by validity_searches.py --rows-out; issue 28).
# Then the v2 benchmark's unmeasured bests, seed by seed (scripts/rows_v2_bests.txt from its
# front, as the GPU windows take them from the back: scripts/rows_v2_bests_gpu.txt), then those
# of the all-agents benchmark (runs/bench_all_final, docs/benchmark.md "Every algorithm":
# scripts/rows_v2_bests_all.txt), then the rest of the list. Resumable: the store starts from the
# committed rows (docs/validity/finals_v2.json) and the unfinished trainings (state/finals_v2);
# rows already stored are skipped. The GPU's share (scripts/rows_v2_gpu.txt, built by
# benchmarks/gpu_suite.sh finals-detach in sessions lent a GPU) is left to it.
#
#   mkdir -p runs && for w in 0 1; do
#       nohup bash scripts/build_v2.sh $w 2 >> runs/build_v2_w$w.log 2>&1 &
#   done
#   pkill -TERM -f scripts/build_finals.py   # each builder saves the row it is in and exits 143
#   bash scripts/refresh_v2.sh               # the export, studies and validity.md; then commit
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
worker="${1:?usage: build_v2.sh WORKER [WORKERS]  (e.g. 0 2 and 1 2 on two cores)}"
workers="${2:-2}"
exec python scripts/build_finals.py --config final-fmnist-v2 --store runs/finals_v2.sqlite --runs runs/finals_v2 \
    --keep checkpoint.pt,samples --wip state/finals_v2 --restore docs/validity/finals_v2.json \
    --rows-from scripts/rows_v2_seeds_cpu.txt --rows-from scripts/rows_v2_d256.txt --rows-from scripts/rows_v2_bests.txt --rows-from scripts/rows_v2_bests_all.txt --rows-from scripts/rows_v2.txt --skip-rows-from scripts/rows_v2_gpu.txt --claim runs/claims --worker "$worker" --workers "$workers"
