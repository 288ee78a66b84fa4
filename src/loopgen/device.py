"""Which device a workflow job uses, and the optional bf16 mixed precision of the trainings.

The device follows the resources a rule declares, not only the config's `device`:

- a rule without `gpu` in its resources runs on the CPU whatever `device` says: it holds no GPU
  token locally and asked Slurm for none, so a CUDA context there would sit beside a training
  job, fail on exclusive-process GPUs, or take a GPU from another user;
- a rule with `gpu: 1` runs on CUDA; when this torch cannot see CUDA it stops with one line,
  unless the config asks for CPU training explicitly (`device: cpu`), because a silent fallback
  turns a 3-hour GPU job into a 2-week CPU job that then hits its TIMEOUT.

Every job logs the device it chose (and the GPU's name).
"""

from __future__ import annotations

import contextlib
import logging
import os

import torch

log = logging.getLogger("loopgen")

PREFERENCES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")


class NoCudaError(RuntimeError):
    pass


def select_device(preference: str, gpus: int, cuda_available: bool | None = None) -> torch.device:
    """The device of a job that declares `gpus` GPUs under the config's `device` preference.

    auto and cuda mean the same for a job: CUDA when it declares a GPU, CPU otherwise."""
    if preference not in PREFERENCES:
        raise ValueError(f"device must be one of {PREFERENCES}, got {preference!r}")
    if not gpus or preference == "cpu":
        return torch.device("cpu")
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if not cuda_available:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise NoCudaError(
            f"this rule declares gpu: {gpus} but torch {torch.__version__} sees no CUDA device "
            f"(CUDA_VISIBLE_DEVICES={visible!r}, torch built for CUDA {torch.version.cuda}); install a "
            "CUDA build of torch (README, 'GPU and Slurm') or set device: cpu to train on the CPU on purpose"
        )
    return torch.device("cuda")


def describe(device: torch.device) -> str:
    """'cpu (N threads)' or 'cuda:0 (NVIDIA H200, 139 GiB, torch 2.x, CUDA 12.x)'."""
    if device.type != "cuda":
        return f"{device.type} ({torch.get_num_threads()} threads, torch {torch.__version__})"
    index = device.index if device.index is not None else torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    return (
        f"cuda:{index} ({props.name}, {props.total_memory / 2**30:.0f} GiB, torch {torch.__version__}, "
        f"CUDA {torch.version.cuda})"
    )


def rule_device(job) -> torch.device:
    """The device of a workflow script's job (`job` is the `snakemake` object): its
    `params.device` and `resources.gpu`. Logs the choice; stops with one line (SystemExit) when a
    GPU rule finds no CUDA."""
    gpus = int(getattr(job.resources, "gpu", 0) or 0)
    preference = job.params.device
    try:
        device = select_device(preference, gpus)
    except NoCudaError as error:
        log.error("%s", error)
        raise SystemExit(f"{job.rule}: {error}") from None
    reason = "the rule declares no gpu" if not gpus else f"device: {preference}"
    log.info("device %s; %s", describe(device), reason)
    configure_cuda(device)
    return device


def rule_precision(job) -> str:
    """The training precision of a workflow script's job: config `precision` (fp32 or bf16)."""
    precision = job.config.get("precision", "fp32")
    if precision not in PRECISIONS:
        raise SystemExit(f"precision must be one of {PRECISIONS}, got {precision!r}")
    log.info("precision %s%s", precision, " (bf16 autocast of the forward passes)" if precision == "bf16" else "")
    return precision


def autocast(device: torch.device | str, precision: str = "fp32"):
    """The context a training step's forward pass runs in: bf16 autocast when precision is bf16
    (on CUDA, or on CPU where it is slow but lets a test run the same code), else nothing.

    bf16 keeps fp32's exponent range, so no gradient scaler is needed; weights and optimiser state
    stay fp32, and losses should be computed from `.float()` outputs."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def configure_cuda(device: torch.device) -> None:
    """cuDNN autotuning for the fixed-shape batches of the trainings (not bit-reproducible across
    runs on GPU anyway: README, 'GPU reproducibility')."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
