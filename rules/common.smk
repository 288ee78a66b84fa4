# Input functions, wildcard constraints and helpers shared by the stage files.
import hashlib

from loopgen import manifest

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


# loopgen.evaluation.symbolic re-exports these modules: a rule that imports it depends on all of them.
SYMBOLIC_EVAL_MODULES = (
    "evaluation/symbolic.py",
    "evaluation/symbolic_sets.py",
    "evaluation/symbolic_metrics.py",
    "evaluation/symbolic_tables.py",
    "evaluation/symbolic_figures.py",
)


def shards(section):
    """Shard indices of a sharded stage (midi or audio)."""
    return range(config[section]["n_shards"])


# Raw dumps and their manifests (loopgen/manifest.py says why): the raw stages read a dump as an
# ancient() folder, so its top-level modification time reruns nothing, and their shard's manifest
# as a normal input, so a file added, removed or replaced anywhere in the dump reruns its shard.
# Where the workflow makes the dump itself (the demo), the demo's labels file stands for it: a
# remade demo remakes every listing.
DEMO_DUMP_LABELS = {
    DEMO_MIDI_DIR: "resources/demo/labels/midi_windows.parquet",
    DEMO_AUDIO_DIR: "resources/demo/labels/audio_loops.parquet",
}
# section -> which files of its dump count and what its shard jobs read as ancient(); see watch_dump.
DUMPS: dict[str, dict] = {}


def raw_dump(section):
    """Input entries for a stage's raw dump (config[section]['raw_dir'])."""
    raw_dir = config[section]["raw_dir"]
    made_by_workflow = {"made": DEMO_DUMP_LABELS[raw_dir]} if raw_dir in DEMO_DUMP_LABELS else {}
    return {"raw": ancient(raw_dir), **made_by_workflow}


def watch_dump(section, suffixes, metadata=None, settings=None):
    """Give config[section]'s dump per-shard manifests, and bring their listings up to date.

    `settings`: what decides the outputs a shard job reads as ancient() (the audio shards read
    loops.parquet so); a change remakes every manifest, so every shard job reruns. (A param of the
    shard jobs themselves would not do: Snakemake does not check it when the job upstream reruns.)
    Runs while the Snakefile is read, before the DAG is built, so a changed listing is newer than
    its manifest. Only the main process does it (a cluster job reads the Snakefile again)."""
    DUMPS[section] = {"suffixes": suffixes, "metadata": metadata, "settings": settings}
    raw_dir, folder = config[section]["raw_dir"], Path("results") / section / "manifest"
    if not (workflow.is_main_process and folder.is_dir() and Path(raw_dir).is_dir()):
        return
    texts = manifest.shard_texts(raw_dir, suffixes, config[section]["n_shards"], metadata)
    changed = manifest.refresh(folder, texts)
    if changed:
        print(f"{section}: files changed in {raw_dir}: shards {changed} will rerun", file=sys.stderr)


def manifest_of(section):
    return f"results/{section}/manifest/shard-{{shard}}.tsv"


# --- input functions of the symbolic, baseline and evaluation stages (they read those files' globals) ---


def limit_name(limit):
    """A rejection limit as a file-name part: None -> 'none', 0.01 -> '0.01'."""
    return "none" if limit is None else format(limit, "g")


def baseline_samples(baseline):
    return f"results/samples/{baseline}/samples.parquet"


def symbolic_eval_sets():
    """Every generated set evaluated: name -> its description (loopgen SampleSet) and samples file."""
    sets = {}
    for mode in SAMPLING["modes"]:
        sets[f"vqvae_lstm-{mode}"] = dict(
            experiment="generation", model="vqvae_lstm", mode=mode, limit=None, path=f"{SAMPLES_DIR}/{mode}.parquet"
        )
    mode = REJECTION["mode"]
    for name, limit in REJECTION_LIMITS.items():
        sets[f"vqvae_lstm-{mode}-limit-{name}"] = dict(
            experiment="rejection",
            model="vqvae_lstm",
            mode=mode,
            limit=limit,
            path=f"{SAMPLES_DIR}/rejection/{mode}-limit-{name}.parquet",
        )
    for baseline in BASELINES:  # rules/baselines.smk
        sets[baseline] = dict(
            experiment="generation",
            model=baseline,
            mode=BASELINE_MODE[baseline],
            limit=None,
            path=baseline_samples(baseline),
        )
    for baseline in BASELINE_REJECTION:
        mode = BASELINE_MODE[baseline]
        for name, limit in REJECTION_LIMITS.items():
            sets[f"{baseline}-{mode}-limit-{name}"] = dict(
                experiment="rejection",
                model=baseline,
                mode=mode,
                limit=limit,
                path=f"results/samples/{baseline}/rejection/{mode}-limit-{name}.parquet",
            )
    return sets
