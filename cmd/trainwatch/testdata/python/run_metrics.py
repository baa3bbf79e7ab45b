"""Child of the `trainwatch run` metrics tests: prints training output in
one style (argv[1]: tqdm, hf, lightning or kv), as those tools do, with a
NaN among the losses. Standard library only.

The losses are loss(step) = 2 / step, except a NaN at step 3 (tqdm, kv) or
in the third dict (hf); the tests compute the same.
"""
import sys
import time

style = sys.argv[1]


def loss(step):
    return float("nan") if step == 3 else 2.0 / step


if style == "tqdm":
    # tqdm writes its bar to stderr, redrawn with \r, postfix from
    # set_postfix(loss=...), a newline when the bar closes.
    for i in range(1, 9):
        sys.stderr.write("\rtrain:  %3d%%|%-10s| %d/8 [00:0%d<00:01, 10.00it/s, loss=%.4g]"
                         % (i * 100 // 8, "#" * (i * 10 // 8), i, i // 4, loss(i)))
        sys.stderr.flush()
        time.sleep(0.02)
    sys.stderr.write("\n")
elif style == "hf":
    # Trainer.log prints the logs dict; the step comes from the tqdm bar on
    # stderr. NaN prints as nan.
    for i in range(1, 6):
        sys.stderr.write("\r %3d%%|%-10s| %d/5 [00:01<00:01,  5.00it/s]" % (i * 20, "#" * (i * 2), i))
        sys.stderr.flush()
        lv = float("nan") if i == 3 else round(1.0 / i, 4)
        print("{'loss': %r, 'grad_norm': 0.5, 'learning_rate': %r, 'epoch': %r}"
              % (lv, 5e-05 * (6 - i) / 5, i / 5), flush=True)
        time.sleep(0.02)
    sys.stderr.write("\n")
    print("{'train_runtime': 1.5, 'train_samples_per_second': 42.5, 'train_steps_per_second': 3.3, 'train_loss': 0.6, 'epoch': 1.0}", flush=True)
elif style == "lightning":
    # Lightning's TQDMProgressBar: one bar per epoch (the count restarts),
    # v_num and the logged metrics in the postfix, a validation bar.
    for epoch in range(2):
        for i in range(1, 5):
            step = epoch * 4 + i
            sys.stdout.write("\rEpoch %d:  %3d%%|%-10s| %d/4 [00:00<00:00, 20.00it/s, v_num=0, train_loss=%.4g]"
                             % (epoch, i * 25, "#" * (i * 10 // 4), i, 2.0 / step))
            sys.stdout.flush()
            time.sleep(0.02)
        sys.stdout.write("\rValidation DataLoader 0: 100%|##########| 2/2 [00:00<00:00, 50.00it/s]")
        sys.stdout.write("\n")
        sys.stdout.flush()
elif style == "kv":
    for i in range(1, 7):
        print("step=%d loss=%s lr=0.001" % (i, "nan" if i == 3 else "%.4g" % loss(i)), flush=True)
        print("INFO saving nothing at step %d" % i, flush=True)
        time.sleep(0.02)
    print("step: 7, loss: inf", flush=True)
else:
    sys.exit("unknown style " + style)
