"""loopgen: musical loop generation, symbolic (VQ-VAE + LSTM) and audio (LoopNet).

Kept import-light on purpose: the Snakefile imports loopgen.config at parse time, so nothing
heavy (torch, librosa, essentia) may be imported here.
"""

__version__ = "0.1.0"
