"""What every mer launcher does first with a sweep: its dir, with Hydra's `multirun.yaml`, and each
job's config composed and numbered as Hydra's own launchers do."""

from pathlib import Path

from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf, open_dict


def started_sweep_dir(config: DictConfig) -> Path:
    """The sweep's dir (`hydra.sweep.dir`), made, with the sweep's config in `multirun.yaml`."""
    sweep_dir = Path(config.hydra.sweep.dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    return sweep_dir


def job_config(hydra_context: HydraContext, config: DictConfig, overrides: list[str], idx: int) -> DictConfig:
    """A job's composed config, numbered `idx` as Hydra numbers sweep jobs. Composed in one thread:
    Hydra's config loader is not thread-safe."""
    composed = hydra_context.config_loader.load_sweep_config(config, overrides)
    with open_dict(composed):
        composed.hydra.job.id = f"{idx}"
        composed.hydra.job.num = idx
    return composed
