"""`make bench-step`: one training step of MobileNetV2 on a GPU, eager against CUDA-graph replay.

The paper's network at batch 32 on 224² u+v flow: wall time per step when steps are launched one
after another (what a training job sees), eager and replayed from CUDA graphs (`model.cuda_graph`),
whose time is then the GPU's own. That bounds a whole ablation from below on this card while the
GPU runs one job's kernels at a time, as it does for jobs in separate processes (they time-slice
it): jobs × epochs × steps per epoch × GPU time per step. It also times what a new process pays
before its steps run at that speed: the first step at each batch shape (each kernel is set up on
its first call), which warm workers (`hydra.launcher.start=warm`) pay once per slot, not per job.
`--packed 160 512` also times graphed steps at larger batches: their time per sample is what the
GPU could reach if it ran several jobs' steps as one (MPS overlapping their kernels comes at
best close to it), so the ablation at that rate is the floor of any packing on this card.
`--profile` lists the GPU kernels an eager step spends its time in (torch.profiler), largest first.
`--memory-format contiguous` times the step in NCHW (`model.channels_last=false`), to compare the
layouts: torch and cuDNN pick other convolution kernels for each (the depthwise ones above all).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from mer.train.backbone import mobilenet_v2_features
from mer.train.cuda_graph import GraphedTraining
from mer.train.heads import HingeHead

LAYOUTS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


def timed(work):
    """`work()`'s result, and its wall time until the GPU has finished it."""
    torch.cuda.synchronize()
    started = time.perf_counter()
    result = work()
    torch.cuda.synchronize()
    return result, time.perf_counter() - started


def step_times(step, n: int, repeats: int) -> list[float]:
    """Seconds per step of `n` steps in a row, `repeats` times (after one warm-up round)."""
    times = [timed(lambda: [step() for _ in range(n)])[1] / n for _ in range(repeats + 1)]
    return times[1:]


