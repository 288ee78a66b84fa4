"""One model per file, nanoGPT style: a hyper-parameter dataclass and the torch module."""
