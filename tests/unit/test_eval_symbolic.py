import logging

import numpy as np
import pandas as pd
import pytest
import torch

from loopgen.evaluation import symbolic as ev
from loopgen.evaluation.embeddings import (
    EmbeddingNetConfig,
    RandomEmbeddingNet,
    embed_rolls,
    flattened_size,
    random_embedding_net,
)
from loopgen.roll import N_DRUM, ROLL_SHAPE, pack_rolls

KICK, SNARE = 0, 1
BASS_C2 = N_DRUM + (36 - 24)  # column of MIDI pitch 36


def empty_rolls(n=1):
    return np.zeros((n, *ROLL_SHAPE), dtype=bool)


def random_packed(n, seed, density=0.05):
    return pack_rolls(np.random.default_rng(seed).random((n, *ROLL_SHAPE)) < density)


# ---------------------------------------------------------------------------------------------
# UP and ND on rolls with known answers


def test_up_and_nd_of_one_hand_made_bar():
    rolls = empty_rolls()
    rolls[0, [0, 4, 8, 12], KICK] = True
    rolls[0, [4, 12], SNARE] = True
    rolls[0, 0:8, BASS_C2] = True  # one held bass note over steps 0-7
    # Bar 0: columns kick, snare, C2 -> UP 3; active steps 0-7 plus 8 and 12 -> ND 10.
    np.testing.assert_array_equal(ev.unique_pitches_per_bar(rolls), [[3, 0, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(ev.active_steps_per_bar(rolls), [[10, 0, 0, 0, 0, 0, 0, 0]])
    assert ev.musical_style(pack_rolls(rolls)) == {"UP": 3 / 8, "ND": 10 / 8}


def test_up_counts_drum_columns_and_nd_counts_steps_not_notes():
    rolls = empty_rolls(2)
    rolls[0, :, :N_DRUM] = True  # every drum on every step: 9 columns, 16 steps per bar
    rolls[1, ::2, BASS_C2] = True  # one bass pitch on every other step
    rolls[1, ::2, BASS_C2 + 1] = True  # and a second pitch on the same steps
    np.testing.assert_array_equal(ev.unique_pitches_per_bar(rolls), [[9] * 8, [2] * 8])
    np.testing.assert_array_equal(ev.active_steps_per_bar(rolls), [[16] * 8, [8] * 8])
    # Averaged over bars and loops; batching does not change it.
    style = ev.musical_style(pack_rolls(rolls))
    assert style == {"UP": 5.5, "ND": 12.0}
    assert ev.musical_style(pack_rolls(rolls), batch_size=1) == style


def test_musical_style_of_an_empty_set_is_nan():
    assert all(np.isnan(v) for v in ev.musical_style(np.zeros((0, 912), np.uint8)).values())


# ---------------------------------------------------------------------------------------------
# The random embedding network


def test_flatten_size_is_128_from_length_128_with_or_without_padding():
    for padding in (0, 1):
        assert flattened_size(EmbeddingNetConfig(padding=padding)) == 128
        net = RandomEmbeddingNet(EmbeddingNetConfig(padding=padding)).eval()
        assert net.features(torch.zeros(3, 57, 128)).shape == (3, 128)


def test_network_is_the_spec_architecture():
    net = random_embedding_net(0)
    conv1, bn1, act1, conv2, bn2, act2, _ = net.features
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel_size, conv1.stride, conv1.bias) == (
        57,
        8,
        (3,),
        (2,),
        None,
    )
    assert (conv2.in_channels, conv2.out_channels, conv2.kernel_size, conv2.stride, conv2.bias) == (
        8,
        8,
        (3,),
        (4,),
        None,
    )
    # the released CNN_Metric: 57*8*3 + 8*8*3 (bias-free convs) + 2 * 2*8 (BatchNorm) + 128*128 + 128
    assert sum(p.numel() for p in net.parameters()) == 1368 + 192 + 32 + 16512 == 18_104
    assert isinstance(bn1, torch.nn.BatchNorm1d) and isinstance(bn2, torch.nn.BatchNorm1d)
    assert act1.negative_slope == act2.negative_slope == 0.2
    assert (net.project.in_features, net.project.out_features) == (128, 128)


def test_network_is_fixed_by_its_seed_and_never_trained():
    packed = random_packed(20, seed=1)
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    net = random_embedding_net(5)
    assert torch.equal(torch.rand(3), expected_next)  # building a network leaves the global RNG alone
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())

    first = embed_rolls(net, packed)
    assert first.shape == (20, 128) and first.dtype == np.float32
    # Eval mode: no batch statistics, so the batch size changes nothing beyond float rounding.
    np.testing.assert_allclose(embed_rolls(net, packed, batch_size=3), first, atol=1e-6)
    assert np.array_equal(embed_rolls(random_embedding_net(5), packed), first)
    assert not np.allclose(embed_rolls(random_embedding_net(6), packed), first)
    assert torch.equal(net.features[1].running_mean, torch.zeros(8))  # BatchNorm never updated


def test_embedding_refuses_a_network_in_training_mode():
    with pytest.raises(ValueError, match="eval mode"):
        embed_rolls(random_embedding_net(0).train(), random_packed(4, seed=0))


# ---------------------------------------------------------------------------------------------
# P/R/D/C per network


def settings(**overrides):
    return ev.SimilaritySettings(**{"k": 5, "n_networks": 3, "n_samples": 10_000, "seed": 11, **overrides})


def test_a_set_against_itself_has_full_precision_recall_and_coverage():
    packed = random_packed(120, seed=2)
    for result in ev.similarity(packed, packed.copy(), settings()):
        assert result["precision"] == result["recall"] == result["coverage"] == 1.0


def test_networks_draw_seeded_subsets_of_the_requested_size():
    real, fake = random_packed(300, seed=3), random_packed(200, seed=4, density=0.08)
    first = ev.similarity(real, fake, settings(n_samples=100))
    assert [r["n_loops"] for r in first] == [100, 100, 100]
    assert ev.similarity(real, fake, settings(n_samples=100)) == first  # same seed, same numbers
    assert len({r["density"] for r in first}) > 1  # each network is a different embedding


def test_set_rows_hold_every_table2_number_and_nan_when_too_few_loops(caplog):
    real = random_packed(60, seed=5)
    rows = ev.set_rows(
        ev.SampleSet("generation", "vqvae_lstm", "top_k"),
        real,
        random_packed(40, seed=6),
        np.full(40, 0.25),
        settings(),
    )
    metrics = pd.DataFrame(rows)
    assert sorted(metrics["metric"].unique()) == sorted(ev.TABLE2_COLUMNS)
    assert (metrics["metric"].isin(list("PRDC"))).sum() == 4 * 3
    assert metrics.loc[metrics["metric"] == "LS", "value"].item() == 0.25

    with caplog.at_level(logging.WARNING):
        rows = ev.set_rows(
            ev.SampleSet("rejection", "vqvae_lstm", "top_k", 0.001),
            real,
            random_packed(3, seed=7),
            np.zeros(3),
            settings(),
        )
    assert "P/R/D/C need more than k" in caplog.text
    prdc = [r["value"] for r in rows if r["metric"] in "PRDC"]
    assert len(prdc) == 12 and all(np.isnan(prdc))


# ---------------------------------------------------------------------------------------------
# Tables and figures


def test_f1_reproduces_the_papers_table3_from_its_table2():
    for name, (_ls, _up, _nd, p, r, d, c) in ev.PAPER_TABLE2.items():
        if name in ev.PAPER_TABLE3:
            f1_pr, f1_dc = ev.PAPER_TABLE3[name]
            assert ev.f1(p[0], r[0]) == pytest.approx(f1_pr, abs=6e-4), name
            assert ev.f1(d[0], c[0]) == pytest.approx(f1_dc, abs=6e-4), name
    assert ev.f1(0.0, 0.0) == 0.0 and np.isnan(ev.f1(float("nan"), 1.0))


def fake_metrics():
    """Rows as the workflow gathers them: training set, two modes, a two-limit sweep, table 1."""
    rows = ev.training_rows(random_packed(30, seed=8), np.full(30, 0.01))
    for experiment, mode, limit in (
        ("generation", "top_k", None),
        ("generation", "temperature", None),
        ("rejection", "top_k", 0.1),
        ("rejection", "top_k", None),
    ):
        base = {"experiment": experiment, "model": "vqvae_lstm", "mode": mode, "limit": limit, "n_loops": 50}
        rows += [
            {**base, "metric": m, "network": None, "value": v} for m, v in (("LS", 0.2), ("UP", 5.0), ("ND", 14.0))
        ]
        for network, (p, r, d, c) in enumerate(((0.7, 0.6, 1.2, 0.9), (0.8, 0.7, 1.4, 0.95))):
            rows += [{**base, "metric": m, "network": network, "value": v} for m, v in zip("PRDC", (p, r, d, c))]
    rows += ev.reconstruction_rows("vqvae", 6.5e-3, 40)
    accept = pd.DataFrame(
        {"mode": ["top_k", "top_k"], "limit": [None, 0.1], "tried": [50, 400], "acceptance_rate": [1.0, 0.125]}
    )
    return pd.DataFrame(rows + ev.acceptance_rows(accept, "vqvae_lstm"))


def test_table2_has_the_papers_columns_and_statistics():
    table = ev.table2(fake_metrics())
    for column in (*ev.TABLE2_COLUMNS, *ev.TABLE3_COLUMNS):
        assert column in table.columns
    assert list(table["set"]) == [
        "training set",
        "vqvae_lstm temperature",
        "vqvae_lstm top_k",
        "vqvae_lstm top_k, no loop-score limit",
        "vqvae_lstm top_k, loop score < 0.1",
    ]
    top_k = table.set_index("set").loc["vqvae_lstm top_k"]
    assert top_k["P"] == pytest.approx(0.75) and top_k["P std"] == pytest.approx(0.05)  # np.std, ddof 0, as the paper
    assert top_k["F1 P&R"] == pytest.approx(ev.f1(0.75, 0.65))
    assert np.isnan(table.set_index("set").loc["training set", "P"])


def test_tables_are_written_as_csv_and_markdown(tmp_path):
    paths = ev.write_tables(fake_metrics(), tmp_path)
    table2 = pd.read_csv(tmp_path / "table2_metrics.csv")
    assert {"set", *ev.TABLE2_COLUMNS, "F1 P&R", "F1 D&C"} <= set(table2.columns)
    assert len(table2) == 3  # training set + two modes; the sweep goes to Figure 4
    assert list(pd.read_csv(tmp_path / "table3_f1.csv").columns) == ["set", "F1 P&R", "F1 D&C"]
    assert pd.read_csv(tmp_path / "table1_reconstruction.csv")["reconstruction error"].item() == pytest.approx(6.5e-3)
    markdown = paths["table2_metrics"].read_text()
    assert "| set | LS | UP | ND | P | R | D | C | loops |" in markdown
    assert "0.750 ± 0.050" in markdown and "paper: VQ-VAE+LSTM top-k (k = 30)" in markdown


def test_figures_are_written(tmp_path):
    ev.plot_rejection_sweep(fake_metrics(), tmp_path / "figure4.png")
    ev.plot_pianorolls(
        {"training loops": random_packed(3, seed=9), "top_k": random_packed(2, seed=10)}, tmp_path / "rolls.png", n=3
    )
    for name in ("figure4.png", "rolls.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_rows_of_a_sample_file_are_left_out_with_a_warning(tmp_path, caplog):
    import pyarrow as pa

    from loopgen.symbolic import SAMPLE_SCHEMA
    from loopgen.tables import write_table

    good = random_packed(2, seed=12)
    rows = [
        {"sample_id": "a", "roll": good[0].tobytes(), "loop_score": 0.5},
        {"sample_id": "b", "roll": b"\x00" * 100, "loop_score": 0.1},  # truncated roll
        {"sample_id": "c", "roll": good[1].tobytes(), "loop_score": None},  # no score
        {"sample_id": "d", "roll": good[1].tobytes(), "loop_score": 0.25},
    ]
    write_table(pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA), tmp_path / "mode.parquet", SAMPLE_SCHEMA)
    with caplog.at_level(logging.WARNING):
        packed, scores = ev.read_sample_set(tmp_path / "mode.parquet")
    assert "mode.parquet: 2 of 4 loops left out" in caplog.text
    np.testing.assert_array_equal(packed, good)
    np.testing.assert_array_equal(scores, [0.5, 0.25])


def test_the_real_set_is_the_training_split_never_the_validation_songs(tmp_path):
    # The released code compares with original_data[:num_train_origin]: the VQ-VAE's training loops.
    import pyarrow as pa

    from loopgen.detector import LOOP_SCHEMA
    from loopgen.symbolic import CODES_SCHEMA
    from loopgen.tables import write_table

    packed = random_packed(5, seed=13)
    ids = [f"song{i}:0" for i in range(5)]
    loops = [
        {
            "phrase_id": pid,
            "file_id": pid[:5],
            "start_bar": 0,
            "tempo_bpm": 120.0,
            "roll": packed[i].tobytes(),
            "corr": [0.0] * 28,
            "n_drum_cells": 32,
            "n_bass_steps": 32,
            "loop_score": 0.1 * i,
        }
        for i, pid in enumerate(ids)
    ]
    shard_a, shard_b = tmp_path / "shard-0.parquet", tmp_path / "shard-1.parquet"
    write_table(pa.Table.from_pylist(loops[:3], schema=LOOP_SCHEMA), shard_a, LOOP_SCHEMA)
    write_table(pa.Table.from_pylist(loops[3:], schema=LOOP_SCHEMA), shard_b, LOOP_SCHEMA)
    split = ["train", "val", "train", "val", "train"]
    codes = [{"phrase_id": pid, "file_id": pid[:5], "split": s, "codes": [0] * 32} for pid, s in zip(ids, split)]
    write_table(pa.Table.from_pylist(codes, schema=CODES_SCHEMA), tmp_path / "codes.parquet", CODES_SCHEMA)

    real, scores = ev.read_training_loops([shard_a, shard_b], tmp_path / "codes.parquet")
    np.testing.assert_array_equal(real, packed[[0, 2, 4]])
    np.testing.assert_allclose(scores, [0.0, 0.2, 0.4])
    np.testing.assert_array_equal(ev.validation_rolls([shard_a, shard_b], tmp_path / "codes.parquet"), packed[[1, 3]])
    with pytest.raises(ValueError, match="split must be"):
        ev.read_split_loops([shard_a], tmp_path / "codes.parquet", "test")
    from loopgen.symbolic import training_split_size

    assert training_split_size(tmp_path / "codes.parquet") == 3  # generated sets' default size


def test_sets_read_a_row_group_at_a_time_equal_the_whole_files(tmp_path, monkeypatch):
    """Several files of several row groups each (issue 13 reads them a row group at a time into
    one array): the rolls and scores in file and row order, as pyarrow reads the files whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from loopgen import tables
    from loopgen.evaluation import symbolic_sets
    from loopgen.symbolic import SAMPLE_SCHEMA
    from loopgen.tables import write_table

    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 7)
    paths = []
    for i, n in enumerate((20, 0, 9)):
        packed = random_packed(n, seed=i) if n else np.zeros((0, 912), np.uint8)
        table = pa.table(
            {
                "sample_id": [f"{i}-{j}" for j in range(n)],
                "roll": pa.array([r.tobytes() for r in packed], pa.binary()),
                "loop_score": pa.array(np.linspace(0, 1, n), pa.float32()),
            },
            schema=SAMPLE_SCHEMA,
        )
        write_table(table, tmp_path / f"set-{i}.parquet", SAMPLE_SCHEMA)
        paths.append(tmp_path / f"set-{i}.parquet")
    assert pq.ParquetFile(paths[0]).metadata.num_row_groups == 3
    whole = pa.concat_tables([pq.read_table(p) for p in paths])
    packed, scores = symbolic_sets._read_rolls_and_scores(paths, SAMPLE_SCHEMA)
    expected = np.frombuffer(b"".join(whole.column("roll").to_pylist()), np.uint8).reshape(-1, 912)
    np.testing.assert_array_equal(packed, expected)
    np.testing.assert_array_equal(scores, whole.column("loop_score").to_numpy().astype(np.float64))
