"""Peak memory of the rules whose data grows with the corpus, projected to paper scale.

bench_paper_scale.py runs the whole workflow at 0.1-0.2 % of LMD-full; there every job's peak is
its fixed part (interpreter, torch, one batch) and a fit extrapolates noise. Here each data-growing
rule's own code path (the library calls its workflow script makes, with the paper config's
settings) runs in a fresh subprocess on synthetic inputs written in the real file formats by the
project's writers, at 2-3 sizes where the data part dominates. Each run reports its peak RSS
(VmHWM); a least-squares line gives fixed MB + bytes per item, which is checked against the bytes
per item read from the code (ANALYTIC, derivations beside each case) and projected to the job's
full-scale size. The last table sets that projection against the rule's mem_mb as `snakemake -n`
plans it with config/paper.yaml, flagged above 60 %.

Trainings (and FAD's embeddings): their memory does not grow with steps, and a full epoch at these sizes would take hours
on a CPU. So a training case runs the real training function with epochs=0 (every data step:
reading, splitting, fingerprinting, the trainer's tensors; no optimisation step), and a second
case, `<rule>+step`, runs one real epoch at the paper batch size on a small set. The projection
adds the step's extra peak (its run minus the data fit at its size) to the data fit: an upper
bound, as it stacks the data loading's transients on the step's activations. On a GPU the step's
activations live on the device, so the host needs less than projected here.

LoopNet's FAD is measured the same way: the audio it holds (the test set, six synthesized sets,
the two reference sets) at three sizes, and its embeddings as the step, on 60 test segments with
one of the config's random VGGish networks (the others add only their weights, ~300 MB each on
the CPU). Where one run's peak is its fixed part (a model's activations freed before the data
grew into that memory), sizes are chosen so the data exceed it; synthesize_test is measured at the
full test set.

    PYTHONPATH=src nice -n 5 .venv/bin/python benchmarks/bench_memory_scale.py [--cases ...] [--scale 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_paper_scale import PAPER, REPO, declared, paper_dry_run

LOOPS = PAPER["loops"]  # 751,935 loops, all read by each symbolic job
LOOPS_PER_SONG = 4.2  # 751,935 loops of 178,561 files
PHRASES_PER_SHARD = 5_687_274 // 32  # config/paper.yaml midi.n_shards
TRAIN_SEGMENTS, TEST_SEGMENTS = 44_140, 4_905  # 49,045 one-bar segments, 90/10 by loop
AUDIO_SHARDS = 32
N_SAMPLES = 29_538


def paper_config() -> dict:
    """config.yaml + config/paper.yaml with the schema's defaults, as the workflow sees it."""
    from snakemake.utils import update_config

    from loopgen.config import load_schema, validate

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))
    demo = {"midi": {"raw_dir": "resources/demo/lmd"}, "audio": {"raw_dir": "resources/demo/looperman"}}
    update_config(config, demo)  # the dumps' folders need not exist here
    schema = load_schema(REPO / "workflow/schemas/config.schema.yaml")
    return validate(config, schema, demo_dirs=(demo["midi"]["raw_dir"], demo["audio"]["raw_dir"]))


# ------------------------------------------------------------------------------------------------
# Synthetic inputs, in the real formats
# ------------------------------------------------------------------------------------------------
def _rolls(n: int, rng) -> np.ndarray:
    """Packed rolls with ~1/8 of the cells on (the data are ~4 %: only compression differs)."""
    bits = [rng.integers(0, 256, (n, 912), dtype=np.uint8) for _ in range(3)]
    return bits[0] & bits[1] & bits[2]


def _file_ids(n: int) -> np.ndarray:
    songs = (np.arange(n) / LOOPS_PER_SONG).astype(int)
    return np.array([hashlib.md5(str(s).encode()).hexdigest() for s in songs], dtype=object)


