"""evaluate_symbolic on the tiny config: every generated set against the training loops, table 1-3
files with the paper's columns, Figure 4 and the pianoroll image."""

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from loopgen.evaluation.symbolic import METRICS_SCHEMA, TABLE2_COLUMNS, TABLE3_COLUMNS
from loopgen.tables import read_table

from .conftest import snakemake

pytestmark = pytest.mark.workflow

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def evaluated(tiny_workdir):
    snakemake(tiny_workdir, "evaluate_symbolic")
    return tiny_workdir


def test_every_number_is_in_the_metrics_table(evaluated):
    config = yaml.safe_load((evaluated / "config.yaml").read_text())
    metrics = read_table(evaluated / "results/eval/symbolic.parquet", METRICS_SCHEMA).to_pandas()
    n_networks = config.get("evaluation", {}).get("symbolic_embedding_networks", 10)

    training = metrics[metrics["experiment"] == "training"].set_index("metric")["value"]
    assert sorted(training.index) == ["LS", "ND", "UP"]
    assert 0 < training["UP"] <= 57 and 0 < training["ND"] <= 16

    default_modes = {"temperature": 0, "top_k": 0, "top_p": 0, "top_p_released": 0}  # the schema's
    modes = sorted(config["sampling"].get("modes", default_modes))
    generation = metrics[metrics["experiment"] == "generation"]
    assert sorted(generation["mode"].unique()) == modes
    for mode, rows in generation.groupby("mode"):
        prdc = rows[rows["metric"].isin(list("PRDC"))]
        assert len(prdc) == 4 * n_networks and sorted(prdc["network"].unique()) == list(range(n_networks))
        for metric in "PRC":
            assert prdc.loc[prdc["metric"] == metric, "value"].between(0, 1).all(), (mode, metric)
        assert (prdc.loc[prdc["metric"] == "D", "value"] >= 0).all()

    sweep = metrics[(metrics["experiment"] == "rejection") & (metrics["metric"] == "LS")]
    limits = config["sampling"].get("rejection", {}).get("limits", [None, 1, 0.1, 0.01, 0.001])
    assert len(sweep) == len(limits)
    for limit, ls in zip(sweep["limit"], sweep["value"]):
        # A limit keeps only loops scoring below it (NaN: nothing was kept).
        assert math.isnan(limit) or math.isnan(ls) or ls < limit
    accepted = metrics[metrics["metric"] == "acceptance_rate"]["value"]
    assert len(accepted) == len(limits) and accepted.between(0, 1).all()

    error = metrics.loc[metrics["metric"] == "reconstruction_error", "value"].item()
    assert 0 <= error < 0.5


def test_tables_and_figures(evaluated):
    folder = evaluated / "results/eval/symbolic"
    table2 = pd.read_csv(folder / "table2_metrics.csv")
    assert {"set", *TABLE2_COLUMNS, *TABLE3_COLUMNS} <= set(table2.columns)
    assert table2["set"].iloc[0] == "training set"
    assert list(pd.read_csv(folder / "table3_f1.csv").columns) == ["set", *TABLE3_COLUMNS]
    assert "| set | LS | UP | ND | P | R | D | C | loops |" in (folder / "table2_metrics.md").read_text()
    assert np.isfinite(pd.read_csv(folder / "table1_reconstruction.csv")["reconstruction error"]).all()
    for name in ("figure4_rejection_sweep.png", "pianorolls.png"):
        assert (folder / name).read_bytes()[:8] == PNG
