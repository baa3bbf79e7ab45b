#!/usr/bin/env python3
"""Writes the TensorBoard event-file fixtures under tb/ with the Python
standard library only.

No real writer can be installed on the machines this project builds on
(tensorboard, tensorboardX, TensorFlow and torch.utils.tensorboard's
dependency on tensorboard are not available from the package sources they
reach), so this script implements the two layers by hand:

* TFRecord framing, as in tensorboard/summary/writer/record_writer.py and
  tensorflow/core/lib/io/record_writer.cc: uint64 length (little-endian),
  uint32 masked CRC-32C of those 8 bytes, the data, uint32 masked CRC-32C of
  the data; masked = ((crc >> 15 | crc << 17) + 0xa282ead8) mod 2**32.
* The protobuf wire encoding of tensorflow.Event and the messages it holds,
  with the field numbers of tensorboard/compat/proto/event.proto,
  summary.proto, tensor.proto and tensor_shape.proto.

What is written mirrors the two common writers:

  tb/events.out.tfevents.1700000000.trainhost.4242.0
      like torch.utils.tensorboard.SummaryWriter (torch/utils/tensorboard/
      summary.py, scalar()): a file_version "brain.Event:2" event, then one
      event per add_scalar with Summary.Value.simple_value (train/loss,
      train/lr, val/loss every 10 steps, a NaN loss at step 13); a histogram
      event (Summary.Value.histo) that carries no scalar; add_scalar(...,
      new_style=True), which writes a DT_FLOAT tensor in float_val with
      "scalars" plugin metadata, and new_style with double_precision=True
      (DT_DOUBLE, double_val).
  tb/events.out.tfevents.1700000500.trainhost.4300.0
      like TF2's tf.summary.scalar (tensorboard/plugins/scalar/summary_v2.py
      through tensorflow/core/summary/summary_file_writer.cc WriteTensor,
      which uses Tensor::AsProtoTensorContent): a scalar DT_FLOAT tensor
      whose value is 4 little-endian bytes in tensor_content, metadata with
      plugin "scalars" and data_class DATA_CLASS_SCALAR; one DT_DOUBLE scalar
      (8 bytes); a "text" plugin DT_STRING tensor and a "histograms" plugin
      [3,3] tensor, neither of which is a scalar. Its name sorts after the
      first file, as a restarted run's file does.

Wall times are fixed so that the output is byte-for-byte reproducible.

Usage: gen_events.py [OUTDIR]   (default: the directory of this script)
"""
import math
import os
import struct
import sys

# ---- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) ----

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data):
    header = struct.pack("<Q", len(data))
    return (header + struct.pack("<I", masked_crc32c(header)) + data
            + struct.pack("<I", masked_crc32c(data)))


# ---- protobuf wire format ----

def varint(v):
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, v):
    return key(field, 0) + varint(v)


def f_double(field, v):
    return key(field, 1) + struct.pack("<d", v)


