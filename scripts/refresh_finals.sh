#!/usr/bin/env bash
# Refresh every committed result that depends on the final rows, in order, after
# scripts/build_finals.py has stored more of them (about 15 minutes on 2 cores):
#   the rows (docs/validity/finals.json) -> the table with its final fidelity and final
#   surrogate -> the table's facts -> docs/validity.md -> the benchmark's final-fidelity
#   analysis (docs/benchmark/final/) -> the tables of docs/benchmark.md.
# The proxy grids of the table do not change (its proxy rows are the same); only the final
# rows and the final surrogate do. Prose that quotes numbers must be re-read afterwards.
#
#   bash scripts/refresh_finals.sh [BENCHMARK_FOLDER]   # default runs/bench_all_final
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
bench="${1:-runs/bench_all_final}"
[ -e "$bench/curves.json" ] || { echo "refresh_finals: $bench/curves.json is missing (made by the gan-nas benchmark command recorded in docs/benchmark/final/summary.json, key run)" >&2; exit 2; }
# the stores are restored from the committed rows first (a no-op where they are complete), so
# this also runs on a fresh clone, where only the rows trained since are in runs/finals.sqlite
python scripts/build_finals.py --restore docs/validity/finals.json --export docs/validity/finals.json
python scripts/build_table.py --store runs/table_v2.sqlite --restore gan_nas_env/assets/table_fmnist_v2.npz \
    --export gan_nas_env/assets/table_fmnist_v2.npz --finals docs/validity/finals.json
python scripts/table_stats.py --out docs/benchmark/table_facts.json > /dev/null
python scripts/validity.py report
python -c "import sys; from agents.benchmark.run import analyse; analyse(sys.argv[1])" "$bench"
cp "$bench"/{summary.json,report.md,sample_efficiency.png,performance_profile.png} docs/benchmark/final/
python scripts/benchmark_doc.py
echo "refresh_finals: done; review git diff (docs/benchmark.md and docs/validity.md prose) and commit"
