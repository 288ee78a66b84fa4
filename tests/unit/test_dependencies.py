"""Every dependency pyproject.toml declares is imported somewhere (or is named below with the reason)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Declared but never imported by our code, on purpose.
NOT_IMPORTED = {
    "snakemake-executor-plugin-slurm": "loaded by Snakemake for `--executor slurm` (profiles/slurm)",
    # timbral_models is installed with --no-deps (Makefile); these are the modules it imports.
    "pyloudnorm": "imported by timbral_models",
    "six": "imported by timbral_models",
    "ruff": "a command (make lint)",
    "cdpam": "its wheel carries CDPAM's weights; loopgen.models.cdpam reads the file, never imports it",
    "snakefmt": "a command (make lint)",
}


def declared() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return [re.match(r"[A-Za-z0-9_.\-]+", r).group(0) for r in requirements]


def imported_top_level_modules() -> set[str]:
    sources = [
        *REPO.glob("src/**/*.py"),
        *REPO.glob("workflow/**/*.py"),
        *REPO.glob("tests/**/*.py"),
        *REPO.glob("benchmarks/*.py"),
        REPO / "Snakefile",
        *REPO.glob("rules/*.smk"),
    ]
    pattern = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][A-Za-z0-9_]*)", flags=re.M)
    return {name for source in sources for name in pattern.findall(source.read_text())}


def test_every_declared_dependency_is_used():
    modules_of: dict[str, set[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            modules_of.setdefault(distribution.lower().replace("_", "-"), set()).add(module)
    imported = imported_top_level_modules()
    unused = [
        name
        for name in declared()
        if name.lower().replace("_", "-") not in NOT_IMPORTED
        and not modules_of.get(name.lower().replace("_", "-"), set()) & imported
    ]
    assert unused == [], f"declared in pyproject.toml but imported nowhere: {unused}"


def test_the_exceptions_are_still_true():
    timbral = Path(importlib.util.find_spec("timbral_models").origin).parent
    timbral_imports = {
        m for f in timbral.glob("*.py") for m in re.findall(r"^\s*import\s+(\w+)", f.read_text(), flags=re.M)
    }
    assert {"pyloudnorm", "six"} <= timbral_imports
    assert "--executor slurm" in (REPO / "README.md").read_text() or (REPO / "profiles/slurm").is_dir()