def make_loops(n: int, folder: Path) -> None:
    """n loops in 32 loop shards (detector LOOP_SCHEMA), codes.parquet with the VQ-VAE's split,
    and a generated set of as many loops as the training split (sampling.n_samples: null)."""
    import pyarrow as pa

    from loopgen import symbolic
    from loopgen.detector import LOOP_SCHEMA
    from loopgen.models.vqvae import VQVAEConfig
    from loopgen.symbolic.data import packed_to_arrow
    from loopgen.tables import write_table

    rng = np.random.default_rng(n)
    files = _file_ids(n)
    ids = np.array([f"{f}:{i % 64}" for i, f in enumerate(files)], dtype=object)
    packed = _rolls(n, rng)
    for shard, rows in enumerate(np.array_split(np.arange(n), 32)):
        write_table(
            pa.table(
                {
                    "phrase_id": ids[rows].tolist(),
                    "file_id": files[rows].tolist(),
                    "start_bar": pa.array(rows % 64, pa.int32()),
                    "tempo_bpm": pa.array(np.full(len(rows), 120.0), pa.float32()),
                    "roll": packed_to_arrow(packed[rows]),
                    "corr": pa.array(list(rng.random((len(rows), 28), dtype=np.float32)), pa.list_(pa.float32())),
                    "n_drum_cells": pa.array(np.full(len(rows), 40), pa.int32()),
                    "n_bass_steps": pa.array(np.full(len(rows), 30), pa.int32()),
                    "loop_score": pa.array(rng.random(len(rows), dtype=np.float32), pa.float32()),
                }
            ),
            folder / f"loops/shard-{shard}.parquet",
            LOOP_SCHEMA,
        )
    _, settings = symbolic.settings_from(paper_config()["vqvae"], VQVAEConfig, 0)
    is_val = symbolic.split_mask(files, settings, symbolic.VQVAE_SPLIT_SALT)
    codes = rng.integers(0, 512, (n, 32))
    loops = symbolic.LoopSet(ids, files, packed)
    write_table(symbolic.codes_table(loops, codes, is_val), folder / "codes.parquet", symbolic.CODES_SCHEMA)
    n_fake = int((~is_val).sum())
    samples = {
        "sample_id": [f"top_k:{i}" for i in range(n_fake)],
        "roll": packed_to_arrow(_rolls(n_fake, rng)),
        "loop_score": pa.array(rng.random(n_fake, dtype=np.float32), pa.float32()),
    }
    write_table(pa.table(samples), folder / "samples.parquet", symbolic.SAMPLE_SCHEMA)


def make_phrases(n: int, folder: Path) -> None:
    """One MIDI shard's phrases (PHRASE_SCHEMA)."""
    import pyarrow as pa

    from loopgen.midi.files import PHRASE_SCHEMA
    from loopgen.symbolic.data import packed_to_arrow
    from loopgen.tables import write_table

    rng = np.random.default_rng(n)
    files = _file_ids(n)
    table = {
        "phrase_id": [f"{f}:{i % 64}" for i, f in enumerate(files)],
        "file_id": files.tolist(),
        "start_bar": pa.array(np.arange(n) % 64, pa.int32()),
        "tempo_bpm": pa.array(np.full(n, 120.0), pa.float32()),
        "roll": packed_to_arrow(_rolls(n, rng)),
        "corr": pa.array(list(rng.random((n, 28), dtype=np.float32)), pa.list_(pa.float32())),
        "n_drum_cells": pa.array(np.full(n, 40), pa.int32()),
        "n_bass_steps": pa.array(np.full(n, 30), pa.int32()),
    }
    write_table(pa.table(table), folder / "phrases.parquet", PHRASE_SCHEMA)


