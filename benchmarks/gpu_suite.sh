#!/usr/bin/env bash
# The GPU measurements of the performance issue, in parts that each fit one device call
# (10 minutes). Run here first:  bash benchmarks/gpu_wheels.sh   (fills .whl/ and .gpu_data/)
# then on the device machine (carry [".whl", ".gpu_data"]), one part per call (the copy's .git
# there is the session's base commit: set GAN_NAS_GIT_SHA=$(git rev-parse HEAD) in the call so
# that the reports name the commit the tree came from):
#
#   bash benchmarks/gpu_suite.sh steps       # GPU tests + step time: reference vs default + ablation
#   bash benchmarks/gpu_suite.sh search      # 10 real paper-protocol episodes + 100-episode projection
#   bash benchmarks/gpu_suite.sh throughput  # env steps per minute, 1, 2, 4, 8 envs on one GPU (threads + streams)
#   bash benchmarks/gpu_suite.sh throughput-subproc   # the same with one process per env (optional)
#   WORKERS=10 MINUTES=8 bash benchmarks/gpu_suite.sh finals   # final protocol v2 rows, many at once;
#       or, a row over two calls: WORKERS=12 MINUTES=14 CALL_S=560 ... finals-detach, then at once
#       STOP_IN=<s> WORKERS=6 MINUTES=14 ... finals-collect
#       then here: rm -rf state/finals_v2_gpu && mkdir -p state/finals_v2_gpu &&
#       cat <files_at>/finals_wip.tar.gz* | tar xz -C state/finals_v2_gpu   (commit it: the next call resumes it)
#   MINUTES=8 bash benchmarks/gpu_suite.sh searches   # docs/validity.md's searches, one process each
#
# Results go to $OUT (default: out/). PRESET=tiny DEVICE=cpu runs the same on CPU in seconds.
set -euo pipefail
T_CALL=$(date +%s)  # finals-detach keeps its call busy until CALL_S seconds after this
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PART="${1:?usage: gpu_suite.sh steps|search|throughput|throughput-subproc|finals|finals-detach|finals-collect|searches}"
OUT="${OUT:-out}"
WORK_GIVEN="${WORK:-}"
WORK="${WORK:-$(mktemp -d /tmp/gpu_suite.XXXX)}"  # scratch: few files may come back from $OUT
PRESET="${PRESET:-paper}"
DEVICE="${DEVICE:-auto}"
mkdir -p "$OUT"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    # once per machine: a second call must not replace the packages under workers still running
    stamp="$(ls .whl/*.whl | md5sum | cut -c1-32)"
    if [ "$(cat /tmp/site/.gpu_suite_wheels 2>/dev/null)" != "$stamp" ]; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
        mkdir -p /tmp/site && echo "$stamp" > /tmp/site/.gpu_suite_wheels
    fi
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
log() { echo "[gpu_suite $(date +%T)] $*"; }
need_data() {  # the finals and searches parts train on the offline Fashion-MNIST
    [ -d /usr/share/datasets/fashion-mnist ] || ls .gpu_data/fashion-mnist/train-images-idx3-ubyte* >/dev/null 2>&1 || {
        echo "gpu_suite $PART: no Fashion-MNIST here (/usr/share/datasets/fashion-mnist) and none carried:" \
             "run 'bash benchmarks/gpu_wheels.sh' on the sending machine and carry .gpu_data" >&2
        exit 2
    }
}
overrides() {  # sets=(--set ...): the device, the carried data where the machine has none (in
    # folder $3, default the carried .gpu_data), extras
    sets=(--set device="$1")
    [ -d /usr/share/datasets/fashion-mnist ] || sets+=(--set data.root="${3:-$PWD/.gpu_data}/fashion-mnist")
    local kv
    for kv in $2; do sets+=(--set "$kv"); done
}
gpu_tests() {
    # each GPU test in its own process: a failed graph capture leaves the CUDA RNG mid-capture,
    # which failed every later test of the same process on the first GPU (docs/performance.md)
    local ids t rc=0
    ids=$(python3 -m pytest -q -p no:cacheprovider --collect-only -m gpu tests/ 2>/dev/null | grep '::' || true)
    for t in $ids; do
        python3 -m pytest -q -p no:cacheprovider -m gpu "$t" 2>&1 | tail -40 || rc=1
    done
    echo "gpu tests: $(echo "$ids" | grep -c '::') run, one process each"
    return $rc
}
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU"
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; } | tee "$OUT/machine.txt"

