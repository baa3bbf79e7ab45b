#!/usr/bin/env python3
"""Writes the Hugging Face Trainer fixtures under hf/ (standard library only;
transformers itself is not installable here).

The files are written the way TrainerState.save_to_json does it
(src/transformers/trainer_callback.py): json.dumps(dataclasses.asdict(state),
indent=2, sort_keys=True) + "\\n", so NaN and infinity come out bare (NaN,
Infinity). Log entries follow Trainer.log (src/transformers/trainer.py):
training logs carry loss, grad_norm, learning_rate, epoch, step; evaluation
logs eval_*; the end of train() adds train_runtime, train_loss, total_flos.
Checkpoints go to checkpoint-{global_step}/ (PREFIX_CHECKPOINT_DIR in
src/transformers/trainer_utils.py); the root trainer_state.json is what
trainer.save_state() writes at the end.

  hf/checkpoint-500/trainer_state.json   global_step 500 (grad_norm NaN at 300)
  hf/checkpoint-1000/trainer_state.json  global_step 1000 (grad_norm Infinity at 650)
  hf/trainer_state.json                  the final state: checkpoint-1000 plus the
                                         train() summary entry
  hf/trainer_state-torn.json             checkpoint-1000's file cut at 55% of its
                                         bytes, as a reader sees it mid-write

Usage: gen_trainer_state.py [OUTDIR]   (default: the directory of this script)
"""
import json
import os
import sys

MAX_STEPS = 1000
EPOCHS = 2
LOGGING_STEPS = 50
EVAL_STEPS = 250


def log_history(upto, final=False):
    hist = []
    for step in range(LOGGING_STEPS, upto + 1, LOGGING_STEPS):
        epoch = step * EPOCHS / MAX_STEPS
        grad = round(1.5 / (1 + step / 200.0), 6)
        if step == 300:
            grad = float("nan")
        if step == 650:
            grad = float("inf")
        hist.append({
            "epoch": epoch,
            "grad_norm": grad,
            "learning_rate": 5e-05 * (1 - step / MAX_STEPS),
            "loss": round(3.0 / (1 + step / 100.0), 4),
            "step": step,
        })
        if step % EVAL_STEPS == 0:
            hist.append({
                "epoch": epoch,
                "eval_loss": round(2.9 / (1 + step / 120.0), 6),
                "eval_runtime": 12.3456,
                "eval_samples_per_second": 81.0,
                "eval_steps_per_second": 10.125,
                "step": step,
            })
    if final:
        hist.append({
            "epoch": float(EPOCHS),
            "step": upto,
            "total_flos": 1.2345678e15,
            "train_loss": 0.98765,
            "train_runtime": 1234.5678,
            "train_samples_per_second": 25.921,
            "train_steps_per_second": 0.81,
        })
    return hist


def state(global_step, final=False):
    return {
        "best_global_step": None,
        "best_metric": None,
        "best_model_checkpoint": None,
        "epoch": global_step * EPOCHS / MAX_STEPS,
        "eval_steps": EVAL_STEPS,
        "global_step": global_step,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": log_history(global_step, final),
        "logging_steps": LOGGING_STEPS,
        "max_steps": MAX_STEPS,
        "num_input_tokens_seen": 0,
        "num_train_epochs": EPOCHS,
        "save_steps": 500,
        "stateful_callbacks": {
            "TrainerControl": {
                "args": {
                    "should_epoch_stop": False,
                    "should_evaluate": False,
                    "should_log": False,
                    "should_save": True,
                    "should_training_stop": final,
                },
                "attributes": {},
            }
        },
        "total_flos": 1234567890.0 * global_step,
        "train_batch_size": 8,
        "trial_name": None,
        "trial_params": None,
    }


def save_to_json(st, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = json.dumps(st, indent=2, sort_keys=True) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    hf = os.path.join(out, "hf")
    save_to_json(state(500), os.path.join(hf, "checkpoint-500", "trainer_state.json"))
    text = save_to_json(state(1000), os.path.join(hf, "checkpoint-1000", "trainer_state.json"))
    save_to_json(state(1000, final=True), os.path.join(hf, "trainer_state.json"))
    raw = text.encode("utf-8")
    with open(os.path.join(hf, "trainer_state-torn.json"), "wb") as f:
        f.write(raw[: len(raw) * 55 // 100])


if __name__ == "__main__":
    main()
