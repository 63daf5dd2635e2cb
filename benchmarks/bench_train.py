"""`make bench-train`: per-job framework overhead of `mer-train` against a bare PyTorch loop.

Both sides run one LOSO job on the same cached tensors with the same model, optimiser, batch order
length and number of steps, alternating, `--repeats` times in one process; medians are printed.
The mer side is `mer.train.train.train()` (what each `mer-train` job runs after Hydra composes the
config: cache lookup, DataModule, Lightning fit, predict, predictions.csv and metrics.json); the
bare side is a `for x, y in batches: loss.backward(); opt.step()` loop plus a forward pass on the
test subject.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from mer.config import CONFIG_DIR
from mer.preprocess.prepare import prepare
from mer.train.backbone import mobilenet_v2_features
from mer.train.datamodule import LosoDataModule
from mer.train.heads import head_loss
from mer.train.train import train

ROOT = Path(__file__).resolve().parents[1]


def bare_job(cache, cfg) -> None:
    """The same job as a plain PyTorch loop: same tensors, model, loss, optimiser and step count."""
    torch.manual_seed(cfg.seed)
    dm = LosoDataModule(cache, list(cfg.input.channels), fold=cfg.data.fold,
                        batch_size=cfg.datamodule.batch_size, seed=cfg.seed)
    dm.setup()
    trunk, width = mobilenet_v2_features(len(dm.channels), cfg.model.width_mult)
    net = torch.nn.Sequential(trunk, torch.nn.Dropout(cfg.model.dropout),
                              torch.nn.Linear(width, len(dm.classes)))
    loss_fn = head_loss(cfg.head.name, p=cfg.head.get("p", 2), margin=cfg.head.get("margin", 1.0))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.model.optimizer.lr,
                           weight_decay=cfg.model.optimizer.weight_decay)
    for _ in range(cfg.trainer.max_epochs):
        net.train()
        for x, y, _ in dm.train_dataloader():
            loss = loss_fn(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        for x, _, _ in dm.predict_dataloader():
            net(x).argmax(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    args = parser.parse_args()
    overrides = [f"paths.output_dir={args.out}", f"preprocess.size={args.size}",
                 f"trainer.max_epochs={args.epochs}", "trainer.enable_progress_bar=false",
                 "head=hinge", "input=uv", "data.fold=0"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    cache = prepare(cfg)
    times: dict[str, list[float]] = {"mer-train job": [], "bare PyTorch loop": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as run_dir:
            started = time.perf_counter()
            train(cfg, Path(run_dir))
            times["mer-train job"].append(time.perf_counter() - started)
        started = time.perf_counter()
        bare_job(cache, cfg)
        times["bare PyTorch loop"].append(time.perf_counter() - started)
    framework, bare = (statistics.median(t) for t in times.values())
    print(f"\none LOSO job: {len(cache.samples)} samples, {args.size}², {args.epochs} epochs, "
          f"u+v, hinge head; {torch.get_num_threads()} torch threads; median of {args.repeats}")
    print("| side | wall time |\n|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} s |")
    print(f"| overhead ratio | {framework / bare:.3f}× (target ≤ 1.15×) |")


if __name__ == "__main__":
    main()
