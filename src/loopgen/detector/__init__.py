"""The loop detector (SPEC section 2): One-Class Deep SVDD trained on the bar correlations of audio
loops, then used to score every MIDI phrase; phrases below its threshold form the loop set.
The network itself is loopgen.models.loop_detector.

Data flow (rules/detector.smk):
    results/audio/bar_corr.parquet --train_loop_detector--> results/models/loop_detector/
        --score_phrases--> results/loops/shard-{i}.parquet (LOOP_SCHEMA) --summarise_loops-->
        --evaluate_detector--> results/eval/detector/ (with labels or known loops)

One idea per module, imported in this order (each only uses the ones above it):
    data        the audio bar correlations in (rows that cannot be used rejected with a reason),
                their rescaling to the MIDI scale, the train/validation split
    scoring     loop scores of correlation vectors and packed rolls; phrase shards -> loop shards
    training    the two training phases, the threshold, saving and loading the trained detector
    evaluation  against known or labelled loops: S Figure 2 groups and tests, ROC, precision, recall
    figures     training curve, training-score histogram, S Figure 2, ROC
This package re-exports their names, so `from loopgen import detector; detector.loop_scores`
keeps working.

`loop_scores(model, packed)` is the one function every stage uses to score packed rolls.
"""

from loopgen.detector.data import N_CORR, read_bar_corr, rescale_like_midi, split_indices
from loopgen.detector.evaluation import (
    EVAL_GROUPS_SCHEMA,
    EVAL_METRICS_SCHEMA,
    attach_labels,
    evaluate_detector,
    figure2_groups,
    group_statistics,
    read_known_loops,
    roc_auc,
    roc_curve,
    threshold_metrics,
)
from loopgen.detector.figures import plot_figure2, plot_roc, plot_score_distribution, plot_training_curve
from loopgen.detector.scoring import (
    LOOP_SCHEMA,
    SCORE_BATCH,
    correlation_scores,
    loop_scores,
    loop_summary,
    score_phrase_shard,
    score_phrase_shards,
)

# Names the old single module had in scope, which tests reach through `detector.`; kept so that
# the move changes no caller.
from loopgen.detector.training import (
    HISTORY_COLUMNS,
    PHASES,
    TRAINING_SCORE_SCHEMA,
    TrainedDetector,
    TrainSettings,
    _svdd_loss,
    load_detector,
    log_sigma_threshold,
    mean_encoding,
    save_detector,
    train_detector,
    training_score_rows,
)
from loopgen.roll import packed_column
from loopgen.training import Checkpoint
