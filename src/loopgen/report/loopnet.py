"""Section "LoopNet": tables, the paper website's grid (test loops x {real, Griffin-Lim, each
variant}, a player and a spectrogram per cell), timbre transfer, and symbolic -> audio: generated
symbolic loops played through LoopNet's MIDI control next to their FluidSynth render."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loopgen.report import html
from loopgen.report.media import copy_figure, write_pianoroll, write_spectrogram, write_wav

TABLE_CAPTIONS = {
    "table1_fad": "Table 1: Fréchet Audio Distance of each synthesized test set to the real test segments",
    "table2_coherence": "Table 2: timbral feature coherence (does the output follow the asked feature?)",
}
REAL, GRIFFIN_LIM = "real", "griffin_lim"
SET_LABELS = {REAL: "real", GRIFFIN_LIM: "Griffin-Lim"}


def segment_paths(results: Path) -> tuple[list[Path], list[Path]]:
    audio = results / "audio"
    return sorted((audio / "segments").glob("shard-*.parquet")), sorted((audio / "features").glob("shard-*.parquet"))


def synthesized_sets(results: Path, wanted: set[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Every results/loopnet/test/<set>.parquet: set name -> segment id -> int16 PCM, Griffin-Lim
    first, then the variants by name; only the segments in `wanted` (all when None), decoded a
    batch at a time (a paper-scale set is 290 MB and the page shows a few bars of it)."""
    from loopgen.loopnet import SYNTH_SCHEMA
    from loopgen.tables import iter_batches

    sets = {}
    for path in synthesized_paths(results):
        rows = {}
        for batch in iter_batches(path, SYNTH_SCHEMA, ["segment_id", "pcm"], 256):
            ids = batch["segment_id"].to_pylist()
            keep = [k for k, segment_id in enumerate(ids) if wanted is None or segment_id in wanted]
            if keep:
                pcm = np.asarray(batch["pcm"].take(keep).flatten(), np.int16).reshape(len(keep), -1)
                rows.update(zip([ids[k] for k in keep], pcm))
        sets[path.stem] = rows
    return sets


def synthesized_paths(results: Path) -> list[Path]:
    return sorted((results / "loopnet" / "test").glob("*.parquet"), key=lambda p: (p.stem != GRIFFIN_LIM, p.stem))


def variants(results: Path) -> list[str]:
    """Trained LoopNet variants (results/models/loopnet-<variant>/model.pt)."""
    return sorted(p.parent.name.removeprefix("loopnet-") for p in (results / "models").glob("loopnet-*/model.pt"))


def _audio_cell(out: Path, stem: str, pcm: np.ndarray, rate: int, kind: str, caption: str = "", **data) -> str:
    write_wav(pcm, rate, out / "audio" / f"{stem}.wav")
    audio = pcm.astype(np.float32) / 32768.0 if pcm.dtype == np.int16 else pcm
    write_spectrogram(audio, out / "img" / f"{stem}.png")
    return html.cell(f"ln-{stem}", f"img/{stem}.png", f"audio/{stem}.wav", kind, caption, **data)


def test_grid(results: Path, out: Path, n_rows: int) -> str:
    from loopgen.loopnet import SAMPLE_RATE, SYNTH_SCHEMA, read_segment_audio
    from loopgen.tables import read_table

    real = read_segment_audio(segment_paths(results)[0], split="test")
    in_sets = [
        set(read_table(p, SYNTH_SCHEMA, ["segment_id"])["segment_id"].to_pylist()) for p in synthesized_paths(results)
    ]
    ids = [i for i in real.segment_id if all(i in segments for segments in in_sets)][:n_rows]
    sets = {REAL: dict(zip(real.segment_id, real.pcm)), **synthesized_sets(results, set(ids))}
    rows = []
    for k, segment_id in enumerate(ids):
        rows.append(
            (
                f"loop {k + 1}",
                [
                    _audio_cell(
                        out,
                        f"test-{name}-{k}",
                        pcms[segment_id],
                        SAMPLE_RATE,
                        "loopnet",
                        "",
                        data_set=name,
                        data_segment=segment_id,
                    )
                    for name, pcms in sets.items()
                ],
            )
        )
    return html.grid("loopnet-test", [SET_LABELS.get(name, name) for name in sets], rows)


def _transfer_pairs(loop_ids: list[str], n: int) -> list[tuple[int, int]]:
    """n (rhythm, timbre) index pairs from different loops: segment i with the next one of another loop."""
    pairs = []
    for i in range(len(loop_ids)):
        j = next((j for j in range(i + 1, len(loop_ids)) if loop_ids[j] != loop_ids[i]), None)
        if j is not None and len(pairs) < n:
            pairs.append((i, j))
    return pairs


def transfer_grid(results: Path, out: Path, variant: str, n: int, device: str) -> str:
    """Rhythm of one test segment, timbre and harmony of another, resynthesized by `variant`."""
    from loopgen.loopnet import SAMPLE_RATE, LoopNet, load_segments

    model = LoopNet.load(results / "models" / f"loopnet-{variant}", device)
    test = load_segments(*segment_paths(results), split="test")
    rows = []
    for k, (i, j) in enumerate(_transfer_pairs(test.loop_id, n)):
        result = model.synthesize(test.frames[[i]], model.scaler.scale(test.global_raw[[j]]))[0]
        rows.append(
            (
                f"example {k + 1}",
                [
                    _audio_cell(
                        out,
                        f"transfer-rhythm-{k}",
                        test.pcm[i],
                        SAMPLE_RATE,
                        "loopnet",
                        test.segment_id[i],
                        data_role="rhythm",
                    ),
                    _audio_cell(
                        out,
                        f"transfer-timbre-{k}",
                        test.pcm[j],
                        SAMPLE_RATE,
                        "loopnet",
                        test.segment_id[j],
                        data_role="timbre",
                    ),
                    _audio_cell(
                        out, f"transfer-result-{k}", result, SAMPLE_RATE, "loopnet", variant, data_role="result"
                    ),
                ],
            )
        )
    return html.grid("transfer", ["rhythm loop", "timbre loop", f"result ({variant})"], rows)


