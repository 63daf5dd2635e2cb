"""ImageNet weights (MobileNetV2, ResNet-18): where torchvision keeps them, fetching them, `mer-weights`.

The paper recipe starts from torchvision's ImageNet MobileNetV2 (§3.3: the standard network with its
classifier replaced). torchvision caches the file at `$TORCH_HOME/hub/checkpoints/<name>.pth`
(`torch.hub.get_dir()`); mer reads it from there with `weights_only=True`, so the file cannot run
code. `mer-weights` fetches it where there is a network; `mer-weights --install FILE` puts a copy
carried from another machine in place for an offline one.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torchvision.models import MobileNet_V2_Weights, ResNet18_Weights, WeightsEnum

from mer.errors import MerError, user_facing

IMAGENET = MobileNet_V2_Weights.IMAGENET1K_V1
#: `model=resnet18 model.pretrained=imagenet`: torchvision's ResNet-18 file, kept in the same torch cache.
RESNET18_IMAGENET = ResNet18_Weights.IMAGENET1K_V1


def imagenet_file(weights: WeightsEnum = IMAGENET) -> Path:
    """Where torchvision (and so mer) looks for a network's ImageNet weights on this machine."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def _hash_prefix(weights: WeightsEnum = IMAGENET) -> str:
    """The sha256 prefix torchvision puts in the file name (`mobilenet_v2-b0353104.pth`)."""
    return Path(weights.url).stem.rsplit("-", 1)[-1]


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict file, loaded with `weights_only=True`; one line naming the file if it is not one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise MerError(
            f"cannot load {path} as a state dict ({err.__class__.__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''})"
        ) from None
    if not isinstance(state, dict):
        raise MerError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def _missing_message(reason: str, weights: WeightsEnum) -> str:
    """The one line that says which file goes where when the ImageNet weights are not at hand."""
    install = " (on an offline machine: `mer-weights --install FILE`)" if weights == IMAGENET else ""
    return (
        f"ImageNet weights {Path(weights.url).name} are not in the torch cache and could not be "
        f"downloaded ({reason}): put {weights.url} at {imagenet_file(weights)}{install}, or use "
        "model.pretrained=none or "
        "model.pretrained=/path/to/state_dict.pth"
    )


def imagenet_state_dict(weights: WeightsEnum = IMAGENET) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet weights of a network (MobileNetV2 by default), downloaded into the
    torch cache on first use."""
    target = imagenet_file(weights)
    if not target.is_file():
        fetch_imagenet(target, weights)
    return read_state_dict(target)


def fetch_imagenet(target: Path, weights: WeightsEnum = IMAGENET) -> Path:
    """Download the weights to `target`, checking torchvision's sha256 prefix; one line on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:  # writes a temporary file and moves it into place: an interrupted download leaves nothing
        torch.hub.download_url_to_file(
            weights.url, str(target), hash_prefix=_hash_prefix(weights), progress=sys.stderr.isatty()
        )
    except Exception as err:  # offline, proxy, partial file: one message for all of them
        raise MerError(_missing_message(type(err).__name__, weights)) from None
    return target


def install(source: Path) -> tuple[Path, bool]:
    """Copy a weights file into the torch cache after checking it is a MobileNetV2 state dict; the
    installed path, and whether its sha256 matches torchvision's published file."""
    if not source.is_file():
        raise MerError(f"{source}: no such file (copy {IMAGENET.url} from a machine with a network)")
    from torchvision.models import mobilenet_v2

    state = read_state_dict(source)
    expected = mobilenet_v2().state_dict()
    wrong = [k for k, v in expected.items() if k not in state or tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise MerError(f"{source} is not torchvision's MobileNetV2 state dict (first wrong or missing key: {wrong[0]})")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    target = imagenet_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    shutil.copyfile(source, partial)
    partial.replace(target)
    return target, digest.startswith(_hash_prefix())


@user_facing
def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `mer-weights [--install FILE]`."""
    parser = argparse.ArgumentParser(
        prog="mer-weights",
        description="Put torchvision's ImageNet MobileNetV2 weights (the paper "
        "recipe's model.pretrained=imagenet) where mer reads them: download them, or --install a copy "
        "carried to an offline machine. Prints the file's path.",
    )
    parser.add_argument(
        "--install", type=Path, metavar="FILE", help=f"a copy of {Path(IMAGENET.url).name} from another machine"
    )
    args = parser.parse_args(argv)
    target = imagenet_file()
    if args.install is not None:
        target, official = install(args.install)
        if not official:
            print(
                f"warning: {args.install} is a MobileNetV2 state dict but not torchvision's published "
                f"file (its sha256 does not start with {_hash_prefix()}); installed anyway",
                file=sys.stderr,
            )
    elif target.is_file():
        print(f"already in place ({target.stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)
    else:
        fetch_imagenet(target)
    print(target, flush=True)


if __name__ == "__main__":
    main()
