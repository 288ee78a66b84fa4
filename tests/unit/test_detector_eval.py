"""Loop detector evaluation (S Figure 2, ROC, threshold precision/recall) and the loop summary."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopgen import detector


def test_roc_auc_on_known_orderings():
    loop = np.array([True, False, True, False])
    assert detector.roc_auc(np.array([1.0, 2.0, 3.0, 4.0]), loop) == pytest.approx(0.75)  # 3 of 4 pairs
    assert detector.roc_auc(np.array([1.0, 3.0, 2.0, 4.0]), loop) == 1.0
    assert detector.roc_auc(np.array([4.0, 1.0, 3.0, 2.0]), loop) == 0.0
    assert detector.roc_auc(np.ones(4), loop) == 0.5  # ties count half
    assert np.isnan(detector.roc_auc(np.ones(3), np.ones(3, bool)))


def test_roc_curve_area_is_the_auc_and_it_runs_from_corner_to_corner():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(300), 2)  # with ties
    is_loop = rng.random(300) < 0.3 + 0.4 * (scores < 0.5)
    fpr, tpr, thresholds = detector.roc_curve(scores, is_loop)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(detector.roc_auc(scores, is_loop))
    k = 40  # each point is "score <= t": check one against a direct count
    assert tpr[k] == pytest.approx((is_loop & (scores <= thresholds[k])).sum() / is_loop.sum())


def test_precision_and_recall_of_the_threshold():
    scores = np.array([0.1, 0.2, 0.5, 0.9, 0.3])
    is_loop = np.array([True, False, True, False, False])
    m = detector.threshold_metrics(scores, is_loop, threshold=0.3)  # strictly below: 0.1, 0.2
    assert m == {"predicted_loops": 2, "true_positives": 1, "precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert np.isnan(detector.threshold_metrics(scores, is_loop, threshold=0.0)["precision"])


def test_figure2_groups_are_seeded_equal_sized_draws():
    rng = np.random.default_rng(1)
    loops, everything = rng.random(30), rng.random(500) + 1
    groups = detector.figure2_groups(loops, everything, n_groups=4, group_size=20, seed=7)
    assert list(groups) == ["loops", "random 1", "random 2", "random 3", "random 4"]
    assert all(len(g) == 20 for g in groups.values())
    assert set(groups["loops"]) <= set(loops) and len(set(groups["loops"])) == 20  # no repeats
    assert all(set(groups[f"random {k}"]) <= set(everything) for k in range(1, 5))
    again = detector.figure2_groups(loops, everything, n_groups=4, group_size=20, seed=7)
    assert all(np.array_equal(groups[k], again[k]) for k in groups)
    small = detector.figure2_groups(loops[:5], everything, n_groups=2, group_size=20, seed=7)
    assert [len(g) for g in small.values()] == [5, 5, 5]


def test_group_statistics_find_the_loop_group_lower():
    rng = np.random.default_rng(2)
    groups = {"loops": rng.random(50) * 0.1, "random 1": rng.random(50), "random 2": rng.random(50) * 0.1}
    rows = {r["group"]: r for r in detector.group_statistics(groups, threshold=0.2)}
    assert rows["loops"]["p_paired_t"] is None and rows["loops"]["below_threshold"] == 1.0
    assert rows["random 1"]["mean"] == pytest.approx(groups["random 1"].mean())
    assert rows["random 1"]["t_paired"] < 0 and rows["random 1"]["p_paired_t"] < 1e-6
    assert rows["random 1"]["p_mann_whitney"] < 1e-6
    assert rows["random 2"]["p_paired_t"] > 0.01  # same distribution: no difference found


def test_labels_join_phrases_on_file_and_start_bar():
    scores = pd.DataFrame(
        {
            "file_id": ["a", "a", "b", "c"],
            "start_bar": np.array([0, 1, 0, 0], np.int32),
            "loop_score": np.float32([0.1, 0.2, 0.3, 0.4]),
        }
    )
    labels = pd.DataFrame(
        {
            "file_id": ["a", "a", "a", "b"],
            "relpath": ["x"] * 4,
            "start_bar": np.array([0, 1, 2, 0], np.int32),
            "is_loop": [True, False, True, False],
        }
    )
    merged = detector.attach_labels(scores, labels).sort_values(["file_id", "start_bar"])
    assert merged[["file_id", "start_bar", "is_loop"]].values.tolist() == [
        ["a", 0, True],
        ["a", 1, False],
        ["b", 0, False],
    ]
    assert merged["loop_score"].tolist() == pytest.approx([0.1, 0.2, 0.3])


def test_evaluation_numbers_agree_with_their_parts():
    rng = np.random.default_rng(3)
    is_loop = rng.random(400) < 0.3
    scores = pd.DataFrame(
        {
            "file_id": ["f"] * 400,
            "start_bar": np.arange(400),
            "loop_score": np.where(is_loop, rng.random(400) * 0.5, rng.random(400)),
        }
    )
    labels = pd.DataFrame({"file_id": ["f"] * 400, "start_bar": np.arange(400), "is_loop": is_loop})
    metrics, groups, group_scores = detector.evaluate_detector(scores, 0.25, 4, 50, seed=0, labels=labels)
    scored = detector.attach_labels(scores, labels)
    assert metrics["phrases"] == 400 and metrics["loops"] == is_loop.sum()
    assert metrics["roc_auc"] == pytest.approx(detector.roc_auc(scored["loop_score"], is_loop))
    assert 0.7 < metrics["roc_auc"] < 0.9
    assert set(metrics) == set(detector.EVAL_METRICS_SCHEMA.names)
    assert set(groups[0]) == set(detector.EVAL_GROUPS_SCHEMA.names)
    assert len(group_scores) == 5


def test_loop_summary_counts_rows_per_shard_and_in_total(tmp_path):
    paths = {}
    for name, n in [("p0", 10), ("p1", 30), ("l0", 4), ("l1", 0)]:
        paths[name] = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"x": pa.array(range(n), pa.int32())}), paths[name])
    rows = detector.loop_summary([0, 1], [paths["p0"], paths["p1"]], [paths["l0"], paths["l1"]])
    assert [(r["shard"], r["phrases"], r["loops"]) for r in rows] == [("0", 10, 4), ("1", 30, 0), ("total", 40, 4)]
    assert rows[-1]["loop_fraction"] == pytest.approx(0.1)


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(4)
    history = [
        {"phase": p, "epoch": e, "lr": 1e-3, "train_loss": 1 / e, "val_loss": 1.1 / e}
        for p in detector.PHASES
        for e in range(1, 6)
    ]
    detector.plot_training_curve(history, tmp_path / "curve.png")
    rows = [{"split": s, "score": float(v)} for s, v in zip(["train", "val"] * 20, rng.random(40))]
    detector.plot_score_distribution(rows, 0.5, tmp_path / "scores.png")
    groups = {"loops": rng.random(10) * 0.1, "random 1": rng.random(10)}
    detector.plot_figure2(groups, detector.group_statistics(groups, 0.5), 0.5, tmp_path / "fig2.png")
    fpr, tpr, _ = detector.roc_curve(rng.random(20), rng.random(20) < 0.5)
    detector.plot_roc(
        fpr, tpr, 0.5, {"predicted_loops": 5, "true_positives": 3, "recall": 0.3}, 10, tmp_path / "roc.png"
    )
    for name in ("curve", "scores", "fig2", "roc"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_shard_keeps_exactly_its_phrases_below_the_threshold(tmp_path):
    import torch

    from loopgen.midi import PHRASE_SCHEMA
    from loopgen.models.loop_detector import LoopDetector, LoopDetectorConfig
    from loopgen.roll import ROLL_SHAPE, bar_correlation, pack_rolls
    from loopgen.tables import read_table, write_table

    rng = np.random.default_rng(5)
    packed = pack_rolls(rng.random((20, *ROLL_SHAPE)) < 0.1)
    corr = bar_correlation(packed)
    rows = [
        {
            "phrase_id": f"f{k}:{k}",
            "file_id": f"f{k}",
            "start_bar": k,
            "tempo_bpm": 120.0,
            "roll": packed[k].tobytes(),
            "corr": corr[k].tolist(),
            "n_drum_cells": 40,
            "n_bass_steps": 40,
        }
        for k in range(20)
    ]
    write_table(rows, tmp_path / "phrases.parquet", PHRASE_SCHEMA)
    model = LoopDetector(LoopDetectorConfig())
    model.centre.copy_(torch.randn(7))
    scores = detector.loop_scores(model, packed)
    model.threshold.fill_(float(np.median(scores)))

    n_in, n_out = detector.score_phrase_shard(model, tmp_path / "phrases.parquet", tmp_path / "loops.parquet")
    loops = read_table(tmp_path / "loops.parquet", detector.LOOP_SCHEMA)
    keep = scores < np.median(scores)
    assert keep.sum() == 10 and (n_in, n_out) == (20, 10)
    assert loops.column("phrase_id").to_pylist() == [f"f{k}:{k}" for k in np.flatnonzero(keep)]
    assert np.array_equal(loops.column("loop_score").to_numpy(), scores[keep])
    assert loops.schema.names == PHRASE_SCHEMA.names + ["loop_score"]

    scored = detector.score_phrase_shards(model, [tmp_path / "phrases.parquet"] * 2)
    assert len(scored) == 40 and np.array_equal(scored["loop_score"].to_numpy()[:20], scores)


def test_figure2_from_known_loop_ids_draws_random_groups_from_every_phrase(tmp_path):
    # Paper scale: no labels, 100 hand-picked loops; the random groups come from all phrases.
    rng = np.random.default_rng(4)
    n = 2000
    scores = pd.DataFrame(
        {
            "file_id": [f"{i // 10:04x}" for i in range(n)],
            "start_bar": np.arange(n) % 10,
            "loop_score": rng.random(n) + 1.0,
        }
    )
    known = rng.choice(n, 100, replace=False)
    scores.loc[known, "loop_score"] = rng.random(100) * 0.1  # the hand-picked loops score low
    ids = [f"{scores.file_id[i]}:{scores.start_bar[i]}" for i in known]
    path = tmp_path / "known_loops.txt"
    path.write_text("# hand-picked\n" + "\n".join(ids[:50]) + "\n\n" + "\n".join(f"{i}  # ok" for i in ids[50:]) + "\n")
    assert detector.read_known_loops(path) == ids

    metrics, rows, groups = detector.evaluate_detector(scores, 0.5, 4, 100, seed=1, known_loop_ids=ids)
    assert sorted(groups["loops"]) == sorted(scores.loop_score[known])
    everything = set(scores.loop_score)
    for k in range(1, 5):
        assert len(groups[f"random {k}"]) == 100 and set(groups[f"random {k}"]) <= everything
    assert metrics["phrases"] == n and metrics["loops"] == 100 and np.isnan(metrics["roc_auc"])
    assert metrics["recall"] == 1.0 and metrics["loop_score_mean"] == pytest.approx(scores.loop_score[known].mean())
    assert all(row["p_paired_t"] < 1e-10 for row in rows if row["group"] != "loops")

    # With labels covering only some phrases, random groups still come from every phrase.
    labels = pd.DataFrame({"file_id": scores.file_id[known], "start_bar": scores.start_bar[known], "is_loop": True})
    _, _, groups = detector.evaluate_detector(scores, 0.5, 2, 100, seed=1, labels=labels)
    assert any(score >= 1.0 for score in groups["random 1"])  # unlabelled phrases are drawn too
    with pytest.raises(ValueError, match="not a phrase id"):
        path.write_text("abc:def\n")
        detector.read_known_loops(path)
