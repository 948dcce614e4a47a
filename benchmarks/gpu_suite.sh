#!/usr/bin/env bash
# The GPU measurements of the performance issue, in parts that each fit one device call
# (10 minutes). Run here first:  bash benchmarks/gpu_wheels.sh   (fills .whl/)
# then on the device machine (carry [".whl"]), one part per call:
#
#   bash benchmarks/gpu_suite.sh steps       # GPU tests + step time: reference vs default + ablation
#   bash benchmarks/gpu_suite.sh search      # 10 real paper-protocol episodes + 100-episode projection
#   bash benchmarks/gpu_suite.sh throughput  # env steps per minute, 1, 2, 4, 8 envs on one GPU (threads + streams)
#   bash benchmarks/gpu_suite.sh throughput-subproc   # the same with one process per env (optional)
#   WORKERS=24 MINUTES=6 bash benchmarks/gpu_suite.sh finals   # final protocol v2 rows, many at once
#   MINUTES=8 bash benchmarks/gpu_suite.sh searches   # docs/validity.md's searches, one process each
#
# Results go to $OUT (default: out/). PRESET=tiny DEVICE=cpu runs the same on CPU in seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PART="${1:?usage: gpu_suite.sh steps|search|throughput|throughput-subproc|finals|searches}"
OUT="${OUT:-out}"
PRESET="${PRESET:-paper}"
DEVICE="${DEVICE:-auto}"
mkdir -p "$OUT"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
log() { echo "[gpu_suite $(date +%T)] $*"; }
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU"
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; } | tee "$OUT/machine.txt"

case "$PART" in
steps)
    log "GPU tests"
    python3 -m pytest -q -p no:cacheprovider --continue-on-collection-errors -m gpu tests/ 2>&1 | tail -15 | tee "$OUT/gpu_tests.txt" || true
    log "step time ($PRESET)"
    timeout 480 python3 -m benchmarks.step_time --preset "$PRESET" --device "$DEVICE" --ablate \
        --out "$OUT/step_time.json" --md "$OUT/step_time.md" 2>&1 | grep -v Warning | tee "$OUT/step_time.log"
    ;;
search)
    log "search: 10 episodes ($PRESET) + projection"
    timeout 570 python3 -m benchmarks.search_time --preset "$PRESET" --device "$DEVICE" --episodes 10 \
        --no-progress --run-dir "$OUT/search_runs" --out "$OUT/search_time.json" --md "$OUT/search_time.md" 2>&1 | tee "$OUT/search_time.log"
    ;;
throughput | throughput-subproc)
    backend=thread
    [ "$PART" = throughput-subproc ] && backend=subproc
    log "throughput ($PRESET, $backend)"
    timeout 570 python3 -m benchmarks.throughput --preset "$PRESET" --device "$DEVICE" --envs 1,2,4,8 \
        --steps-per-env 3 --backend "$backend" --out "$OUT/throughput_$backend.json" \
        --md "$OUT/throughput_$backend.md" 2>&1 | tee "$OUT/throughput_$backend.log"
    ;;
finals)
    # Final protocol v2 rows built many at once: WORKERS builder processes share the GPU (each
    # a tiny gf 16 / df 16 GAN that cannot fill it alone), each stops taking new rows after
    # MINUTES; the rows (with their curves and the GPU's name) come back as an export to commit
    # and restore here (build_finals.py --restore). FINALS_ARGS picks the rows (default: the
    # uniform sample and the published architectures, seed 0; the committed rows are skipped).
    WORKERS="${WORKERS:-16}"
    MINUTES="${MINUTES:-6}"
    FINALS_ARGS="${FINALS_ARGS:---archs 150 --extra e2gan,autogan --seeds 0}"
    log "finals: $WORKERS workers for $MINUTES minutes ($FINALS_ARGS)"
    # the committed rows first, so that no worker trains one again
    python3 scripts/build_finals.py --config final-fmnist-v2 --store "$OUT/finals_v2_gpu.sqlite" \
        --restore docs/validity/finals_v2.json --export "$OUT/restored.json" > "$OUT/finals_restore.log" 2>&1
    for w in $(seq 0 $((WORKERS - 1))); do
        # a worker still training at MINUTES + 2 is stopped (its row is lost, the others are
        # stored), so that the export below runs inside one device call
        OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 timeout $((MINUTES * 60 + 120)) python3 scripts/build_finals.py \
            --config final-fmnist-v2 --set device="${FINALS_DEVICE:-cuda}" $FINALS_ARGS --store "$OUT/finals_v2_gpu.sqlite" \
            --runs "$OUT/runs" --worker "$w" --workers "$WORKERS" --minutes "$MINUTES" > "$OUT/finals_w$w.log" 2>&1 &
    done
    wait || true
    python3 scripts/build_finals.py --config final-fmnist-v2 --store "$OUT/finals_v2_gpu.sqlite" \
        --export "$OUT/finals_v2_gpu.json" | tee "$OUT/finals_export.log"
    rm -rf "$OUT/runs"
    ;;
searches)
    # The searches of docs/validity.md's "Does the search beat random search?" (SAC and random
    # search, SEEDS each, real proxy training under SEARCH_CONFIG): one scripts/validity_searches.py
    # process per search, all at once (a tiny proxy cannot fill the GPU alone), each stopped after
    # MINUTES (timeout signals the search's whole process group). The finished ones come back as
    # an export to commit (docs/validity/searches_TAG.json), then build_finals.py --extra-from
    # trains their bests; an unfinished one is not exported (its run folder comes back without
    # its TensorBoard logs). Searches the committed export already holds are not run again, and
    # the export returned merges them, ready to commit in its place.
    SEARCH_CONFIG="${SEARCH_CONFIG:-search-fmnist-d256}"
    TAG="${TAG:-d256}"
    SEEDS="${SEEDS:-0,1,2,3,4}"
    EPISODES="${EPISODES:-100}"
    MINUTES="${MINUTES:-8}"
    common=(--config "$SEARCH_CONFIG" --tag "$TAG" --episodes "$EPISODES" --runs "$OUT/searches"
            --set device="${SEARCH_DEVICE:-cuda}")
    committed="docs/validity/searches_$TAG.json"
    [ "$TAG" = proxy ] && committed=docs/validity/searches.json
    skip=()
    if [ -f "$committed" ]; then
        cp "$committed" "$OUT/searches_$TAG.json"
        skip=(--skip-exported "$committed")
    fi
    log "searches: $SEARCH_CONFIG (tag $TAG), seeds $SEEDS, $EPISODES episodes, $MINUTES minutes"
    for seed in ${SEEDS//,/ }; do
        for algo in sac random; do
            OMP_NUM_THREADS=1 timeout $((MINUTES * 60)) python3 scripts/validity_searches.py "${common[@]}" "${skip[@]}" \
                --seeds "$seed" --algos "$algo" > "$OUT/search_${algo}_s$seed.log" 2>&1 &
        done
    done
    wait || true
    python3 scripts/validity_searches.py "${common[@]}" --seeds "$SEEDS" --export "$OUT/searches_$TAG.json" \
        | tee "$OUT/searches_export.log"
    find "$OUT/searches" -name tb -type d -prune -exec rm -rf {} +
    ;;
*)
    echo "unknown part $PART: use steps, search, throughput, throughput-subproc, finals or searches" >&2
    exit 2
    ;;
esac
log "done"
