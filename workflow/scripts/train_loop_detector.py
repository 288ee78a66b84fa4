"""Rule train_loop_detector: Deep SVDD on the audio bar correlations (SPEC section 2)."""

from loopgen.logs import log_to

log = log_to(snakemake.log[0])

import csv
import dataclasses
from pathlib import Path

from tqdm import tqdm

from loopgen import detector
from loopgen.device import rule_device
from loopgen.tables import write_table

ids, corr, rejected = detector.read_bar_corr(snakemake.input.bar_corr)
log.info("%s: %d audio loops to train on, %d rejected", snakemake.input.bar_corr, len(ids), len(rejected))
if snakemake.params.rescale_eps is not None:
    log.info("rescale_audio: audio correlations put on the MIDI scale (eps %g)", snakemake.params.rescale_eps)
    corr = detector.rescale_like_midi(corr, snakemake.params.rescale_eps)

settings = detector.TrainSettings(**snakemake.params.settings, seed=snakemake.params.seed)
device = rule_device(snakemake)
log.info("training on %s with %s", device, settings)
progress = tqdm(total=2 * settings.epochs, desc="epochs (autoencoder + svdd)", mininterval=10)
trained = detector.train_detector(
    corr,
    settings,
    snakemake.params.checkpoint_dir,
    device=device,
    run_key=snakemake.params.code,
    on_epoch=lambda row: progress.update(1),
)
progress.close()
log.info(
    "threshold %.6g; %d of %d training loops below it",
    trained.threshold,
    (trained.scores[trained.train_index] < trained.threshold).sum(),
    len(trained.train_index),
)

detector.save_detector(
    Path(snakemake.output.model).parent,
    trained,
    extras={
        "source": snakemake.input.bar_corr,
        "settings": dataclasses.asdict(settings),
        "rescale_eps": snakemake.params.rescale_eps,
    },
)
with open(snakemake.output.curve_csv, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=detector.HISTORY_COLUMNS)
    writer.writeheader()
    writer.writerows(trained.history)
detector.plot_training_curve(trained.history, snakemake.output.curve_png)

rows = detector.training_score_rows(ids, trained, rejected)
write_table(rows, snakemake.output.scores, detector.TRAINING_SCORE_SCHEMA)
detector.plot_score_distribution(rows, trained.threshold, snakemake.output.scores_png)
