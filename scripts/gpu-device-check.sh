#!/usr/bin/env bash
# One short check of the real NVML path on a machine with an NVIDIA GPU
# (the device tool runs it there): build trainwatch, print `summary --json`,
# then run `serve` for 60 s while a PyTorch matmul loop loads GPU 0, saving
# /metrics every 10 s. Results go to $OUT (default ./gpu-check-out).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check-out}
mkdir -p "$out"
nvidia-smi -L > "$out/nvidia-smi.txt" 2>&1 || true
go build -o "$out/trainwatch" ./cmd/trainwatch
"$out/trainwatch" version | tee "$out/version.txt"
"$out/trainwatch" summary --json > "$out/summary-idle.json"
"$out/trainwatch" summary --color never > "$out/summary-idle.txt" || true

load_pid=""
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  python3 - <<'PY' > "$out/load.log" 2>&1 &
import time, torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
end = time.time() + 75
while time.time() < end:
    for _ in range(50):
        c = a @ b
    torch.cuda.synchronize()
print("done")
PY
  load_pid=$!
else
  echo "no PyTorch with CUDA here: serving an idle GPU" | tee "$out/load.log"
fi

"$out/trainwatch" serve --listen 127.0.0.1:19835 --data-dir "$out/data" > "$out/serve.log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid ${load_pid} 2>/dev/null || true' EXIT
sleep 5
for i in 1 2 3 4 5 6; do
  curl -s 127.0.0.1:19835/metrics > "$out/metrics-$i.txt"
  curl -s 127.0.0.1:19835/api/v1/snapshot > "$out/snapshot-$i.json"
  sleep 10
done
"$out/trainwatch" summary --url http://127.0.0.1:19835 --color never > "$out/summary-loaded.txt"
kill -INT $serve_pid; wait $serve_pid || true
grep -E '^(DCGM_FI_DEV_GPU_UTIL|DCGM_FI_DEV_FB_USED|DCGM_FI_DEV_POWER_USAGE|DCGM_FI_PROF_PIPE_TENSOR_ACTIVE|trainwatch_gpu_process_memory_bytes|trainwatch_gpu_backend_up)' "$out/metrics-6.txt" | head -40
cat "$out/summary-loaded.txt"
rm -f "$out/trainwatch"
