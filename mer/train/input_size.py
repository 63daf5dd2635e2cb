"""`model.input_size` checked against the flow's size, torch-free: `mer-train` checks it on the command
line before the cache is built, and `mer.train.resize` again where it resizes."""

from __future__ import annotations

from mer.errors import MerError


def check_input_size(input_size: int | None, flow_size: int) -> int:
    """The network's side: `model.input_size`, or the flow's own when unset; one line when it would
    mean enlarging the flow (compute it at a larger `preprocess.size` instead)."""
    if input_size is None:
        return flow_size
    if not isinstance(input_size, int) or isinstance(input_size, bool) or input_size < 8:
        raise MerError(f"model.input_size={input_size!r}: use an integer ≥ 8, or null for the flow's own size")
    if input_size > flow_size:
        raise MerError(
            f"model.input_size={input_size} is larger than the flow's preprocess.size={flow_size}: compute the "
            f"flow at preprocess.size={input_size} or more (it is resized down to the network, never up)"
        )
    return input_size
