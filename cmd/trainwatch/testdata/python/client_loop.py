"""A training loop of N steps logging every step with the trainwatch Python
client; prints the mean cost of log() in microseconds."""
import sys
import time

import trainwatch

run_id, steps = sys.argv[1], int(sys.argv[2])
run = trainwatch.init(name="e2e loop", id=run_id, total_steps=steps, config={"lr": 1e-3})
t0 = time.perf_counter()
for i in range(steps):
    run.log({"loss": 1.0 / (i + 1), "lr": 1e-3}, step=i + 1)
dt = time.perf_counter() - t0
run.finish()
print(f"PERCALL_US {dt / steps * 1e6:.3f}")
