"""Evaluation of symbolic loop generation (S §4-§5, SPEC §4): the paper's tables 1-3, Figure 4
and pianoroll images.

    LS    mean loop score of a set's loops (the detector's score, stored with every loop)
    UP    distinct active columns per bar (drum columns count), averaged over bars and loops
    ND    active steps (of 16) per bar, averaged over bars and loops
    P R D C  improved precision/recall and density/coverage (k = 5) of a generated set against the
          training loops, on the embeddings of random, never trained CNNs (loopgen.evaluation.
          embeddings): one value per network (10), each on a random subset (10,000) of either set
    F1    harmonic mean of P and R and of D and C, from the means over networks (paper table 3)
    reconstruction error  mean Hamming distance of the VQ-VAE on its validation songs (table 1)

Every number is one row of METRICS_SCHEMA (results/eval/symbolic.parquet); the tables and figures
are drawn from those rows.

One idea per module, imported in this order (each only uses the ones above it):
    symbolic_sets     which loops a row describes (SampleSet), reading loop and sample sets
    symbolic_metrics  METRICS_SCHEMA, UP/ND, P/R/D/C, the rows of each experiment
    symbolic_tables   tables 1-3 (CSV + Markdown) beside the paper's numbers
    symbolic_figures  Figure 4 (the rejection sweep) and pianoroll images
This module re-exports their public names, so `from loopgen.evaluation import symbolic as ev;
ev.table2` keeps working.
"""

from loopgen.evaluation.symbolic_figures import (
    PIANOROLL_STREAM,
    plot_pianorolls,
    plot_rejection_sweep,
    random_rows,
)
from loopgen.evaluation.symbolic_metrics import (
    BATCH,
    METRICS_SCHEMA,
    SIMILARITY_METRICS,
    SimilaritySettings,
    acceptance_rows,
    active_steps_per_bar,
    musical_style,
    reconstruction_rows,
    set_rows,
    similarity,
    training_rows,
    unique_pitches_per_bar,
)
from loopgen.evaluation.symbolic_sets import (
    SampleSet,
    read_sample_set,
    read_split_loops,
    read_training_loops,
    validation_rolls,
)
from loopgen.evaluation.symbolic_tables import (
    PAPER_TABLE1,
    PAPER_TABLE2,
    PAPER_TABLE3,
    TABLE2_COLUMNS,
    TABLE3_COLUMNS,
    f1,
    markdown_table,
    table1,
    table2,
    write_tables,
)

__all__ = [
    "BATCH",
    "METRICS_SCHEMA",
    "PAPER_TABLE1",
    "PAPER_TABLE2",
    "PAPER_TABLE3",
    "PIANOROLL_STREAM",
    "SIMILARITY_METRICS",
    "TABLE2_COLUMNS",
    "TABLE3_COLUMNS",
    "SampleSet",
    "SimilaritySettings",
    "acceptance_rows",
    "active_steps_per_bar",
    "f1",
    "markdown_table",
    "musical_style",
    "plot_pianorolls",
    "plot_rejection_sweep",
    "random_rows",
    "read_sample_set",
    "read_split_loops",
    "read_training_loops",
    "reconstruction_rows",
    "set_rows",
    "similarity",
    "table1",
    "table2",
    "training_rows",
    "unique_pitches_per_bar",
    "validation_rolls",
    "write_tables",
]