def kernel_shares(step, n: int = 20, top: int = 15) -> list[tuple[str, float, float]]:
    """The `top` GPU kernels of `n` steps by their own GPU time: (name, ms per step, share)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            step()
        torch.cuda.synchronize()
    kernels = [(e.key, e.self_device_time_total) for e in prof.key_averages() if e.device_type.name == "CUDA"]
    total = sum(t for _, t in kernels) or 1.0
    kernels.sort(key=lambda kt: kt[1], reverse=True)
    return [(name, t / n / 1e3, t / total) for name, t in kernels[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=130, help="jobs of the ablation to bound")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--train-samples", type=int, default=235, help="a CASME II fold's training set")
    parser.add_argument("--compile", help="also time torch.compile in this mode (e.g. reduce-overhead)")
    parser.add_argument(
        "--packed",
        type=int,
        nargs="*",
        default=[],
        help="also time graphed steps at these larger batches (the packing floor)",
    )
    parser.add_argument("--profile", action="store_true", help="also list the kernels an eager step's GPU time goes to")
    parser.add_argument(
        "--memory-format",
        choices=LAYOUTS,
        default="channels_last",
        help="the network's and batches' layout (model.channels_last=true or false)",
    )
    parser.add_argument(
        "--cudnn-benchmark",
        choices=("on", "off"),
        default="on",
        help="cuDNN autotuning (trainer.benchmark; off in mer's default config)",
    )
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench-step needs a CUDA GPU")
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = args.cudnn_benchmark == "on"
    trunk, width = mobilenet_v2_features(2)
    net = torch.nn.Sequential(trunk, torch.nn.Dropout(0.2), torch.nn.Linear(width, 5)).to(device)
    layout = LAYOUTS[args.memory_format]
    net = net.to(memory_format=layout)
    x = torch.randn(max([args.batch, *args.packed]), 2, args.size, args.size, device=device)
    x = x.contiguous(memory_format=layout)
    y = torch.randint(0, 5, (len(x),), device=device)
    loss_fn = HingeHead(p=1, margin=1.0, weight_decay=None).loss(None)  # the paper's eq. 12
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, weight_decay=1e-3, fused=True)

    def step(forward, rows: int = args.batch) -> None:
        with torch.autocast("cuda", torch.bfloat16):
            loss = loss_fn(forward(x[:rows]), y[:rows])
        opt.zero_grad()
        loss.backward()
        opt.step()

    def capture(rows: int = args.batch) -> GraphedTraining:
        with torch.autocast("cuda", torch.bfloat16):
            return GraphedTraining(torch.nn.Sequential(*net), x[:rows])

    def row(measure: str, value: str) -> None:
        """One table row, printed as soon as it is measured (a cut-off run keeps what it had)."""
        print(f"| {measure} | {value} |", flush=True)

    print(
        f"\none training step: MobileNetV2, batch {args.batch}, {args.size}², 2 channels, bf16, "
        f"{args.memory_format}, fused Adam, cuDNN autotuning {args.cudnn_benchmark}; "
        f"{torch.cuda.get_device_name(device)}; median of {args.repeats}"
    )
    print("| measure | time |\n|---|---|")
    # This process's first steps, before anything else has called a kernel.
    last = args.train_samples % args.batch or args.batch  # a fold's smaller last batch
    row(
        f"a new process's first step, batch {args.batch} (each kernel's first call)",
        f"{timed(lambda: step(net))[1]:.2f} s",
    )
    row(f"then its first step at the last batch's shape, batch {last}", f"{timed(lambda: step(net, last))[1]:.2f} s")
    graphed, capture_s = timed(capture)
    row("then capturing the CUDA graphs (warm-up passes included)", f"{capture_s:.2f} s")
    eager = statistics.median(step_times(lambda: step(net), args.steps, args.repeats))
    row("eager", f"{eager * 1e3:.2f} ms")
    # launches are cheap when replayed, so this is GPU time
    gpu = statistics.median(step_times(lambda: step(graphed), args.steps, args.repeats))
    row("CUDA graphs (forward + backward)", f"{gpu * 1e3:.2f} ms")
    row("speed-up", f"{eager / gpu:.2f}×")
    steps_per_epoch = math.ceil(args.train_samples / args.batch)
    row(
        f"{args.jobs} jobs × {args.epochs} epochs × {steps_per_epoch} steps at the graphed step "
        f"time, one job at a time",
        f"{args.jobs * args.epochs * steps_per_epoch * gpu / 60:.1f} min",
    )
    if args.compile:  # inductor's fused kernels, replayed from its own CUDA graphs
        fused = torch.compile(torch.nn.Sequential(*net), mode=args.compile)
        compile_s = timed(lambda: [step(fused) for _ in range(3)])[1]
        compiled = statistics.median(step_times(lambda: step(fused), args.steps, args.repeats))
        row(f"torch.compile mode={args.compile} (first 3 steps: {compile_s:.1f} s)", f"{compiled * 1e3:.2f} ms")
    samples = args.jobs * args.epochs * args.train_samples  # the ablation's training samples
    for rows in args.packed:
        at_rows = capture(rows)
        seconds = statistics.median(step_times(lambda: step(at_rows, rows), args.steps, args.repeats))  # noqa: B023 (called here, in this iteration)
        at_rows = None  # its graphs and their memory go before the next batch's
        row(
            f"CUDA graphs at batch {rows}: per step; per sample (batch {args.batch}: {gpu / args.batch * 1e3:.3f} ms)",
            f"{seconds * 1e3:.2f} ms; {seconds / rows * 1e3:.3f} ms",
        )
        row(
            f"{args.jobs} jobs' {samples:,} training samples at batch {rows}'s rate per sample "
            "(the floor of packing jobs)",
            f"{samples * seconds / rows / 60:.1f} min",
        )
    if args.profile:
        profiled = 20
        shares = kernel_shares(lambda: step(net), n=profiled)
        print(f"\nGPU kernels of an eager step, by their own GPU time ({profiled} steps; top {len(shares)})")
        print("| kernel | ms per step | share |\n|---|---|---|")
        for name, ms, share in shares:
            print(f"| `{name[:90]}` | {ms:.3f} | {share:.1%} |")


if __name__ == "__main__":
    main()
