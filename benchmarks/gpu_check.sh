#!/usr/bin/env bash
# One GPU call that runs every GPU test and the benchmarks, for a GPU machine with PyTorch, Triton and CuPy but
# no network. Carry the wheels of openai/pydantic/tenacity in .whl (../shared/tools/wheelhouse.sh .whl).
#
#   bash benchmarks/gpu_check.sh            # setup + GPU tests + evaluator benchmark + ffn/rmsnorm benchmarks
#   bash benchmarks/gpu_check.sh tests      # only some stages (setup is implied);
#                                           # stages: tests eval tune ffn run contention probe fused layout balance
#                                           #         inflight order mid midtma inductor evict tiny large norm tmadiag bench
#                                           #         refresh search harvest
#   GPU_TESTS="tests/test_a.py tests/test_b.py" bash benchmarks/gpu_check.sh tests   # a subset of the GPU tests
#   TEMPLATE_GROUPS=small_fused,small_launch ... tests   # tests/test_templates_gpu.py over those groups only
#   bash benchmarks/gpu_check.sh refresh bench   # the library's template kernels rendered again, then timed
#   RUN_MINUTES=3 bash benchmarks/gpu_check.sh run   # the search-speed benchmark with a shorter budget (default 4)
#   PROBE_ARGS="--samples 8" bash benchmarks/gpu_check.sh probe   # benchmarks/experiments/stream_probe.py
#   FUSED_ARGS="--samples 4" bash benchmarks/gpu_check.sh fused   # benchmarks/experiments/fused_probe.py
#   LAYOUT_ARGS="--ms 1,16" bash benchmarks/gpu_check.sh layout   # benchmarks/experiments/layout_probe.py
#   BALANCE_ARGS="--kernels-only" bash benchmarks/gpu_check.sh balance   # benchmarks/experiments/balance_probe.py
#   INFLIGHT_ARGS="--ms 1" bash benchmarks/gpu_check.sh inflight   # benchmarks/experiments/inflight_probe.py
#   ORDER_ARGS="--kernels-only" bash benchmarks/gpu_check.sh order   # benchmarks/experiments/order_probe.py
#   MID_ARGS="--ms 128" bash benchmarks/gpu_check.sh mid   # benchmarks/experiments/mid_probe.py
#   INDUCTOR_ARGS="--ms 1" bash benchmarks/gpu_check.sh inductor   # benchmarks/experiments/inductor_probe.py
#   EVICT_ARGS="--ms 1,16" bash benchmarks/gpu_check.sh evict   # benchmarks/experiments/evict_probe.py
#   TINY_ARGS="--ms 1" bash benchmarks/gpu_check.sh tiny   # benchmarks/experiments/tiny_probe.py
#   LARGE_ARGS="--ms 4096" bash benchmarks/gpu_check.sh large   # benchmarks/experiments/large_probe.py
#   MIDTMA_ARGS="--ms 128,1024" bash benchmarks/gpu_check.sh midtma   # benchmarks/experiments/mid_tma_probe.py
#   NORM_ARGS="--ms 4096" bash benchmarks/gpu_check.sh norm   # benchmarks/experiments/norm_probe.py
#   RUN_ARGS="--jit-inside-lock --tag jit-inside" bash benchmarks/gpu_check.sh run   # options of run_speed.py
#   SEARCH="llama3-8b-ffn:6 llama3-8b-rmsnorm:1.5" bash benchmarks/gpu_check.sh search   # agentopt run (minutes
#        each) with the template coder, then agentopt harvest into kernels/library and agentopt library bench;
#        SEARCH_ARGS=--no-library-seeds for a search from scratch (what issue 7's time budget is about).
#        A call lasts at most 10 minutes, so a longer search spans calls on the warm machine: SEARCH_HARVEST=0 to
#        stop after the search, then SEARCH_RESUME=1 to continue each problem's latest run in runs/ for its minutes
#   HARVEST_RUNS="runs/RUN_ID" bash benchmarks/gpu_check.sh harvest bench   # agentopt harvest of those runs
#        (carry them: runs/ is not in git; default: the newest run in runs/)
#
# Logs go to $LOGDIR (default /tmp/agentopt-gpu-check), results JSON to benchmarks/results/; where $OUT is set
# (the device tool), both come back as $OUT/gpu_check.tgz. A summary table is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${LOGDIR:-/tmp/agentopt-gpu-check}
mkdir -p "$LOGDIR"
stages=${*:-tests eval ffn}
export PYTHONUNBUFFERED=1

