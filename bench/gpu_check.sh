#!/usr/bin/env bash
# Everything issue 4 checks on a GPU machine, in one call (the device tool lends one for minutes):
#   1. the GPU benchmark (python -m bench.gpu): the engine on CuPy against torch on CUDA; and where CUDA starts
#      to pay for engine.evaluate (python -m bench.gpu_crossover);
#   2. the service with GRADSERVE_BACKEND=cupy, over real HTTP (tests/app/test_cuda_gpu.py), and
#      engine.evaluate on CuPy against NumPy (tests/engine/test_backend.py);
#   3. the engine's op-table suite on CuPy (tests/engine/test_ops.py: its cupy half);
#   4. every CuPy failure re-run on NumPy on the same machine, to tell a CuPy problem (NumPy passes)
#      from a difference of the machine's torch (NumPy fails too: the oracle there is not 2.13).
# Usage: bench/gpu_check.sh OUTDIR [SUITE_SECONDS]. Wheels for what the image lacks (FastAPI, Pydantic, ...)
# are installed from .whl/ when present. Logs and JSON land in OUTDIR; the last lines printed are the tables.
set -u
OUT=${1:?usage: bench/gpu_check.sh OUTDIR [SUITE_SECONDS]}
SUITE_S=${2:-240}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site
fi
nvidia-smi -L | tee "$OUT/machine.txt"
python3 -c "import cupy, torch, numpy, sys; print('cupy', cupy.__version__, 'torch', torch.__version__,
  'numpy', numpy.__version__, 'python', sys.version.split()[0])" | tee -a "$OUT/machine.txt"

echo "== 1. bench.gpu"
python3 -m bench.gpu --rounds 30 --json "$OUT/gpu_bench.json" 2>&1 | tee "$OUT/gpu_bench.txt"

echo "== 1b. bench.gpu_crossover (where device auto should pick CUDA)"
python3 -m bench.gpu_crossover 2>&1 | tee "$OUT/gpu_crossover.txt"

echo "== 2. service on CuPy; engine.evaluate on CuPy"
python3 -m pytest -o addopts= -q -rfEs -p no:cacheprovider tests/app/test_cuda_gpu.py tests/engine/test_backend.py 2>&1 | tee "$OUT/app_gpu.log" | tail -15

echo "== 3. op table on CuPy (at most ${SUITE_S}s)"
GRADSERVE_TEST_FULL=1 timeout -s INT "$SUITE_S" python3 -m pytest -o addopts= -q -rfE -p no:cacheprovider -n 16 -k cupy \
  --junitxml="$OUT/cupy.xml" tests/engine/test_ops.py > "$OUT/cupy.log" 2>&1
echo "pytest exit: $?"; tail -3 "$OUT/cupy.log"

echo "== 4. CuPy failures re-run on NumPy"
python3 - "$OUT" <<'EOF'
import re, subprocess, sys, xml.etree.ElementTree as ET
out = sys.argv[1]
try:
    root = ET.parse(f"{out}/cupy.xml").getroot()
except (OSError, ET.ParseError) as e:
    sys.exit(f"no junit xml: {e}")
failed = []
for case in root.iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        path = case.get("classname").replace(".", "/") + ".py"
        failed.append(f"{path}::{case.get('name')}")
print(f"{len(failed)} CuPy failures")
twins = [re.sub(r"\[cupy-", "[numpy-", f) for f in failed if "[cupy-" in f]
if not twins:
    sys.exit(0)
r = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider", "-n", "16",
                    f"--junitxml={out}/numpy_twins.xml", *twins], capture_output=True, text=True)
open(f"{out}/numpy_twins.log", "w").write(r.stdout + r.stderr)
root = ET.parse(f"{out}/numpy_twins.xml").getroot()
np_failed = {f"{c.get('classname').replace('.', '/')}.py::{c.get('name')}".replace("[numpy-", "[cupy-")
             for c in root.iter("testcase") if c.find("failure") is not None or c.find("error") is not None}
cupy_only = [f for f in failed if f not in np_failed]
print(f"of which {len(np_failed)} fail on NumPy too (the machine's torch), {len(cupy_only)} on CuPy only:")
for f in cupy_only[:60]:
    print("  ", f)
open(f"{out}/cupy_only.txt", "w").write("\n".join(cupy_only) + "\n")
EOF
echo "== bench tables"
cat "$OUT/gpu_bench.txt" "$OUT/gpu_crossover.txt"
