// Package logtail reads training metrics from the files that training
// frameworks already write, incrementally: each reader's Poll returns only
// the [runs.Entry] values it has not returned before, and is meant to be
// called every second or so while the run goes on. A [Tailer] watches a run
// directory for these files appearing and polls them all.
//
// Keys are passed on as the framework wrote them (train_loss, lr-Adam,
// eval_loss, train/loss, ...); mapping them to canonical names is the runs
// registry's job. Readers never hold a file open between polls, so a file
// that is deleted, replaced or rewritten is seen afresh on the next poll.
// A file that does not exist yet is not an error: Poll returns nothing.
//
// # PyTorch Lightning CSVLogger: metrics.csv
//
// Written by _ExperimentWriter in src/lightning/fabric/loggers/csv_logs.py
// (lightning.pytorch.loggers.CSVLogger, src/lightning/pytorch/loggers/
// csv_logs.py, uses it). A header row names every key seen so far, then one
// row per log_metrics call; rows are sparse (a validation row has empty
// cells for the training keys) and Python's csv module ends them with
// "\r\n". Floats are written with str(), so "nan" and "inf" occur. The
// column "step" is always there; "epoch" is added by the trainer's logger
// connector to its rows (not to, say, LearningRateMonitor's lr-* rows).
//
// The file is not append-only. Lightning >= 2.1 keeps the header as the
// sorted union of keys, and when a flush brings a new key it reads the
// whole file back, truncates it ("w") and writes the header and every old
// row again before appending; older releases rewrote the whole file with
// "w" on every flush. [CSVReader] therefore tracks rows by position: the
// n-th data row of the file is the same logged row in every version of the
// file, because both rewrite paths copy the old rows, in order, with their
// cell text unchanged. Matching rows by (step, column set) would not work:
// a training row and a validation row share a step, and a rewrite changes
// the column set of every row. The reader keeps an order-independent
// fingerprint of each row's non-empty (column, text) pairs, so a rewrite
// (detected by a changed first line, a shrunken file, or a different file
// at the path) re-reads the file from the top and emits only rows past the
// ones already emitted, after checking that the old rows are still the
// same. Where they are not (a new run wrote the same path), the rows from
// the first difference on are emitted as new. A last line without its line
// terminator is being written: it is left for the next poll.
//
// # Hugging Face Trainer: trainer_state.json
//
// Written by TrainerState.save_to_json in src/transformers/
// trainer_callback.py, into checkpoint-{global_step}/ at each save
// (Trainer._save_checkpoint in src/transformers/trainer.py, the prefix is
// PREFIX_CHECKPOINT_DIR in src/transformers/trainer_utils.py) and into the
// output directory by trainer.save_state(). The write is not atomic
// (open(path, "w") then one write), so a reader can see a torn, truncated
// document; [TrainerStateReader] retries such a file when it changes and
// reports it only if it stays unparseable. Python's json module writes NaN,
// Infinity and -Infinity bare; they are accepted. log_history holds one
// object per Trainer.log call (loss, grad_norm, learning_rate, epoch, step;
// eval_*; the train_* summary at the end). Entries are emitted by index
// past those already emitted, after checking the earlier ones are
// unchanged; of all the trainer_state.json files of an output directory
// the one with the highest global_step is read (ties: the longer
// log_history, then the newer file). global_step, max_steps and
// num_train_epochs are exposed by [TrainerStateReader.Info].
//
// # TensorBoard event files: events.out.tfevents.*
//
// A TFRecord stream (tensorboard/summary/writer/record_writer.py,
// tensorflow/core/lib/io/record_writer.cc): uint64 little-endian length,
// uint32 masked CRC-32C of the length bytes, the data, uint32 masked
// CRC-32C of the data, where masked(crc) = (crc>>15 | crc<<17) +
// 0xa282ead8. Each record is a serialized tensorflow.Event
// (tensorboard/compat/proto/event.proto: 1 wall_time double, 2 step int64,
// 3 file_version string, 5 summary). A Summary (summary.proto) holds Values
// with a tag and either simple_value (what torch.utils.tensorboard's
// add_scalar writes, torch/utils/tensorboard/summary.py scalar()) or a
// TensorProto (tensor.proto) with metadata naming the "scalars" plugin
// (tensorboard/plugins/scalar/summary_v2.py; TF2's writer stores the value
// as little-endian bytes in tensor_content, see WriteTensor in
// tensorflow/core/summary/summary_file_writer.cc, while PyTorch's
// new_style scalars use float_val or double_val). The protobuf is decoded
// by hand with protowire; one-element numeric tensors of the "scalars"
// plugin (or of a tag that never had plugin metadata) become values,
// everything else (histograms, images, text, graphs) is skipped. A record
// not yet fully written is left for the next poll. A CRC mismatch is
// reported once it is still there on the next poll (a write that was not
// visible yet reads as garbage once), with the file and offset, and the
// rest of that file is skipped. A run that restarts writes a new event
// file beside the old one; the [Tailer] reads them all.
package logtail
