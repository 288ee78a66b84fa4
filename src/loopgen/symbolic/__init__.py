"""Symbolic loop generation (SPEC section 3): VQ-VAE on the loop set, LSTM prior on its codes,
sampling in three modes, rejection sampling by loop score.

Data flow (rules/symbolic.smk):
    results/loops/shard-*.parquet --train_vqvae--> results/models/vqvae/
        --encode_loops--> results/symbolic/codes.parquet --train_prior--> results/models/lstm_prior/
        --sample_loops--> results/samples/vqvae_lstm/{mode}.parquet (SAMPLE_SCHEMA)
        --rejection_sweep--> results/samples/vqvae_lstm/rejection/{mode}-limit-{limit}.parquet

Rolls stay packed ((N, 912) uint8, 0.7 GB for the paper's 752k loops) and are unpacked one batch
at a time on the training device (loopgen.sampling.unpack_batch).

One idea per module, imported in this order (each only uses the ones above it):
    data            loop shards in, the codes table out
    splits          train/validation splits by song (or loop), derived seeds
    trainer         settings and the resumable epoch loop both models share, history files
    vqvae_training  the VQ-VAE: training, encoding, reconstruction error (table 1)
    prior_training  the LSTM prior and its first-code distribution
    generation      sampling, rejection sampling, sample and acceptance tables
    rejection       the nested rejection limits from one resumable stream (the sweep)
    listening       MIDI/WAV listening files
This package re-exports their public names, so `from loopgen import symbolic; symbolic.train_vqvae`
keeps working.
"""

from loopgen.symbolic.data import (
    CODES_SCHEMA,
    LOOP_COLUMNS,
    LoopSet,
    codes_table,
    packed_to_arrow,
    read_codes,
    read_loops,
    training_split_size,
)
from loopgen.symbolic.generation import (
    ACCEPTANCE_SCHEMA,
    SAMPLE_SCHEMA,
    LoopSampler,
    ScoreFn,
    acceptance_markdown,
    acceptance_table,
    rejection_sample,
    sample_loops,
    sample_table,
)
from loopgen.symbolic.listening import loop_seconds, write_listening_files
from loopgen.symbolic.prior_training import PRIOR_PANELS, first_code_distribution, load_prior, save_prior, train_prior
from loopgen.symbolic.rejection import nested_rejection
from loopgen.symbolic.splits import PRIOR_SPLIT_SALT, VQVAE_SPLIT_SALT, derived_seed, split_mask, validation_mask
from loopgen.symbolic.trainer import TrainSettings, plot_history, settings_from, write_history
from loopgen.symbolic.vqvae_training import (
    VQVAE_PANELS,
    codebook_perplexity,
    column_density,
    encode_loops,
    hamming,
    kept_row,
    load_vqvae,
    reconstruction_error,
    save_vqvae,
    train_vqvae,
)