if [ -d .whl ] && ! python3 -c "import pydantic, openai, tenacity" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} || exit 1
fi
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . >"$LOGDIR/install.log" 2>&1 \
  || { echo "install failed"; tail -20 "$LOGDIR/install.log"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$LOGDIR/gpu.txt"

summary=()
stage() {  # name, command...
  local name=$1; shift
  local t0=$SECONDS
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$LOGDIR/$name.log"
  local rc=${PIPESTATUS[0]}
  summary+=("$(printf '%-8s rc=%-3s %4ss  %s' "$name" "$rc" $((SECONDS - t0)) "$(tail -n 1 "$LOGDIR/$name.log" | cut -c1-90)")")
}

for s in $stages; do
  case $s in
    tests) stage tests python3 -m pytest -q -rs -m gpu ${GPU_TESTS:-tests/} ;;
    eval) stage eval python3 benchmarks/eval_speed.py ;;
    tune) stage tune python3 benchmarks/tune_templates.py ;;
    ffn) stage ffn python3 benchmarks/ffn.py
         stage rmsnorm python3 benchmarks/ffn.py --problem llama3-8b-rmsnorm ;;
    run) stage run python3 benchmarks/run_speed.py --minutes "${RUN_MINUTES:-4}" ${RUN_ARGS:-} ;;
    contention) stage contention python3 benchmarks/run_contention.py ;;
    probe) stage probe python3 benchmarks/experiments/stream_probe.py ${PROBE_ARGS:-} ;;
    fused) stage fused python3 benchmarks/experiments/fused_probe.py ${FUSED_ARGS:-} ;;
    layout) stage layout python3 benchmarks/experiments/layout_probe.py ${LAYOUT_ARGS:-} ;;
    balance) stage balance python3 benchmarks/experiments/balance_probe.py ${BALANCE_ARGS:-} ;;
    inflight) stage inflight python3 benchmarks/experiments/inflight_probe.py ${INFLIGHT_ARGS:-} ;;
    order) stage order python3 benchmarks/experiments/order_probe.py ${ORDER_ARGS:-} ;;
    mid) stage mid python3 benchmarks/experiments/mid_probe.py ${MID_ARGS:-} ;;
    midtma) stage midtma python3 benchmarks/experiments/mid_tma_probe.py ${MIDTMA_ARGS:-} ;;
    inductor) stage inductor python3 benchmarks/experiments/inductor_probe.py ${INDUCTOR_ARGS:-} ;;
    evict) stage evict python3 benchmarks/experiments/evict_probe.py ${EVICT_ARGS:-} ;;
    tiny) stage tiny python3 benchmarks/experiments/tiny_probe.py ${TINY_ARGS:-} ;;
    large) stage large python3 benchmarks/experiments/large_probe.py ${LARGE_ARGS:-} ;;
    norm) stage norm python3 benchmarks/experiments/norm_probe.py ${NORM_ARGS:-} ;;
    tmadiag) stage tmadiag python3 benchmarks/experiments/tma_diag.py ${TMADIAG_ARGS:-} ;;
    bench) stage bench agentopt library bench --device cuda ;;
    refresh) stage refresh agentopt library refresh --device cuda ;;
    harvest) for r in ${HARVEST_RUNS:-$(ls -td runs/*/ | head -1)}; do stage harvest agentopt harvest "$r"; done ;;
    search) for item in ${SEARCH:-llama3-8b-ffn:6}; do
              p=${item%%:*}; m=${item##*:}
              if [ "${SEARCH_RESUME:-0}" = 1 ]; then
                stage "run-$p" agentopt run --resume "$(ls -td runs/*"$p"* | head -1)" --coder template \
                  --budget-minutes "$m"
              else
                stage "run-$p" agentopt run --model "$p" --coder template --budget-minutes "$m" --runs-dir runs \
                  ${SEARCH_ARGS:-}
              fi
              [ "${SEARCH_HARVEST:-1}" = 1 ] && stage "harvest-$p" agentopt harvest "$(ls -td runs/*"$p"* | head -1)"
            done
            [ "${SEARCH_HARVEST:-1}" = 1 ] && stage bench agentopt library bench --device cuda ;;
    *) echo "unknown stage $s (the stages are listed at the top of benchmarks/gpu_check.sh)"; exit 2 ;;
  esac
done
[ -n "${OUT:-}" ] && tar czf "$OUT/gpu_check.tgz" -C "$LOGDIR" . -C "$PWD" benchmarks/results kernels/library \
  $(ls -d runs/*/ 2>/dev/null)
echo; echo "=== summary ($(cat "$LOGDIR/gpu.txt"))"
printf '%s\n' "${summary[@]}"