def f_float(field, v):
    return key(field, 5) + struct.pack("<f", v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return key(field, 2) + varint(len(b)) + b


# tensorflow.Event
def event(wall_time, step=None, file_version=None, summary=None):
    b = f_double(1, wall_time)
    if step:  # proto3: a zero step is not written
        b += f_varint(2, step)
    if file_version is not None:
        b += f_bytes(3, file_version)
    if summary is not None:
        b += f_bytes(5, summary)
    return b


# tensorflow.Summary with one Summary.Value
def summary(*values):
    return b"".join(f_bytes(1, v) for v in values)


def value_simple(tag, v):
    return f_bytes(1, tag) + f_float(2, v)


def value_histo(tag, values):
    # HistogramProto: min 1, max 2, num 3, sum 4, sum_squares 5,
    # bucket_limit 6 (packed double), bucket 7 (packed double)
    limits = [0.0, 0.5, 1.0]
    counts = [float(sum(1 for x in values if x <= l)) for l in limits]
    h = (f_double(1, min(values)) + f_double(2, max(values)) + f_double(3, len(values))
         + f_double(4, sum(values)) + f_double(5, sum(x * x for x in values))
         + f_bytes(6, b"".join(struct.pack("<d", x) for x in limits))
         + f_bytes(7, b"".join(struct.pack("<d", x) for x in counts)))
    return f_bytes(1, tag) + f_bytes(5, h)


def metadata(plugin, data_class=0):
    # SummaryMetadata: plugin_data 1 (PluginData: plugin_name 1, content 2),
    # data_class 4
    b = f_bytes(1, f_bytes(1, plugin))
    if data_class:
        b += f_varint(4, data_class)
    return b


def shape(*dims):
    # TensorShapeProto: dim 2 (Dim: size 1)
    return b"".join(f_bytes(2, f_varint(1, d)) for d in dims)


DT_FLOAT, DT_DOUBLE, DT_STRING = 1, 2, 7


def tensor(dtype, dims=(), content=None, float_val=None, double_val=None, string_val=None):
    # TensorProto: dtype 1, tensor_shape 2, tensor_content 4, float_val 5,
    # double_val 6, string_val 8
    b = f_varint(1, dtype) + f_bytes(2, shape(*dims))
    if content is not None:
        b += f_bytes(4, content)
    if float_val is not None:
        b += f_bytes(5, b"".join(struct.pack("<f", x) for x in float_val))
    if double_val is not None:
        b += f_bytes(6, b"".join(struct.pack("<d", x) for x in double_val))
    for s in string_val or []:
        b += f_bytes(8, s)
    return b


def value_tensor(tag, t, md):
    # Summary.Value: tag 1, tensor 8, metadata 9
    return f_bytes(1, tag) + f_bytes(8, t) + f_bytes(9, md)


def pytorch_style():
    t0 = 1700000000.25
    recs = [event(t0, file_version="brain.Event:2")]
    for step in range(0, 20):
        wt = t0 + 1 + step * 0.5
        loss = 2.0 / (1 + step / 5.0)
        if step == 13:
            loss = float("nan")
        recs.append(event(wt, step, summary=summary(value_simple("train/loss", loss))))
        recs.append(event(wt + 0.01, step, summary=summary(value_simple("train/lr", 0.01 * 0.9 ** step))))
        if step % 10 == 9:
            recs.append(event(wt + 0.02, step, summary=summary(value_simple("val/loss", 1.5 / (1 + step)))))
    recs.append(event(t0 + 12, 19, summary=summary(value_histo("weights/fc1", [0.1, 0.4, 0.7, 0.9]))))
    scalars = metadata("scalars")
    recs.append(event(t0 + 13, 20, summary=summary(
        value_tensor("train/accuracy", tensor(DT_FLOAT, float_val=[0.8125]), scalars))))
    recs.append(event(t0 + 14, 20, summary=summary(
        value_tensor("train/tokens_per_s", tensor(DT_DOUBLE, double_val=[12345.678901234]), scalars))))
    return b"".join(record(r) for r in recs)


def tf2_style():
    t0 = 1700000500.5
    recs = [event(t0, file_version="brain.Event:2")]
    scalars = metadata("scalars", data_class=1)
    for step in range(20, 30):
        wt = t0 + 1 + (step - 20) * 0.25
        recs.append(event(wt, step, summary=summary(value_tensor(
            "epoch_loss", tensor(DT_FLOAT, content=struct.pack("<f", 0.9 / (1 + step / 20.0))), scalars))))
    recs.append(event(t0 + 5, 29, summary=summary(value_tensor(
        "epoch_learning_rate", tensor(DT_DOUBLE, content=struct.pack("<d", 0.000123456789)), scalars))))
    recs.append(event(t0 + 6, 29, summary=summary(value_tensor(
        "notes", tensor(DT_STRING, string_val=[b"resumed from checkpoint"]), metadata("text", data_class=3)))))
    hist = struct.pack("<9d", 0, 0.5, 1, 0.5, 1, 2, 1, 2, 1)
    recs.append(event(t0 + 7, 29, summary=summary(value_tensor(
        "weights", tensor(DT_DOUBLE, dims=(3, 3), content=hist), metadata("histograms", data_class=2)))))
    return b"".join(record(r) for r in recs)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    tb = os.path.join(out, "tb")
    os.makedirs(tb, exist_ok=True)
    with open(os.path.join(tb, "events.out.tfevents.1700000000.trainhost.4242.0"), "wb") as f:
        f.write(pytorch_style())
    with open(os.path.join(tb, "events.out.tfevents.1700000500.trainhost.4300.0"), "wb") as f:
        f.write(tf2_style())


if __name__ == "__main__":
    assert crc32c(b"123456789") == 0xE3069283, "CRC-32C check value"
    main()
