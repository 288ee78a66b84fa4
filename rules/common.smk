# Input functions, wildcard constraints and helpers shared by the stage files.
import hashlib

LIBRARY = Path(workflow.basedir) / "src" / "loopgen"

# Each stage file registers its final outputs here: TARGETS["midi"] = [...].
TARGETS: dict[str, list[str]] = {}


wildcard_constraints:
    shard=r"\d+",


# Slurm time limit of the resumable GPU jobs (trainings, rejection sweep), in minutes. 4 h fits
# the MaxTime of nearly every GPU partition (many stop at 4-24 h; sbatch rejects a job above it).
# A job that needs longer is killed at the limit and resumes from its checkpoint when Snakemake
# resubmits it (profiles/slurm: retries), so the work survives; raise it where the site allows.
RESUMABLE_RUNTIME = 240


def all_targets():
    return [path for stage_targets in TARGETS.values() for path in stage_targets]


def code_version(*modules):
    """Hash of library sources (paths relative to src/loopgen, files or folders).

    Snakemake does not see edits to imported modules; passing this as a param makes a code
    change rerun the rules that use the code.
    """
    digest = hashlib.sha1()
    for module in modules:
        path = LIBRARY / module
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def shards(section):
    """Shard indices of a sharded stage (midi or audio)."""
    return range(config[section]["n_shards"])
