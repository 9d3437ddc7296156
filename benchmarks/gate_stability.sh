#!/usr/bin/env bash
# Is the gate's verdict stable? Convert the shipped reference model RUNS times (default 5) and gate each
# report against the thresholds and against the first run's report as the baseline, in the default
# (interval) mode and in --strict mode. Prints one line per run; a stable gate prints the same verdict
# every time. Not run by the tests (each run is a full conversion: about 2-3 minutes on 2 cores).
#
#   benchmarks/gate_stability.sh                       # 5 runs, every int8 target
#   RUNS=3 TARGETS=tflite-int8 benchmarks/gate_stability.sh
#   BASELINE=earlier/baseline.json benchmarks/gate_stability.sh   # gate every run against this report
set -euo pipefail

RUNS=${RUNS:-5}
TARGETS=${TARGETS:-tflite-int8,onnx-int8,openvino-int8}
WORK=${WORK:-$(mktemp -d -t gate-stability-XXXXXX)}
BASELINE=${BASELINE:-}
echo "targets: $TARGETS; work folder: $WORK"

summary() {  # verdict and counts of a gate result JSON, on one line
  python - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n = r["counts"]
bad = [f"{c['target']}:{c['check']}={c['verdict']}" for c in r["checks"] if c["verdict"] in ("fail", "warn", "improved")]
print(f"{r['verdict']:4s} (fail {n['fail']}, warn {n['warn']}, improved {n['improved']}, pass {n['pass']})"
      + (f"  {' '.join(bad)}" if bad else ""))
PY
}

for i in $(seq 1 "$RUNS"); do
  out="$WORK/run$i"
  start=$(date +%s)
  edge-inception convert --target "$TARGETS" --out "$out" --force --json > "$out.convert.json" 2> "$out.convert.log" \
    || { echo "run $i: convert failed (see $out.convert.log)"; continue; }
  if [ -n "$BASELINE" ]; then cp "$BASELINE" "$WORK/baseline.json"
  elif [ ! -f "$WORK/baseline.json" ]; then cp "$out/report.json" "$WORK/baseline.json"; fi
  set +e
  edge-inception gate "$out" --baseline "$WORK/baseline.json" --json > "$out.gate.json" 2> /dev/null; code=$?
  edge-inception gate "$out" --baseline "$WORK/baseline.json" --json --strict > "$out.strict.json" 2> /dev/null; scode=$?
  set -e
  echo "run $i ($(( $(date +%s) - start )) s): gate exit $code: $(summary "$out.gate.json")"
  echo "        strict exit $scode: $(summary "$out.strict.json")"
done
