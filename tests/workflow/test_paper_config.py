"""config/paper.yaml: the papers' scale with no demo value left, and a workflow that plans on a real-looking dump."""

from __future__ import annotations

import re
import shutil

import yaml
from snakemake.utils import update_config

from loopgen.config import load_schema, validate

from .conftest import REPO, snakemake

PAPER = REPO / "config" / "paper.yaml"
SCHEMA = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
MODEL_SECTIONS = ("vqvae", "prior", "sampling", "loopnet")


def merged_paper_config() -> dict:
    """config.yaml, then paper.yaml on top: what Snakemake's --configfile does (its own update_config)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load(PAPER.read_text()))
    config["midi"]["raw_dir"] = config["audio"]["raw_dir"] = "."  # validated below without the dumps
    return validate(config, SCHEMA)


def test_paper_config_keeps_no_demo_setting():
    config = merged_paper_config()
    defaults = validate({"midi": {"raw_dir": "."}, "audio": {"raw_dir": "."}}, SCHEMA)
    for section in MODEL_SECTIONS:  # the schema's defaults are the papers' settings
        assert config[section] == defaults[section], section
    assert config["detector"]["labels"] is None
    assert config["sampling"]["n_samples"] is None and config["vqvae"]["channels"] == 128  # None: the training split
    assert config["midi"]["n_shards"] >= 16 and config["audio"]["n_shards"] >= 16
    assert config["device"] == "cuda"


def _job_counts(stdout: str) -> dict[str, int]:
    table = stdout.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_dry_run_plans_the_paper_workflow_on_a_raw_dump(tmp_path):
    lmd = tmp_path / "resources" / "raw" / "lmd_full"
    looperman = tmp_path / "resources" / "raw" / "looperman"
    for i, prefix in enumerate("0a3f"):
        (lmd / prefix).mkdir(parents=True, exist_ok=True)
        (lmd / prefix / f"{prefix}{i:031x}.mid").write_bytes(b"MThd")
    looperman.mkdir(parents=True)
    (looperman / "metadata.csv").write_text("file,bpm,key,genre,category\nloop1.wav,128,C,house,drums\n")
    (looperman / "loop1.wav").write_bytes(b"RIFF")
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")

    result = snakemake(tmp_path, "-n", f"--configfile={PAPER}", "--", "all")
    counts = _job_counts(result.stdout)
    paper = yaml.safe_load(PAPER.read_text())
    assert counts["extract_phrases"] == counts["score_phrases"] == paper["midi"]["n_shards"]
    assert counts["segment_loops"] == counts["extract_features"] == paper["audio"]["n_shards"]
    assert counts["train_vqvae"] == counts["train_prior"] == 1 and counts["train_loopnet"] == 5
    assert "demo_midi" not in counts and "demo_audio" not in counts  # no demo corpus is built
    assert "evaluate_detector" not in counts  # no demo labels
    assert not (tmp_path / "resources" / "demo").exists()
    # Slurm: the GPU trainings fit a 4 h partition limit (they resume from checkpoints on retry).
    runtimes = {rule: int(minutes) for rule, minutes in JOB_RUNTIME.findall(result.stdout)}
    for rule in ("train_vqvae", "train_prior", "train_loopnet"):
        assert runtimes[rule] <= 240, (rule, runtimes[rule])


JOB_RUNTIME = re.compile(r"^rule (\w+):\n(?:    .*\n)*?    resources: .*?runtime=(\d+)", re.M)
