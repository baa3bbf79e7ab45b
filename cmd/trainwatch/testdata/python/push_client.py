"""Pushes to a trainwatch agent with Debian's prometheus_client, exactly as
training code pushes to a Pushgateway: push_to_gateway (PUT),
pushadd_to_gateway (POST) and delete_from_gateway (DELETE), with grouping keys
holding a space, a slash (sent @base64) and an empty value."""
import sys

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram,
                               delete_from_gateway, push_to_gateway,
                               pushadd_to_gateway)

gw = sys.argv[1]
key = {"run": "run 1", "path": "/data/imagenet", "empty": ""}

reg = CollectorRegistry()
Gauge("training_loss", "Training loss.", registry=reg).set(0.5)
Counter("batches_processed", "Steps done.", registry=reg).inc(10)
Gauge("validation_loss", "Validation loss.", registry=reg).set(float("nan"))
Gauge("grad_norm", "Gradient norm.", ["layer"], registry=reg).labels("fc 1").set(float("inf"))
h = Histogram("batch_processing_time", "Seconds per batch.", buckets=(0.1, 1.0), registry=reg)
h.observe(0.05)
h.observe(0.5)
push_to_gateway(gw, job="mnist", registry=reg, grouping_key=key)

reg2 = CollectorRegistry()
Gauge("learning_rate", "Learning rate.", registry=reg2).set(0.001)
pushadd_to_gateway(gw, job="mnist", registry=reg2, grouping_key=key)

reg3 = CollectorRegistry()
Gauge("scratch_value", "Deleted again.", registry=reg3).set(7)
push_to_gateway(gw, job="scratch/job", registry=reg3)
delete_from_gateway(gw, job="scratch/job")
print("pushed")
