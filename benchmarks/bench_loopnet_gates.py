"""How many steps does a LoopNet variant need to pass its gates? (issue 10)

Trains one variant on the train split of an audio stage's output (the demo's by default) and,
every `--every` epochs, synthesizes the test split and computes the gates of
`results/eval/loopnet/gates.csv` (loopgen.loopnet.gate_row): loss / silence's loss, output
loudness against the target, and the share of bars closer to their own target than another
real bar is. Prints one line per check with the Adam steps, wall and CPU seconds so far and the
training throughput; stops after `--max-epochs` (or at the first pass with --stop-at-pass).

Training is the workflow's own train_loopnet, resumed from a checkpoint between checks, so the
steps are those of one uninterrupted run. Settings are the demo config's `loopnet:` section,
overridden by --set key=value (YAML values), e.g. --set lr=2e-3 --set base_filters=16.

    .venv/bin/python benchmarks/bench_loopnet_gates.py --variant WAV --every 4 --max-epochs 80 \
        [--results results] [--config config.yaml] [--seed N] [--threads 2]
"""

from __future__ import annotations

import argparse
import glob
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from loopgen import loopnet
from loopgen.audio.segments import from_pcm


def load(results: Path):
    segments = sorted(glob.glob(str(results / "audio/segments/*.parquet")))
    features = sorted(glob.glob(str(results / "audio/features/*.parquet")))
    if not segments or not features:
        raise SystemExit(f"{results}/audio: no segment or feature shards (run the audio stage first)")
    train = loopnet.load_segments(segments, features, split="train")
    test = loopnet.load_segments(segments, features, split="test")
    scaler = loopnet.GlobalScaler.from_file(results / "audio/feature_stats.json")
    return train, test, scaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True, choices=loopnet.VARIANTS)
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--every", type=int, default=2, help="epochs between gate checks")
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--stop-at-pass", action="store_true")
    parser.add_argument("--seed", type=int, help="default: the config's seed (the workflow's)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    config = yaml.safe_load(args.config.read_text()) or {}
    section = dict(config.get("loopnet") or {})
    for item in args.set:
        key, _, value = item.partition("=")
        section[key] = yaml.safe_load(value)
    s = loopnet.settings(section)
    seed = config.get("seed", 0) if args.seed is None else args.seed
    train, test, scaler = load(args.results)
    _, spec = loopnet.variant_setup(args.variant, s)
    target = from_pcm(test.pcm)
    steps_per_epoch = -(-len(train) // s["batch_size"])
    print(
        f"{args.variant}: {len(train)} train / {len(test)} test bars, {steps_per_epoch} steps an epoch, "
        f"base {s['base_filters']}, lr {s['lr']}, norm {s['norm']}, weights wave {s['waveform_weight']} "
        f"spectral {s['spectral_weight']}, seed {seed}, {args.threads} thread(s)",
        flush=True,
    )
    print(
        f"{'epoch':>5} {'steps':>6} {'wall s':>7} {'CPU s':>7} {'seg/s':>6} {'loss/sil':>8} {'RMS dB':>7} "
        f"{'closer':>6}  gates"
    )
    wall0, cpu0, train_wall = time.perf_counter(), time.process_time(), 0.0
    with tempfile.TemporaryDirectory() as checkpoints:
        for epochs in range(args.every, args.max_epochs + 1, args.every):
            model, history = loopnet.train_loopnet(
                train, scaler, args.variant, {**section, "epochs": epochs}, seed, checkpoints, "cpu"
            )
            train_wall += sum(history["seconds"][-args.every :])
            synth = loopnet.LoopNet(model, {"variant": args.variant, "feature_stats": scaler.stats}, "cpu")
            output = from_pcm(loopnet.synthesize_test(synth, test))
            row = loopnet.gate_row(
                args.variant, spec, output, target, test.loop_id, s["gate_loss_ratio"], s["gate_rms_db"]
            )
            print(
                f"{epochs:>5} {epochs * steps_per_epoch:>6} {time.perf_counter() - wall0:>7.0f} "
                f"{time.process_time() - cpu0:>7.0f} {epochs * len(train) / train_wall:>6.1f} "
                f"{row['loss_ratio']:>8.3f} {row['rms_db_diff']:>+7.1f} {row['share_closer']:>6.0%}  "
                f"{'pass' if row['passes'] else 'fail'}",
                flush=True,
            )
            if row["passes"] and args.stop_at_pass:
                break


if __name__ == "__main__":
    main()
