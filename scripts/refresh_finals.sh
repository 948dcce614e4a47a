#!/usr/bin/env bash
# Refresh every committed result that depends on the final rows, in order, after
# scripts/build_finals.py has stored more of them and scripts/refresh_v2.sh has exported them
# (about 5 minutes on 2 cores):
#   the rows (final protocol v2 at its 8,500-iteration checkpoint, docs/validity/finals_v2.json;
#   the uniform sample is the first 100 of the sampling order) -> the table with its final fidelity and final
#   surrogate -> the table's facts -> docs/validity.md -> the benchmark's final-fidelity
#   analysis (docs/benchmark/final/) -> the tables of docs/benchmark.md.
# The proxy grids of the table do not change (its proxy rows are the same); only the final
# rows and the final surrogate do. Prose that quotes numbers must be re-read afterwards.
#
#   bash scripts/refresh_finals.sh [BENCHMARK_FOLDER]   # default runs/bench_all_final
set -euo pipefail
# the body is one compound command, read whole before it runs: editing this file (or a git
# checkout) while a refresh runs cannot make bash read on from the wrong place
{
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
bench="${1:-runs/bench_all_final}"
shipped=docs/benchmark/final
# a fresh clone has no benchmark folder: the committed run's curves and meta.json stand in for it
# (the re-analysis needs only these; the run itself took 767 s here, AMD EPYC)
if [ ! -e "$bench/curves.json" ] && [ -e "$shipped/curves.json.gz" ]; then
    mkdir -p "$bench"
    gzip -dc "$shipped/curves.json.gz" > "$bench/curves.json"
    cp "$shipped/meta.json" "$bench/meta.json"
    echo "refresh_finals: $bench unpacked from $shipped/curves.json.gz"
fi
[ -e "$bench/curves.json" ] || { echo "refresh_finals: $bench/curves.json is missing (made by the gan-nas benchmark command recorded in $shipped/summary.json, key run)" >&2; exit 2; }
# the v1 rows (1,000 iterations: early training) stay in docs/validity/finals.json and in git
# history; the table holds one protocol's rows (it refuses to mix them)
python scripts/build_table.py --store runs/table_v2.sqlite --restore gan_nas_env/assets/table_fmnist_v2.npz \
    --export gan_nas_env/assets/table_fmnist_v2.npz --finals docs/validity/finals_v2.json \
    --final-budget "${FINAL_BUDGET:-8500}" --final-uniform 100
python scripts/table_stats.py --out docs/benchmark/table_facts.json > /dev/null
# the final surrogate's regressor against the others (the reference is the kind in use: is any ahead of it?)
python scripts/final_surrogate_study.py --out docs/validity/final_surrogate_study.json \
    --md docs/validity/final_surrogate_study.md > /dev/null
python scripts/seed_noise.py --out docs/benchmark/seed_noise.json --doc docs/bench_api.md > /dev/null
python scripts/validity.py report --v2-iters "${FINAL_BUDGET:-8500}"
gan-nas benchmark --analyse --out "$bench"
cp "$bench"/{summary.json,report.md,sample_efficiency.png,performance_profile.png,meta.json} "$shipped/"
gzip -9 -n -c "$bench/curves.json" > "$shipped/curves.json.gz"  # -n: the same curves give the same bytes
python scripts/benchmark_doc.py
echo "refresh_finals: done; review git diff (docs/benchmark.md and docs/validity.md prose) and commit"
exit
}
