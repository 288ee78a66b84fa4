from collections import Counter

from loopgen.shards import files_in_shard, list_files, shard_of


def test_shard_is_stable_and_in_range():
    keys = [f"{i:x}/{i * 7919:032x}.mid" for i in range(2000)]
    first = [shard_of(k, 5) for k in keys]
    assert first == [shard_of(k, 5) for k in keys]
    counts = Counter(first)
    assert set(counts) == set(range(5))
    # A hash, not a round robin: every shard gets a fair share (2000/5 = 400 expected).
    assert all(300 < c < 500 for c in counts.values())


def test_shards_partition_the_tree(tmp_path):
    for i in range(30):
        sub = tmp_path / f"{i % 4:x}"
        sub.mkdir(exist_ok=True)
        (sub / f"song{i}.mid").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not midi")
    everything = list_files(tmp_path, (".mid", ".midi"))
    assert len(everything) == 30
    parts = [files_in_shard(tmp_path, (".mid", ".midi"), s, 3) for s in range(3)]
    assert sorted(sum(parts, [])) == everything
