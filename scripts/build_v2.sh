#!/usr/bin/env bash
# The final protocol v2 rows still to build, in order, one worker per core:
#   1. the uniform sample to its first 100 architectures, seed 0 (issue 25, item 5);
#   2. a second seed (1) for the first 30 of them (seed noise from 30 pairs, not 10).
# Each worker takes its share of each list (--worker W --workers N), so a core that finishes
# its share of the first list goes on with the second instead of idling. Resumable: each list
# starts from the committed rows (docs/validity/finals_v2.json) and the unfinished trainings
# (state/finals_v2); rows already stored are skipped.
#
#   mkdir -p runs && for w in 0 1; do
#       nohup bash scripts/build_v2.sh $w 2 >> runs/build_v2_w$w.log 2>&1 &
#   done
#   pkill -TERM -f scripts/build_finals.py   # each builder saves the row it is in; the chain
#                                            # stops there (build_finals exits 143, not 0)
#   bash scripts/refresh_v2.sh               # the export, studies and validity.md; then commit
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
worker="${1:?usage: build_v2.sh WORKER [WORKERS]  (e.g. 0 2 and 1 2 on two cores)}"
workers="${2:-2}"
common=(--config final-fmnist-v2 --store runs/finals_v2.sqlite --runs runs/finals_v2
        --keep checkpoint.pt,samples --wip state/finals_v2 --restore docs/validity/finals_v2.json
        --worker "$worker" --workers "$workers")
python scripts/build_finals.py "${common[@]}" --archs 100 --extra "" --seeds 0
python scripts/build_finals.py "${common[@]}" --archs 30 --extra "" --seeds 1
