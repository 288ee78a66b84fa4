# Stage: demo (see ../shared/DESIGN.md for what it owns).
# The embedded demo corpus, generated from config demo.seed: an LMD-shaped MIDI tree and a
# Looperman-shaped audio dump, with their ground truth kept outside the dumps (resources/demo/labels).


rule demo_midi:
    output:
        tree=directory(DEMO_MIDI_DIR),
        labels="resources/demo/labels/midi_windows.parquet",
    log:
        "logs/demo/demo_midi.log",
    benchmark:
        "logs/demo/demo_midi.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    params:
        seed=config["demo"]["seed"],
        n_files=config["demo"]["midi_songs"],
        code=code_version("demo/", "render.py"),
    script:
        "../workflow/scripts/demo_midi.py"


rule demo_audio:
    output:
        dump=directory(DEMO_AUDIO_DIR),
        labels="resources/demo/labels/audio_loops.parquet",
    log:
        "logs/demo/demo_audio.log",
    benchmark:
        "logs/demo/demo_audio.benchmark.tsv"
    conda:
        "../envs/loopgen.yaml"
    params:
        seed=config["demo"]["seed"],
        n_files=config["demo"]["audio_loops"],
        code=code_version("demo/", "render.py"),
    script:
        "../workflow/scripts/demo_audio.py"


# The demo is part of `all` only where the config reads its dumps (raw_dir left at the demo's).
TARGETS["demo"] = [
    *(
        [DEMO_MIDI_DIR, "resources/demo/labels/midi_windows.parquet"]
        if config["midi"]["raw_dir"] == DEMO_MIDI_DIR
        else []
    ),
    *(
        [DEMO_AUDIO_DIR, "resources/demo/labels/audio_loops.parquet"]
        if config["audio"]["raw_dir"] == DEMO_AUDIO_DIR
        else []
    ),
]
