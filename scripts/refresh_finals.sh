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
for need in runs/finals.sqlite runs/table_v2.sqlite "$bench/curves.json"; do
    [ -e "$need" ] || { echo "refresh_finals: $need is missing (built on this machine by scripts/build_finals.py, scripts/build_table.py, gan-nas benchmark)" >&2; exit 2; }
done
python scripts/build_finals.py --export docs/validity/finals.json
python scripts/build_table.py --store runs/table_v2.sqlite --export gan_nas_env/assets/table_fmnist_v2.npz \
    --finals docs/validity/finals.json
python scripts/table_stats.py --out docs/benchmark/table_facts.json > /dev/null
python scripts/validity.py report
python -c "import sys; from agents.benchmark.run import analyse; analyse(sys.argv[1])" "$bench"
cp "$bench"/{summary.json,report.md,sample_efficiency.png,performance_profile.png} docs/benchmark/final/
python scripts/benchmark_doc.py
echo "refresh_finals: done; review git diff (docs/benchmark.md and docs/validity.md prose) and commit"
