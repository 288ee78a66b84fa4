"""Dump manifests: the same files the stages read, each in its shard, rewritten only when they change."""

from __future__ import annotations

import os

from loopgen.audio.dump import AUDIO_SUFFIXES
from loopgen.manifest import refresh, scan, shard_texts
from loopgen.midi import MIDI_SUFFIXES
from loopgen.shards import files_in_shard, list_files, shard_of


def make_dump(root):
    for path in ["a/b/c/one.mid", "a/two.MID", "three.midi", "x/notes.txt", "x/y/four.mid"]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(b"MThd" * len(path))
    os.symlink(root / "a", root / "linked_folder")  # not followed, as os.walk does not
    os.symlink(root / "three.midi", root / "x/link.mid")  # a link to a file is a file
    os.symlink(root / "gone.mid", root / "x/dangling.mid")


def test_scan_lists_exactly_the_files_the_stages_read(tmp_path):
    make_dump(tmp_path)
    found = scan(tmp_path, MIDI_SUFFIXES)
    assert [path for path, _, _ in found] == list_files(tmp_path, MIDI_SUFFIXES)
    sizes = {path: size for path, size, _ in found}
    assert sizes["a/b/c/one.mid"] == len(b"MThd") * len("a/b/c/one.mid") and sizes["x/dangling.mid"] == -1
    assert {path: mtime for path, _, mtime in found}["a/two.MID"] == (tmp_path / "a/two.MID").stat().st_mtime_ns


def test_each_file_is_in_the_manifest_of_its_shard(tmp_path):
    make_dump(tmp_path)
    texts = shard_texts(tmp_path, MIDI_SUFFIXES, 3)
    for shard, text in enumerate(texts):
        listed = [line.split("\t")[2] for line in text.splitlines()[1:]]
        assert listed == files_in_shard(tmp_path, MIDI_SUFFIXES, shard, 3)


def test_a_metadata_row_goes_with_its_file(tmp_path):
    (tmp_path / "audio").mkdir()
    names = [f"audio/loop-{i}.wav" for i in range(8)]
    for name in names:
        (tmp_path / name).write_bytes(b"RIFF")
    rows = [f"{name},128,C,House,Drums" for name in names] + ["../outside.wav,120,,,"]
    (tmp_path / "metadata.csv").write_text("file,bpm,key,genre,category\n" + "\n".join(rows) + "\n")
    texts = shard_texts(tmp_path, AUDIO_SUFFIXES, 2, metadata="metadata.csv")
    for name in names:
        shard = shard_of(name, 2)
        assert f"\t{name}\n" in texts[shard] and f"metadata\t{name}\t128" in texts[shard]
        assert name not in texts[1 - shard]
    assert sum("../outside.wav" in text for text in texts) == 1  # rows that leave the dump are kept too

    before = shard_texts(tmp_path, AUDIO_SUFFIXES, 2, metadata="metadata.csv")
    (tmp_path / "metadata.csv").write_text(
        (tmp_path / "metadata.csv").read_text().replace(f"{names[0]},128", f"{names[0]},126")
    )
    after = shard_texts(tmp_path, AUDIO_SUFFIXES, 2, metadata="metadata.csv")
    changed = [shard for shard in range(2) if before[shard] != after[shard]]
    assert changed == [shard_of(names[0], 2)]


def test_refresh_rewrites_only_existing_listings_that_changed(tmp_path):
    folder = tmp_path / "manifest"
    folder.mkdir()
    (folder / "shard-0.listing.tsv").write_text("same\n")
    (folder / "shard-1.listing.tsv").write_text("old\n")
    os.utime(folder / "shard-0.listing.tsv", ns=(1, 1))
    assert refresh(folder, ["same\n", "new\n", "no file yet\n"]) == [1]
    assert (folder / "shard-0.listing.tsv").stat().st_mtime_ns == 1  # untouched: its jobs do not rerun
    assert (folder / "shard-1.listing.tsv").read_text() == "new\n"
    assert not (folder / "shard-2.listing.tsv").exists()  # made by the workflow's rule, which records it
    assert sorted(p.name for p in folder.iterdir()) == ["shard-0.listing.tsv", "shard-1.listing.tsv"]
