"""Run the real workflow with Snakemake on the tiny config, in a temporary working directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = Path(__file__).with_name("tiny_config.yaml")
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run Snakemake on the repository's Snakefile inside `workdir` (where config.yaml lives)."""
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result


def write_config(workdir: Path, **overrides) -> dict:
    """Write the tiny config (with section-wise overrides) as workdir/config.yaml."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    for section, values in overrides.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return config


@pytest.fixture(scope="session")
def tiny_workdir(tmp_path_factory) -> Path:
    """A working directory with the tiny config; tests that run targets share its cached results."""
    workdir = tmp_path_factory.mktemp("tiny")
    write_config(workdir)
    return workdir


@pytest.fixture
def fresh_workdir(tmp_path) -> Path:
    write_config(tmp_path)
    return tmp_path


def copy_results(src: Path, dst: Path) -> None:
    """Copy a finished run (results, resources, Snakemake metadata) so a test may change it."""
    for name in ("results", "resources", ".snakemake", "config.yaml"):
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name, symlinks=True, dirs_exist_ok=True)
        elif (src / name).exists():
            shutil.copy2(src / name, dst / name)