case "$PART" in
steps)
    log "GPU tests"
    gpu_tests > "$OUT/gpu_tests.txt" 2>&1 || true
    grep -E "passed|failed|error" "$OUT/gpu_tests.txt" | tail -20 || true
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
finals | finals-detach | finals-collect)
    # Final protocol v2 rows built many at once: WORKERS builder processes share the GPU (each
    # a tiny gf 16 / df 16 GAN that cannot fill it alone) and one list of rows: every worker
    # takes the next row no other has claimed (build_finals.py --claim), trainings under way
    # first, so the rows are made in the list's order; THREADS (default 1) rows at once in each
    # worker, one CUDA stream each (build_finals.py --threads); with FINISH_BY (minutes) a worker
    # starts no row that would end after it (fewer paused rows to return). After MINUTES every worker is stopped
    # (SIGTERM: it saves a checkpoint at the iteration it is in), since one row can outlast a
    # device call there (docs/perf/final_rows_gpu.md): the unfinished trainings come back as
    # finals_wip.tar.gz, to unpack into WIP (default state/finals_v2_gpu) and commit; the next
    # call (this session's or a later one's, on the same kind of device) resumes them from
    # there. The finished rows (with their curves and the GPU's name) come back as an export to
    # restore here (build_finals.py --restore), with finals_run.json (the window, the workers,
    # the rows made) and the logs. FINALS_ARGS picks the rows (default: the GPU's share,
    # scripts/rows_v2_gpu.txt, which the CPU builders leave alone, then the unmeasured bests of
    # scripts/rows_v2_bests_gpu.txt, then scripts/rows_v2_gpu_next.txt; the committed rows are skipped). GRAPH_CHECK=1 (default) first runs the GPU test
    # and the speed of the retraining iteration as one CUDA graph; if the test fails the workers
    # train eagerly. THREADS=auto lets that check's stream timings pick the layout for WORKERS
    # rows in flight (benchmarks/final_row_speed_gpu.py pick: e.g. 2 workers x 8 rows when 8
    # graphed rows on 8 streams beat one by 1.5x; else WORKERS x 1); collect reads the layout
    # the window started with.
    #
    # One row outlasts one call (10 minutes) but fits in two: `finals-detach` starts the
    # workers in their own process session (they outlive the call, while the machine is held)
    # and keeps the call busy until CALL_S seconds after it began (default 560: a call may run
    # 600); `finals-collect`, the next call (within the
    # machine's 30 s idle release), waits until every worker is done or STOP_IN seconds have
    # passed, stops the rest (SIGTERM: a checkpoint) and returns what `finals` returns. The
    # two calls share WORK (default /tmp/gpu_finals), which holds a copy of the tree the
    # workers run from (the next call replaces the checkout under them).
    WORKERS="${WORKERS:-10}"
    MINUTES="${MINUTES:-8}"
    WIP="${WIP:-state/finals_v2_gpu}"
    # the GPU's share first (its paused rows), the v2 benchmark's unmeasured bests from the back
    # (scripts/rows_v2_bests_gpu.txt; the CPU builders take them from the front), then the CPU's
    # list from its far end
    FINALS_ARGS="${FINALS_ARGS:---rows-from scripts/rows_v2_gpu.txt --rows-from scripts/rows_v2_bests_gpu.txt --rows-from scripts/rows_v2_gpu_next.txt}"
    FINALS_SET="${FINALS_SET:-}"   # extra --set overrides (a dry run: retrain.g_iters=20 ...)
    [ "$PART" = finals ] || WORK="${WORK_GIVEN:-/tmp/gpu_finals}"
    need_data
    [[ "$WORKERS" =~ ^[0-9]+$ && "$MINUTES" =~ ^[0-9]+$ ]] || {
        echo "gpu_suite finals: WORKERS and MINUTES must be whole numbers (got '$WORKERS', '$MINUTES')" >&2; exit 2; }
    [[ "${THREADS:-1}" =~ ^([1-9][0-9]*|auto)$ ]] || {
        echo "gpu_suite finals: THREADS must be a whole number >= 1 or auto (got '$THREADS')" >&2; exit 2; }
    # detached workers read their own copy of the code and data (WORK/src): the next call
    # replaces the checkout's, which a worker starting its next row could read half-written
    data_dir="$PWD/.gpu_data"
    [ "$PART" = finals ] || data_dir="$WORK/src/.gpu_data"
    overrides "${FINALS_DEVICE:-cuda}" "$FINALS_SET" "$data_dir"
    store="$WORK/finals_v2_gpu.sqlite"
    if [ "$PART" != finals-collect ] && [ "${GRAPH_CHECK:-1}" = 1 ]; then
        # the retraining iteration as one CUDA graph (train.cuda_graphs, on by default): its GPU
        # tests and its speed first. The workers train eagerly unless the graph tests pass, and
        # one row at a time unless the test of graphed rows in threads passes too.
        log "graph check: the GPU tests of the graphed retraining, of rows in threads, then benchmarks.final_row_speed_gpu"
        if timeout 200 python3 -m pytest -q -p no:cacheprovider -m gpu tests/training/test_retrain_graph.py \
                > "$OUT/graph_check.txt" 2>&1; then
            if ! timeout 120 python3 -m pytest -q -p no:cacheprovider -m gpu tests/scripts/test_build_finals.py \
                    >> "$OUT/graph_check.txt" 2>&1 && [ "${THREADS:-1}" != 1 ]; then
                log "graphed rows in threads failed their test: THREADS=1"
                THREADS=1
            fi
            root=()
            [ -d /usr/share/datasets/fashion-mnist ] || root=(--data-root "$PWD/.gpu_data/fashion-mnist")
            timeout 240 python3 -m benchmarks.final_row_speed_gpu --device "${FINALS_DEVICE:-cuda}" "${root[@]}" \
                --archs 2 --iters "${GRAPH_ITERS:-100}" --warmup "${GRAPH_WARMUP:-10}" --repeats 1 --streams 1,8 \
                --out "$OUT/final_row_speed_gpu.json" --md "$OUT/final_row_speed_gpu.md" >> "$OUT/graph_check.txt" 2>&1 || true
            if [ "${THREADS:-1}" = auto ]; then  # the layout from the streams just timed
                read -r WORKERS THREADS < <(python3 -m benchmarks.final_row_speed_gpu pick \
                    "$OUT/final_row_speed_gpu.json" --rows "$WORKERS")
                log "THREADS=auto: $WORKERS workers x $THREADS rows each (benchmarks.final_row_speed_gpu pick)"
            fi
        else
            log "graph check failed: the workers train eagerly (train.cuda_graphs=false)"
            sets+=(--set train.cuda_graphs=false)
        fi
        grep -E "passed|failed|error|ms/iter|streams" "$OUT/graph_check.txt" | tail -n 25 || true
    fi
    [ "${THREADS:-1}" = auto ] && THREADS=1  # no graph check, or it failed: one row per worker
    if [ "$PART" != finals-collect ]; then
        # a new window: the last one's state goes (only what this part writes there)
        rm -rf "$WORK"/{logs,runs,wip,src,claims,pids,window.env,finals_v2_gpu.sqlite,restored.json}
        mkdir -p "$WORK/logs" "$WORK/runs" "$WORK/wip" "$WORK/src"
        log "finals: $WORKERS workers for $MINUTES minutes ($FINALS_ARGS)"
        src="$PWD"
        if [ "$PART" = finals-detach ]; then  # the workers' own copy of the code and data
            tar cf - --exclude=__pycache__ gan_nas_env agents scripts configs benchmarks pyproject.toml \
                $( [ -d .gpu_data ] && echo .gpu_data ) | tar xf - -C "$WORK/src"
            src="$WORK/src"
        fi
        # the committed rows first, so that no worker trains one again; the trainings under way
        # (same layout: <key>/<row>) resumed where they were
        python3 scripts/build_finals.py --config final-fmnist-v2 "${sets[@]}" --store "$store" \
            --restore docs/validity/finals_v2.json --export "$WORK/restored.json" > "$WORK/logs/finals_restore.log" 2>&1
        [ -d "$WIP" ] && cp -r "$WIP"/. "$WORK/runs/"
        t_start=$(date +%s)
        # collect reads the layout this window started with (THREADS=auto may have changed it)
        printf 't_start=%s\nWORKERS=%s\nTHREADS=%s\n' "$t_start" "$WORKERS" "${THREADS:-1}" > "$WORK/window.env"
        launch=()
        [ "$PART" = finals-detach ] && launch=(setsid)
        # no process left holding the call's stdout: each one's streams go to a file
        (setsid nvidia-smi dmon -s u -d 10 > "$WORK/logs/dmon.txt" 2>&1 < /dev/null &) || true
        : > "$WORK/pids"
        for w in $(seq 0 $((WORKERS - 1))); do
            # SIGTERM after MINUTES (the worker pauses with a checkpoint), SIGKILL 60 s later;
            # --foreground: the signal (and collect's, forwarded) reaches the worker once, not
            # also through its process group
            (cd "$src" || exit 1
             PYTHONPATH="/tmp/site:$src" PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
                "${launch[@]}" timeout --foreground -k 60 $((MINUTES * 60)) \
                python3 scripts/build_finals.py --config final-fmnist-v2 "${sets[@]}" $FINALS_ARGS \
                --store "$store" --runs "$WORK/runs" --claim "$WORK/claims" --worker "$w" --workers "$WORKERS" \
                --threads "${THREADS:-1}" ${FINISH_BY:+--finish-by "$FINISH_BY"} \
                > "$WORK/logs/finals_w$w.log" 2>&1 < /dev/null &
             echo $! >> "$WORK/pids")
        done
        if [ "${GPU_TESTS:-0}" = 1 ]; then  # the GPU tests, on a core left over
            (export -f gpu_tests; timeout 400 bash -c gpu_tests > "$OUT/gpu_tests.txt" 2>&1) || true
        fi
    fi
    alive() { local p n=0; for p in $(cat "$WORK/pids"); do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done; echo $n; }
    progress() {  # each worker's last line: its row and iteration
        for f in "$WORK"/logs/finals_w*.log; do
            echo "$(basename "$f"): $(grep -aoE '\[row\] [^[]*|\[retrain\] iter [0-9]+' "$f" | tail -n 2 | tr '\n' ' ')"
        done
    }
    if [ "$PART" = finals-detach ]; then
        # keep the call (and so the machine) busy; the workers run on after it
        until_s=$((T_CALL + ${CALL_S:-560}))
        while [ "$(date +%s)" -lt "$until_s" ] && [ "$(alive)" -gt 0 ]; do sleep 5; done
        log "$(( $(date +%s) - T_CALL )) s into the call: $(alive) of $WORKERS workers running"
        progress
        log "now, within 30 s: STOP_IN=<seconds> bash benchmarks/gpu_suite.sh finals-collect (same WORKERS, MINUTES)"
        exit 0
    fi
    [ -f "$WORK/window.env" ] || { echo "gpu_suite $PART: no workers were started in $WORK (run finals-detach first)" >&2; exit 2; }
    # shellcheck disable=SC1091
    . "$WORK/window.env"
    waited=0
    stop_in="${STOP_IN:-$((MINUTES * 60 + 60))}"
    while [ "$(alive)" -gt 0 ] && [ "$waited" -lt "$stop_in" ]; do sleep 5; waited=$((waited + 5)); done
    if [ "$(alive)" -gt 0 ]; then  # stop the rest: each saves its checkpoint on SIGTERM
        log "stopping $(alive) workers after ${waited} s"
        for p in $(cat "$WORK/pids"); do kill -TERM "$p" 2>/dev/null || true; done
        while [ "$(alive)" -gt 0 ]; do sleep 1; done
    fi
    wait || true
    t_end=$(date +%s)
    pkill -f "nvidia-smi dmon" || true
    progress
    python3 scripts/build_finals.py --config final-fmnist-v2 "${sets[@]}" --store "$store" --runs "$WORK/runs" \
        --export "$OUT/finals_v2_gpu.json" --wip "$WORK/wip" | tee "$OUT/finals_export.log"
    python3 benchmarks/final_rows_gpu.py window --before "$WORK/restored.json" --after "$OUT/finals_v2_gpu.json" \
        --workers "$WORKERS" --finish-by "$MINUTES" --t-start "$t_start" --t-end "$t_end" \
        --rows-args "$FINALS_ARGS --threads ${THREADS:-1}" --out "$OUT/finals_run.json"
    # at most 16 MiB a file comes back: the trainings under way in pieces when they are larger
    tar czf "$WORK/finals_wip.tar.gz" -C "$WORK/wip" .
    if [ "$(stat -c %s "$WORK/finals_wip.tar.gz")" -gt 15000000 ]; then
        split -b 15000000 -d "$WORK/finals_wip.tar.gz" "$OUT/finals_wip.tar.gz.part"
    else
        cp "$WORK/finals_wip.tar.gz" "$OUT/"
    fi
    tar czf "$OUT/logs.tar.gz" -C "$WORK" logs
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
    need_data
    overrides "${SEARCH_DEVICE:-cuda}" "${SEARCH_SET:-}"   # SEARCH_SET e.g. train.cuda_graphs=false
    common=(--config "$SEARCH_CONFIG" --tag "$TAG" --episodes "$EPISODES" --runs "$WORK/searches" "${sets[@]}")
    committed="docs/validity/searches_$TAG.json"
    [ "$TAG" = proxy ] && committed=docs/validity/searches.json
    skip=()
    if [ -f "$committed" ]; then
        cp "$committed" "$OUT/searches_$TAG.json"
        skip=(--skip-exported "$committed")
    fi
    mkdir -p "$WORK/logs"
    log "searches: $SEARCH_CONFIG (tag $TAG), seeds $SEEDS, $EPISODES episodes, $MINUTES minutes"
    for seed in ${SEEDS//,/ }; do
        for algo in sac random; do
            OMP_NUM_THREADS=1 timeout $((MINUTES * 60)) python3 scripts/validity_searches.py "${common[@]}" "${skip[@]}" \
                --seeds "$seed" --algos "$algo" > "$WORK/logs/search_${algo}_s$seed.log" 2>&1 &
        done
    done
    wait || true
    python3 scripts/validity_searches.py "${common[@]}" --seeds "$SEEDS" --export "$OUT/searches_$TAG.json" \
        | tee "$OUT/searches_export.log"
    # the run folders' reports (not their checkpoints or TensorBoard logs) with the logs, in one file
    find "$WORK/searches" \( -name tb -o -name checkpoint \) -type d -prune -exec rm -rf {} + 2>/dev/null || true
    tar czf "$OUT/searches_logs.tar.gz" -C "$WORK" logs $( [ -d "$WORK/searches" ] && echo searches )
    ;;
*)
    echo "unknown part $PART: use steps, search, throughput, throughput-subproc, finals or searches" >&2
    exit 2
    ;;
esac
log "done"