def with_drums(packed: np.ndarray) -> np.ndarray:
    """Indices of the loops with a drum hit LoopNet can play (kick, snare or a hi-hat)."""
    from loopgen.loopnet.transfer import MIDI_DRUM_CHANNEL
    from loopgen.roll import unpack_rolls

    return np.flatnonzero(unpack_rolls(packed)[:, :, sorted(MIDI_DRUM_CHANNEL)].any(axis=(1, 2)))


def symbolic_to_audio(results: Path, out: Path, variant: str, n: int, device: str) -> str:
    """The first n loops with drums of the paper's model (its first set) through FluidSynth and
    through LoopNet's MIDI control (kick, snare, hi-hats), with the timbre of a test segment, both
    8 bars at 130 BPM."""
    from loopgen.evaluation.symbolic import read_sample_set
    from loopgen.loopnet import SAMPLE_RATE, LoopNet, load_segments, rhythm_from_midi
    from loopgen.loopnet.transfer import TARGET_BPM
    from loopgen.report.symbolic import sample_sets
    from loopgen.symbolic import sample_table, write_listening_files

    generated = sample_sets(results)
    test = load_segments(*segment_paths(results), split="test")
    if not generated or not len(test):
        return html.note("No generated symbolic loops or no test segments.")
    column = generated[0]
    packed, scores = read_sample_set(column.path)
    chosen = with_drums(packed)[:n]
    paths = write_listening_files(
        sample_table(packed[chosen], scores[chosen], f"midi2audio-{column.name}"),
        out / "audio",
        len(chosen),
        TARGET_BPM,
    )
    model = LoopNet.load(results / "models" / f"loopnet-{variant}", device)
    rows = []
    for k, (index, midi_path) in enumerate(zip(chosen, paths)):
        timbre = k % len(test)
        frames = rhythm_from_midi(midi_path, float(test.frames[timbre, 3].max()))
        bars = model.synthesize(frames, model.scaler.scale(np.repeat(test.global_raw[[timbre]], len(frames), 0)))
        audio = np.zeros(8 * bars.shape[1], np.float32)  # 8 bars, even when the last bars have no hits
        audio[: bars.size] = bars.reshape(-1)[: len(audio)]
        stem = midi_path.stem
        data = dict(data_model=column.model, data_mode=column.mode, data_sample=int(index))
        roll_image = write_pianoroll(packed[index], out / "img" / f"{stem}.png").relative_to(out).as_posix()
        rows.append(
            (
                f"{column.label}, loop {index + 1}",
                [
                    html.cell(
                        f"s2a-{stem}-fluidsynth",
                        roll_image,
                        f"audio/{stem}.wav",
                        "loop130",
                        "FluidSynth (GM)",
                        f"audio/{stem}.mid",
                        **data,
                    ),
                    _audio_cell(
                        out,
                        f"{stem}-loopnet",
                        audio,
                        SAMPLE_RATE,
                        "loop130",
                        f"LoopNet {variant}, timbre of {test.segment_id[timbre]}",
                        **data,
                    ),
                ],
            )
        )
    if not rows:
        return html.note(f"None of the loops of {column.label} has a kick, snare or hi-hat for LoopNet to play.")
    return html.grid("symbolic-to-audio", ["FluidSynth render", "LoopNet (MIDI control)"], rows)


def section(results: Path, out: Path, n_rows: int, n_transfer: int, n_symbolic: int, variant: str, device: str) -> str:
    parts = [
        html.note("Audio: 1-bar drum loops at 130 BPM, 16 kHz. FAD is computed with the embedding named in its table.")
    ]
    parts += html.tables_of(results / "eval" / "loopnet", "*", results, TABLE_CAPTIONS)
    figures = [
        html.plot(copy_figure(path, out), path.stem, path.stem.replace("_", " "))
        for path in sorted((results / "eval" / "loopnet").glob("*.png"))
    ]
    parts.append(f'<div class="plots">{"".join(figures)}</div>')
    if not (results / "loopnet" / "test").is_dir():
        return "\n".join([*parts, html.note("No synthesized test sets yet.")])
    parts += ["<h3>Reconstruction of test loops</h3>", test_grid(results, out, n_rows)]
    trained = variants(results)
    if trained:
        variant = variant if variant in trained else trained[0]
        parts += ["<h3>Timbre transfer</h3>", transfer_grid(results, out, variant, n_transfer, device)]
        parts += [
            "<h3>Symbolic → audio</h3>",
            html.note(
                "Generated symbolic loops: their MIDI rendered with FluidSynth, and their drum track "
                f"(kick, snare, hi-hats) driving LoopNet {variant}; both 8 bars at 130 BPM."
            ),
            symbolic_to_audio(results, out, variant, n_symbolic, device),
        ]
    return "\n".join(parts)
