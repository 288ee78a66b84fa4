"""LoopNet (SPEC §6–§7), one concern a file:

- variants: constants, the `loopnet:` config defaults, how the five variants differ;
- data: segment + feature shards joined, global features scaled, controls -> network inputs;
- losses: STFT helpers and the variants' losses (L Eq. 2, 3, with config weights);
- griffin_lim: fast Griffin-Lim (STFT variant, FAD baseline);
- train: resumable, deterministic training and the saved model;
- synth: `LoopNet`, a loaded model that turns controls into audio; the test sets, the GL baseline;
- gates: the trained variants against trivial outputs (silence, another real bar);
- transfer: `loopgen synth` (timbre transfer, MIDI drums);
- synthetic: small rendered shards for the unit tests and the benchmark.

The names the workflow scripts, the CLI and the tests use are re-exported here.
"""

from loopgen.audio.segments import from_pcm, to_pcm
from loopgen.loopnet import (
    gates,
    transfer,
)
from loopgen.loopnet.data import (
    GlobalScaler,
    SegmentAudio,
    SegmentSet,
    frames_to_samples,
    load_segments,
    network_inputs,
    normalise_activations,
    read_segment_audio,
)
from loopgen.loopnet.gates import gate_row
from loopgen.loopnet.griffin_lim import griffin_lim, spectral_convergence
from loopgen.loopnet.losses import (
    istft,
    log_magnitude,
    log_spectral_l1,
    multi_resolution_stft_loss,
    spectral_l1,
    stft,
    variant_loss,
    waveform_loss,
)
from loopgen.loopnet.synth import (
    CPU_BATCH,
    LoopNet,
    griffin_lim_baseline,
    pcm_matrix,
    read_set,
    read_set_audio,
    safe_name,
    synthesize_test,
    write_set,
)
from loopgen.loopnet.synthetic import synthetic_shards
from loopgen.loopnet.train import save_loopnet, train_loopnet
from loopgen.loopnet.transfer import (
    add_synth_args,
    drum_onsets_from_midi,
    rhythm_from_audio,
    rhythm_from_midi,
    run_synth,
)
from loopgen.loopnet.variants import (
    DEFAULTS,
    FEATURE_HOP,
    GRIFFIN_LIM,
    N_SAMPLES,
    SAMPLE_RATE,
    SYNTH_SCHEMA,
    TIME_VARYING,
    TRAINING_KEYS,
    VARIANTS,
    LossSpec,
    settings,
    variant_setup,
)