def make_segments(n_train: int, n_test: int, folder: Path) -> None:
    """Audio segment shards (write_segments: one row group per split), feature shards, the
    feature statistics, and one synthesized test set per LoopNet variant and Griffin-Lim."""
    import pyarrow as pa

    from loopgen.audio.features import FEATURE_SCHEMA
    from loopgen.audio.segments import segment_table, write_segments
    from loopgen.loopnet import GRIFFIN_LIM, VARIANTS, write_set
    from loopgen.tables import write_table

    rng = np.random.default_rng(n_train + n_test)
    n = n_train + n_test
    loop_ids = np.array(
        [hashlib.md5(str(i * 2 // 11).encode()).hexdigest() for i in range(n)], object
    )  # 5.5 bars a loop
    bars = np.arange(n) % 6
    segment_ids = [f"{loop}:{i}" for i, loop in enumerate(loop_ids)]
    splits = np.where(np.arange(n) < n_train, "train", "test")
    n_frames = 1 + N_SAMPLES // 256
    for shard, rows in enumerate(np.array_split(np.arange(n), AUDIO_SHARDS)):
        pcm = rng.integers(-3000, 3000, (len(rows), N_SAMPLES), dtype=np.int16)
        ids = [segment_ids[i] for i in rows]
        table = segment_table(ids, loop_ids[rows].tolist(), bars[rows], splits[rows].tolist(), pcm)
        write_segments(table, folder / f"segments/shard-{shard}.parquet")
        feats = {"segment_id": ids, "loop_id": loop_ids[rows].tolist(), "split": splits[rows].tolist()}
        for name in ("kick", "snare", "hihat", "envelope"):
            feats[name] = pa.array(list(rng.random((len(rows), n_frames), dtype=np.float32)), pa.list_(pa.float32()))
        feats["hpcp"] = pa.array(list(rng.random((len(rows), 12), dtype=np.float32)), pa.list_(pa.float32()))
        feats["timbre"] = pa.array(list(rng.random((len(rows), 21), dtype=np.float32)), pa.list_(pa.float32()))
        write_table(pa.table(feats), folder / f"features/shard-{shard}.parquet", FEATURE_SCHEMA)
    stats = {name: {"min": [0.0] * size, "max": [1.0] * size} for name, size in (("hpcp", 12), ("timbre", 21))}
    (folder / "feature_stats.json").write_text(json.dumps(stats))
    test = np.flatnonzero(splits == "test")
    order = sorted(test, key=lambda i: segment_ids[i])  # sets are in the readers' segment_id order
    for name in (*VARIANTS, GRIFFIN_LIM):
        pcm = rng.integers(-3000, 3000, (len(order), N_SAMPLES), dtype=np.int16)
        write_set(
            [segment_ids[i] for i in order],
            loop_ids[order].tolist(),
            name,
            pcm,
            folder / f"sets/{name}.parquet",
            folder / "wavs",
            0,
        )


def _shards(folder: Path, kind: str) -> list[str]:
    return [str(folder / f"{kind}/shard-{i}.parquet") for i in range(32 if kind == "loops" else AUDIO_SHARDS)]


# ------------------------------------------------------------------------------------------------
# The rules' code paths (run in the child process; each mirrors its workflow script)
# ------------------------------------------------------------------------------------------------
def _fresh_checkpoints() -> Path:
    """An empty checkpoint folder, removed when the process ends: a training must not resume an
    earlier run's last epoch."""
    import atexit

    folder = tempfile.mkdtemp(prefix="bench-memory-ck-")
    atexit.register(shutil.rmtree, folder, True)
    return Path(folder)


def _epochs(settings, epochs: int):
    return dataclasses.replace(settings, epochs=epochs)


def run_train_vqvae(folder: Path, epochs: int = 0) -> None:
    from loopgen import symbolic
    from loopgen.models.vqvae import VQVAEConfig

    config, settings = symbolic.settings_from(paper_config()["vqvae"], VQVAEConfig, 0)
    loops = symbolic.read_loops(_shards(folder, "loops"))
    symbolic.train_vqvae(loops, config, _epochs(settings, epochs), _fresh_checkpoints(), "cpu", run_key="b")


def run_encode_loops(folder: Path) -> None:
    from loopgen import symbolic
    from loopgen.models.vqvae import VQVAE, VQVAEConfig
    from loopgen.tables import write_table

    config, settings = symbolic.settings_from(paper_config()["vqvae"], VQVAEConfig, 0)
    model = VQVAE(config).eval()  # untrained: the same arithmetic and memory as the trained one
    loops = symbolic.read_loops(_shards(folder, "loops"))
    is_val = symbolic.split_mask(loops.file_id, settings, symbolic.VQVAE_SPLIT_SALT)
    codes = symbolic.encode_loops(model, loops.packed)
    write_table(symbolic.codes_table(loops, codes, is_val), folder / "codes-out.parquet", symbolic.CODES_SCHEMA)


def run_train_prior(folder: Path, epochs: int = 0) -> None:
    from loopgen import symbolic
    from loopgen.models.lstm_prior import PriorConfig

    cfg = paper_config()
    config, settings = symbolic.settings_from(cfg["prior"], PriorConfig, 0, codebook_size=cfg["vqvae"]["codebook_size"])
    codes, file_id, split = symbolic.read_codes(folder / "codes.parquet")
    train = split == "train"
    symbolic.train_prior(
        codes[train],
        file_id[train],
        config,
        _epochs(settings, epochs),
        _fresh_checkpoints(),
        "cpu",
        run_key="b",
    )


def run_symbolic_set_metrics(folder: Path) -> None:
    from loopgen.evaluation import symbolic as evaluation

    e = paper_config()["evaluation"]
    settings = evaluation.SimilaritySettings(
        k=e["symbolic_prdc_k"], n_networks=e["symbolic_embedding_networks"], n_samples=e["symbolic_eval_samples"]
    )
    real, _ = evaluation.read_training_loops(_shards(folder, "loops"), folder / "codes.parquet")
    fake, scores = evaluation.read_sample_set(folder / "samples.parquet")
    evaluation.set_rows(evaluation.SampleSet("generation", "vqvae_lstm", "top_k"), real, fake, scores, settings)


def run_evaluate_symbolic(folder: Path) -> None:
    from loopgen import symbolic
    from loopgen.evaluation import symbolic as evaluation
    from loopgen.roll import packed_column
    from loopgen.tables import read_head

    e = paper_config()["evaluation"]
    loops, loop_scores = evaluation.read_training_loops(_shards(folder, "loops"), folder / "codes.parquet")
    evaluation.training_rows(loops, loop_scores)
    images = {"training loops": evaluation.random_rows(loops, e["symbolic_pianoroll_images"], 0)}
    for mode in ("top_k", "top_p", "top_p_released"):
        head = read_head(folder / "samples.parquet", symbolic.SAMPLE_SCHEMA, e["symbolic_pianoroll_images"], ["roll"])
        images[mode] = packed_column(head["roll"])


def run_gather_samples(folder: Path) -> None:
    from loopgen import symbolic
    from loopgen.tables import join_files

    join_files([folder / "samples.parquet"], folder / "gathered.parquet", symbolic.SAMPLE_SCHEMA)


def run_rejection_none(folder: Path) -> None:
    from loopgen import symbolic
    from loopgen.tables import join_files

    n_keep = symbolic.training_split_size(folder / "codes.parquet")
    join_files([folder / "samples.parquet"], folder / "none.parquet", symbolic.SAMPLE_SCHEMA, limit=n_keep)


def run_score_phrases(folder: Path) -> None:
    from loopgen import detector
    from loopgen.models.loop_detector import LoopDetector, LoopDetectorConfig

    model = LoopDetector(LoopDetectorConfig()).eval()
    model.threshold.fill_(0.5)
    detector.score_phrase_shard(model, folder / "phrases.parquet", folder / "loops-out.parquet")


def run_train_loopnet(folder: Path, n_step: int | None = None) -> None:
    from loopgen import loopnet

    section = {**paper_config()["loopnet"], "epochs": 1}
    train = loopnet.load_segments(_shards(folder, "segments"), _shards(folder, "features"), split="train")
    scaler = loopnet.GlobalScaler.from_file(folder / "feature_stats.json")
    if n_step is None:  # the data only: the real rule holds these during training
        return
    # One epoch of `n_step` segments at the paper batch size, beside all the loaded data.
    settings = loopnet.settings(section)
    settings["probe_segments"] = min(settings["probe_segments"], n_step)
    step_set = train.subset(np.arange(min(n_step, len(train))))
    loopnet.train_loopnet(step_set, scaler, "MULTI", settings, 0, _fresh_checkpoints(), "cpu")


def run_synthesize_test(folder: Path) -> None:
    from loopgen import loopnet
    from loopgen.models.wave_unet import WaveUNet

    cfg = paper_config()["loopnet"]
    config, _ = loopnet.variant_setup("MULTI", loopnet.settings(cfg))
    stats = json.loads((folder / "feature_stats.json").read_text())
    model = loopnet.LoopNet(WaveUNet(config).eval(), {"variant": "MULTI", "feature_stats": stats}, "cpu")
    test = loopnet.load_segments(_shards(folder, "segments"), _shards(folder, "features"), split="test")
    pcm = loopnet.synthesize_test(model, test, cfg["batch_size"])
    loopnet.write_set(
        test.segment_id, test.loop_id, "MULTI", pcm, folder / "synth-out.parquet", folder / "wavs-out", cfg["n_wavs"]
    )


def _loopnet_fad(folder: Path, embed: bool = False) -> None:
    """workflow/scripts/loopnet_fad.py: the audio it holds, and with `embed` the embeddings (one of
    the config's random VGGish networks: the others add only their weights)."""
    from loopgen import loopnet
    from loopgen.audio.segments import from_pcm
    from loopgen.evaluation import fad

    p = paper_config()["loopnet"]
    real = loopnet.read_segment_audio(_shards(folder, "segments"), split="test")
    reference = real.pcm
    sets = {}
    for name in (*loopnet.VARIANTS, loopnet.GRIFFIN_LIM):
        sets[name] = loopnet.read_set_audio(folder / f"sets/{name}.parquet")[2]
    embedding = fad.make_embedding(None, p["fad_seeds"][:1], p["fad_example_hop_s"], "cpu", p["fad_peak_normalise"])
    if embed:
        fad.fad_sets(embedding, reference, sets, p["fad_bootstrap"])
    del sets
    references = fad.reference_sets(reference)
    if embed:
        fad.fad_sets(embedding, reference, references, p["fad_bootstrap"])
        fad.degradation_check(embedding, reference, from_pcm(reference[: p["fad_check_clips"]]))


def run_loopnet_gates(folder: Path) -> None:
    from loopgen import loopnet

    settings = loopnet.settings(paper_config()["loopnet"])
    real = loopnet.read_segment_audio(_shards(folder, "segments"), split="test")
    target = real.pcm
    for variant in settings["variants"]:
        output = loopnet.read_set_audio(folder / f"sets/{variant}.parquet")[2]
        _, spec = loopnet.variant_setup(variant, settings)
        loopnet.gate_row(
            variant, spec, output, target, real.loop_id, settings["gate_loss_ratio"], settings["gate_rms_db"]
        )


def run_evaluate_loopnet(folder: Path) -> None:
    from loopgen import loopnet
    from loopgen.tables import read_head

    real = loopnet.read_segment_audio(_shards(folder, "segments"), split="test")
    for name in (*loopnet.VARIANTS, loopnet.GRIFFIN_LIM):
        loopnet.pcm_matrix(read_head(folder / f"sets/{name}.parquet", loopnet.SYNTH_SCHEMA, 1))
    assert len(real.pcm)


# ------------------------------------------------------------------------------------------------
# Cases: what each measures, its full-scale size per job, and its bytes per item from the code
# ------------------------------------------------------------------------------------------------
@dataclass
class Case:
    rule: str
    item: str
    full: int  # items per job at paper scale
    analytic: float  # bytes per item, from the code (the comment beside each case says how)
    sizes: tuple[int, ...]  # items per measured run
    inputs: str  # loops | phrases | train_segments | test_segments
    run: object
    step: tuple[object, int] | None = None  # (run with one epoch, items) for trainings


KB, MB = 1024, 1024 * 1024  # peaks are read in MiB, the unit Slurm gives mem_mb
CASES = {
    # read_loops: every shard's Arrow buffers (roll 916 B + two ids ~80 B) live until the
    # concatenation (912 B) + two Python str objects per loop (~2 x 96 B); then train_vqvae's
    # fingerprint (tobytes, 912 B) and the trainer's train/val copies (912 B) beside the 1.1 KB held.
    "train_vqvae": Case(
        "train_vqvae",
        "loop",
        LOOPS,
        3.0 * KB,
        (40_000, 80_000, 160_000),
        "loops",
        run_train_vqvae,
        (lambda f: run_train_vqvae(f, epochs=1), 5_000),
    ),
    # read_loops as above, the codes (int64 32 x 8 B), and the codes table (ids + split ~90 B, codes 68 B).
    "encode_loops": Case("encode_loops", "loop", LOOPS, 2.4 * KB, (20_000, 40_000, 80_000), "loops", run_encode_loops),
    # read_codes: the table (ids ~80 B, split ~8 B, codes 68 B), the combined codes column and its
    # numpy copies (2 x 64 B), file_id and split as Python str (~96 + 62 B); the train rows' copies.
    "train_prior": Case(
        "train_prior",
        "loop",
        LOOPS,
        0.7 * KB,
        (80_000, 160_000, 320_000),
        "loops",
        run_train_prior,
        (lambda f: run_train_prior(f, epochs=1), 6_000),
    ),
    # real: each shard's filtered table (~960 B a training loop, 0.8 of the loops) then their
    # concatenation (912 B); fake: the sample file (~940 B a row, 0.8 n) and its concatenation.
    "symbolic_set_metrics": Case(
        "symbolic_set_metrics",
        "loop",
        LOOPS,
        0.8 * (912 + 960 + 940),
        (160_000, 320_000, 480_000),
        "loops",
        run_symbolic_set_metrics,
    ),
    "evaluate_symbolic": Case(
        "evaluate_symbolic",
        "loop",
        LOOPS,
        0.8 * (912 + 960) + 60,
        (160_000, 320_000, 480_000),
        "loops",
        run_evaluate_symbolic,
    ),
    # join_files copies a row group at a time (<= 65,536 loops, ~60 MB: a fixed part); before issue
    # 13 it read the chunk's whole table (roll 916 B, id ~20 B, score 4 B a generated loop, 0.8 of
    # the loops: sampling.n_samples null, sampling.chunks 1) and wrote it (~2 x that).
    "gather_samples": Case(
        "gather_samples", "loop", LOOPS, 0.0, (160_000, 320_000, LOOPS), "loops", run_gather_samples
    ),
    # the same copy, of the first n_keep (= the training split) plain samples.
    "rejection_none": Case(
        "rejection_none", "loop", LOOPS, 0.0, (160_000, 320_000, LOOPS), "loops", run_rejection_none
    ),
    # score_phrase_shard: the phrase table (roll 916 B, corr 116 B, ids ~80 B, ints 16 B), the packed
    # rolls (912 B when the table has several row groups), scores, and the kept loops' copy; the
    # scoring scratch (~13 KB a phrase) is per batch of 65,536 phrases, so sizes start above that.
    "score_phrases": Case(
        "score_phrases",
        "phrase",
        PHRASES_PER_SHARD,
        2.1 * KB,
        (80_000, 120_000, PHRASES_PER_SHARD),
        "phrases",
        run_score_phrases,
    ),
    # read_segment_audio: int16 PCM (59,076 B) + ids as Python str (~250 B); features: 4 x 116
    # frames float32 (1.9 KB) in the table, stacked, and indexed (3 copies) + globals.
    "train_loopnet": Case(
        "train_loopnet",
        "train segment",
        TRAIN_SEGMENTS,
        59_076 + 6_500,
        (2_000, 4_000, 8_000),
        "train_segments",
        run_train_loopnet,
        (lambda f: run_train_loopnet(f, n_step=32), 2_000),
    ),
    # test features (6.5 KB) and PCM (59 KB, read but unused), int16 chunks (59 KB) and their
    # concatenation (59 KB); the Arrow column is on that array. Before issue 13: the synthesis in
    # float32 (batches and their concatenation, 2 x 118 KB), to_pcm's float32 work (2 x 118 KB),
    # int16 (59 KB) and a copied Arrow column (59 KB): ~480 KB.
    "synthesize_test": Case(
        "synthesize_test",
        "test segment",
        TEST_SEGMENTS,
        6_500 + 59_076 * 3,
        (2_500, TEST_SEGMENTS),
        "test_segments",
        run_synthesize_test,
    ),
    # real PCM (59 KB) + 6 sets as int16 (6 x 59 KB), the last one read as Arrow (59 KB) too; then
    # reference_sets' two float32 sets (2 x 118 KB). Before issue 13: a float32 reference and 6
    # float32 sets (7 x 118 KB) held, a whole-set peak-normalised copy in each embedding (118 KB),
    # and reference_sets' float64 noise and filter work (~3 x 236 KB): ~1.7 MB a test segment.
    "loopnet_fad": Case(
        "loopnet_fad",
        "test segment",
        TEST_SEGMENTS,
        59_076 * 8,
        (500, 1_000, 2_000),
        "test_segments",
        _loopnet_fad,
        (lambda f: _loopnet_fad(f, embed=True), 60),
    ),
    # real PCM (59 KB); a variant's table and its int16 matrix (59 + 59 KB). Before issue 13: a float32
    # target (118 KB), the variant's float32 output (118 KB) and ac_rms's float64 copies of the whole
    # output and target (up to 3 x 236 KB at once): ~1 MB a test segment.
    "loopnet_gates": Case(
        "loopnet_gates",
        "test segment",
        TEST_SEGMENTS,
        59_076 * 3,
        (500, 1_000, 2_000),
        "test_segments",
        run_loopnet_gates,
    ),
    # the test PCM (59 KB) and ids; one bar a set.
    "evaluate_loopnet": Case(
        "evaluate_loopnet",
        "test segment",
        TEST_SEGMENTS,
        59_076 + 300,
        (1_000, 2_000, TEST_SEGMENTS),
        "test_segments",
        run_evaluate_loopnet,
    ),
}


# ------------------------------------------------------------------------------------------------
# Measuring
# ------------------------------------------------------------------------------------------------
def inputs_for(case: Case, n: int, root: Path) -> Path:
    folder = root / f"{case.inputs}-{n}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    if case.inputs == "loops":
        make_loops(n, folder)
    elif case.inputs == "phrases":
        make_phrases(n, folder)
    elif case.inputs == "train_segments":
        make_segments(n, 64, folder)
    else:
        make_segments(64, n, folder)
    (folder / "done").touch()
    print(f"  inputs {folder.name}: {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def peak_mb(case_name: str, folder: Path, step: bool) -> tuple[float, float]:
    """(peak RSS MB, CPU s) of the case's code path in a fresh interpreter."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", case_name, str(folder), *(["--step"] if step else [])],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode:
        raise SystemExit(f"{case_name} on {folder}: failed\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["peak_mb"], result["cpu_s"]


def child(case_name: str, folder: Path, step: bool) -> None:
    import resource

    import torch

    torch.set_num_threads(1)
    case = CASES[case_name]
    (case.step[0] if step else case.run)(folder)
    status = Path("/proc/self/status").read_text()
    hwm_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"peak_mb": hwm_kb / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}))  # MiB, as mem_mb on Slurm


def fit(sizes, peaks) -> tuple[float, float]:
    """Least squares peak MB = fixed + per_item * n; returns (fixed MB, bytes per item)."""
    slope, intercept = np.polyfit(np.asarray(sizes, float), np.asarray(peaks, float), 1)
    return float(intercept), float(slope * MB)


def declared_mem_mb() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as folder:
        return {rule: values["mem_mb"] for rule, values in declared(paper_dry_run(Path(folder))).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every measured size (e.g. 0.1 for a quick check)"
    )
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "loopgen-bench-memory")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--step", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.step)
        return
    mem_mb = declared_mem_mb()
    rows = []
    for name in args.cases:
        case = CASES[name]
        sizes = [max(8, round(n * args.scale)) for n in case.sizes]
        peaks = []
        for n in sizes:
            folder = inputs_for(case, n, args.workdir)
            peak, cpu = peak_mb(name, folder, step=False)
            peaks.append(peak)
            print(f"{name:22s} n={n:>8,d}: peak {peak:8.1f} MB ({cpu:.0f} CPU-s)", flush=True)
        fixed, per_item = fit(sizes, peaks)
        projected = fixed + per_item * case.full / MB
        step_note = ""
        if case.step:
            n_step = max(8, round(case.step[1] * args.scale)) if args.scale < 1 else case.step[1]
            step_peak, cpu = peak_mb(name, inputs_for(case, n_step, args.workdir), step=True)
            extra = max(0.0, step_peak - (fixed + per_item * n_step / MB))
            projected += extra
            step_note = f"+ step {extra:.0f} MB"
            print(
                f"{name:22s} one epoch at n={n_step:,d}: peak {step_peak:.1f} MB ({cpu:.0f} CPU-s): step adds {extra:.0f} MB",
                flush=True,
            )
        declared_mb = mem_mb.get(case.rule, 0)
        rows.append((case, fixed, per_item, projected, declared_mb, step_note))
    print(
        "\n| rule | data per job at full scale | fixed MB | bytes per item: measured (code) | projected MB | mem_mb | % |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for case, fixed, per_item, projected, declared_mb, step_note in rows:
        share = 100 * projected / declared_mb if declared_mb else float("nan")
        flag = " **> 60 %**" if share > 60 else ""
        print(
            f"| {case.rule} | {case.full:,d} {case.item}s | {fixed:.0f} {step_note} | {per_item:,.0f} ({case.analytic:,.0f}) "
            f"| {projected:,.0f} | {declared_mb:,d} | {share:.0f}{flag} |"
        )


if __name__ == "__main__":
    main()
