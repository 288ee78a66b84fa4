"""The embedded demo corpus: an LMD-shaped MIDI tree and a Looperman-shaped audio loop dump,
generated deterministically from a seed, with ground-truth labels kept outside both dumps.

- `midi_corpus.write_midi_corpus`  -> `<tree>/<hex>/<md5>.mid` + `midi_windows.parquet`
- `audio_corpus.write_audio_corpus` -> `<dump>/audio/<name>.wav`, `<dump>/metadata.csv` + `audio_loops.parquet`

Both are built from the musical pieces in `patterns` (drum grooves, bass lines, chords).
"""
