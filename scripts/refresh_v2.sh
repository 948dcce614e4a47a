#!/usr/bin/env bash
# Refresh every committed result that depends on the final protocol v2 rows, in order, after
# scripts/build_finals.py has stored more of them (about 5 minutes on one core):
#   the rows and the unfinished trainings (docs/validity/finals_v2.json, state/finals_v2)
#   -> both evaluator studies (the score and FID; docs/validity/evaluators_v2*.{json,md,png})
#   -> docs/validity.md (which includes the studies' pages) -> the checks of docs/benchmark.md.
# Run it with the builders (scripts/build_v2.sh) stopped (`pkill -TERM -f build_finals.py`: each saves a checkpoint
# of the row it is in), so that the unfinished trainings are saved whole; then commit
#   git add -A state/finals_v2 docs/validity docs/validity.md
# Prose that quotes numbers (README, docstrings, presets) must be re-read afterwards. After the
# ladder's stores grew (scripts/build_table.py --skip), run `python scripts/validity.py collect`
# first: it adds their rows to docs/validity/ladder.json, which both studies read.
#
#   bash scripts/refresh_v2.sh [BUDGET]   # the protocol's final checkpoint, default 8500
set -euo pipefail
# the body is one compound command, read whole before it runs: editing this file (or a git
# checkout) while a refresh runs cannot make bash read on from the wrong place
{
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
budget="${1:-8500}"
if pgrep -f "scripts/build_finals.py" > /dev/null; then
    echo "refresh_v2: builders are running (pgrep -f scripts/build_finals.py); stop them first:" \
         "pkill -TERM -f build_finals.py" >&2
    exit 2
fi
# a fresh clone's store is restored from the committed rows first (a no-op where it is complete)
python scripts/build_finals.py --config final-fmnist-v2 --store runs/finals_v2.sqlite --runs runs/finals_v2 \
    --restore docs/validity/finals_v2.json --export docs/validity/finals_v2.json --wip state/finals_v2 \
    --keep checkpoint.pt,samples  # as scripts/build_v2.sh keeps them: the paused rows' grids too
python scripts/evaluator_study.py --reference v2 --budget "$budget"
python scripts/evaluator_study.py --reference v2 --budget "$budget" --target FID
python scripts/validity.py report --v2-iters "$budget"
python scripts/benchmark_doc.py
python scripts/benchmark_doc.py --check
echo "refresh_v2: done; review git diff (docs/validity.md, the presets' and README's quoted numbers) and commit"
exit
}
