"""`make bench-train`: per model (`--models`, each at its preset's input and sizes), the time per
training step and the framework overhead of a `mer-train` job against a bare PyTorch loop.

Both sides run one LOSO job on the same cached tensors with the same model, optimiser, batch order
length and number of steps, alternating, `--repeats` times in one process; medians are printed.
The time per step is the bare loop's training-loop time over its steps (forward, backward and
update: the network's own cost on this machine); the overhead ratio is the whole mer-train job's
time over the bare loop's.
The mer side is `mer.train.job.train()` (what each `mer-train` job runs after Hydra composes the
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
from omegaconf import OmegaConf

from mer.architectures import ARCHITECTURES
from mer.config import CONFIG_DIR
from mer.train.backbone import make_trunk
from mer.train.cuda_graph import GraphedTraining
from mer.train.datamodule import LosoDataModule
from mer.train.heads import make_head
from mer.train.job import fold_cache, train

ROOT = Path(__file__).resolve().parents[1]
GPU_OVERRIDES = ["trainer=gpu", "model.channels_last=true"]


def _where(device: torch.device, extra: list[str]) -> str:
    """What the job ran on, for the printed table."""
    where = (
        f"{torch.cuda.get_device_name(device)}, bf16, channels_last"
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} torch threads"
    )
    return ", ".join([where, *extra])


def bare_job(cache, cfg, device: torch.device) -> tuple[int, float]:
    """The same job as a plain PyTorch loop: same tensors, model, loss, optimiser and step count.

    On a GPU it gets what `GPU_OVERRIDES` give mer (the fold's tensors on the device, bf16
    autocast, NHWC memory, fused Adam) and, as configured, cuDNN autotuning (`trainer.benchmark`)
    and full batches replayed from CUDA graphs (`model.cuda_graph`).
    """
    torch.manual_seed(cfg.seed)
    dm = LosoDataModule(
        cache,
        list(cfg.input.channels),
        fold=cfg.data.fold,
        batch_size=cfg.datamodule.batch_size,
        seed=cfg.seed,
        input_size=cfg.model.input_size,
    )
    dm.setup()
    x, y = (t.to(device) for t in dm.train_tensors())
    test_x = dm.x[torch.as_tensor(dm.test_index)].to(device)
    trunk, width = make_trunk(cfg.model.arch, len(dm.channels), width_mult=cfg.model.width_mult)
    net = torch.nn.Sequential(trunk, torch.nn.Dropout(cfg.model.dropout), torch.nn.Linear(width, len(dm.classes))).to(
        device
    )
    on_gpu = device.type == "cuda"
    graphs: dict[tuple[int, ...], GraphedTraining] = {}  # by batch shape, as mer keeps them
    use_graphs = on_gpu and cfg.model.cuda_graph
    if on_gpu:
        net, x, test_x = (t.to(memory_format=torch.channels_last) for t in (net, x, test_x))
        torch.backends.cudnn.benchmark = bool(cfg.trainer.get("benchmark"))
    loss_fn = make_head(OmegaConf.to_container(cfg.head)).loss(None)
    opt = torch.optim.Adam(
        net.parameters(), lr=cfg.model.optimizer.lr, weight_decay=cfg.model.optimizer.weight_decay, fused=on_gpu
    )
    batch = cfg.datamodule.batch_size
    steps, loop_started = 0, time.perf_counter()
    for _ in range(cfg.trainer.max_epochs):
        net.train()
        order = torch.randperm(len(x), device=device)
        for start in range(0, len(x), batch):
            rows = order[start : start + batch]
            inputs, shape = x[rows], (len(rows), *x.shape[1:])
            with torch.autocast(device.type, torch.bfloat16, enabled=on_gpu):
                if use_graphs and shape not in graphs:
                    graphs[shape] = GraphedTraining(torch.nn.Sequential(*net), inputs)
                loss = loss_fn(graphs.get(shape, net)(inputs), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
    if on_gpu:
        torch.cuda.synchronize()
    loop_s = time.perf_counter() - loop_started
    net.eval()
    with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=on_gpu):
        for start in range(0, len(test_x), batch):
            net(test_x[start : start + batch]).argmax(1).cpu()
    return steps, loop_s


def bench_model(model: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """One model's job through mer-train and as a bare loop, `args.repeats` times each,
    alternating: median seconds of each side, and the bare loop's median ms per step."""
    overrides = [
        f"model={model}",
        f"paths.output_dir={args.out}",
        f"trainer.max_epochs={args.epochs}",
        "trainer.enable_progress_bar=false",
        "head=hinge",
        "data.fold=0",
        *([f"preprocess.size={args.size}"] if args.size else []),
        *(GPU_OVERRIDES if args.gpu else []),
        *args.set,
    ]
    if args.cache:
        overrides.append(f"cache={args.cache.resolve()}")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    cache = fold_cache(cfg)
    mer_s, bare_s, step_ms = [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as run_dir:
            started = time.perf_counter()
            train(cfg, Path(run_dir))
            mer_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        steps, loop_s = bare_job(cache, cfg, device)
        if args.gpu:
            torch.cuda.synchronize()
        bare_s.append(time.perf_counter() - started)
        step_ms.append(1e3 * loop_s / steps)
    return {
        "size": cfg.preprocess.size,
        "input_size": cfg.model.input_size or cfg.preprocess.size,
        "input": cfg.input.name,
        "samples": len(cache.samples),
        "mer": statistics.median(mer_s),
        "bare": statistics.median(bare_s),
        "step_ms": statistics.median(step_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", default=",".join(ARCHITECTURES), help="comma-separated model= presets (default: %(default)s)"
    )
    parser.add_argument(
        "--size", type=int, default=None, help="one preprocess.size for every model (default: each preset's own)"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    parser.add_argument("--cache", type=Path, help="use this built cache instead of preparing one")
    parser.add_argument(
        "--gpu", action="store_true", help="both sides on the GPU: trainer=gpu (bf16) with channels_last"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override for both sides, e.g. model.cuda_graph=true",
    )
    args = parser.parse_args()
    device = torch.device("cuda" if args.gpu else "cpu")
    print(
        f"one LOSO job per model (fold 0, hinge head, {args.epochs} epochs, each at its preset's input and "
        f"size); {_where(device, args.set)}; median of {args.repeats}; a row as each model ends"
    )
    print(
        "| model | input | flow → network size | samples | time per training step | mer-train job | bare PyTorch loop "
        "| overhead ratio (target ≤ 1.15×) |\n|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    for model in args.models.split(","):
        r = bench_model(model, args, device)
        print(
            f"| {model} | {r['input']} | {r['size']}² → {r['input_size']}² | {r['samples']} | {r['step_ms']:.1f} ms "
            f"| {r['mer']:.2f} s | {r['bare']:.2f} s | {r['mer'] / r['bare']:.3f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
