"""Audio loop data (SPEC sections 2, 5 and 6): from a Looperman-style dump to tempo-checked loops,
the detector's bar correlations, 1-bar segments at 130 BPM and LoopNet's conditioning features.

Modules: dump (metadata, file accounting, loading), tempo (Font & Serra confidence), stretch
(rubberband + resampling), segments (bars, split), bar_corr (mel bar correlation), features
(activations, envelope, HPCP, timbre), timbre (the AudioCommons models), pipeline (the stage
functions the workflow scripts call), synth (rendered test signals).
"""
