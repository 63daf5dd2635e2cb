"""The options of `hydra/launcher=gpus` and their defaults, written once here and registered in
Hydra's ConfigStore; Hydra's plugin scan imports this light module, and the launcher's own
machinery loads only when a sweep uses it."""

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class GpusLauncherConf:
    """Options of `hydra/launcher=gpus` (`hydra.launcher.jobs_per_gpu=2` etc.)."""

    _target_: str = "hydra_plugins.mer_launcher.gpus_launcher.GpusLauncher"
    jobs_per_gpu: int = 1  # jobs packed on one GPU (small jobs leave a GPU idle between steps)
    gpus: list | None = None  # GPU indices to use; None = all that torch sees
    n_jobs: int | None = None  # without GPUs: concurrent CPU jobs; None = 2 (or 1 on one core)
    mps: bool = False  # run packed GPU jobs under CUDA MPS, so their kernels overlap on the GPU
    # forked: a fresh process per job, forked from a preloaded server | warm: one long-lived
    # process per slot runs its jobs one after another | exec: a new interpreter per job
    start: str = "forked"
    # after Ctrl-C, seconds the running jobs get to end before they are killed (a job stuck in a
    # GPU call, or one that ignores the signal, would otherwise hold the sweep open); a second
    # Ctrl-C kills them at once
    stop_grace_s: float = 30.0


ConfigStore.instance().store(group="hydra/launcher", name="gpus", node=GpusLauncherConf, provider="mer")


@dataclass
class PackedLauncherConf:
    """Options of `hydra/launcher=packed` (`hydra.launcher.folds_per_pack=8`)."""

    _target_: str = "hydra_plugins.mer_launcher.packed_launcher.PackedLauncher"
    # folds trained together as one network; None: all of a configuration's folds on a CPU, and on a
    # GPU as many as the measured memory model says fit (mer.train.packed.folds_that_fit)
    folds_per_pack: int | None = None


ConfigStore.instance().store(group="hydra/launcher", name="packed", node=PackedLauncherConf, provider="mer")
