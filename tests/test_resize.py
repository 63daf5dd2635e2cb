"""The cached maps at a network's smaller input size: displacements rescaled with the image, flow
computed at the working size against a known translation, and the datamodule serving the result."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from helpers import smooth_texture

from mer.errors import MerError
from mer.preprocess.flow import optical_strain, tvl1_flow
from mer.train.resize import InputResize

FLOW_SIZE, NETWORK_SIZE = 224, 28


def test_displacements_scale_with_the_image_and_the_other_maps_keep_their_values() -> None:
    maps = torch.empty(2, 4, FLOW_SIZE, FLOW_SIZE)
    maps[:, 0], maps[:, 1], maps[:, 2], maps[:, 3] = 8.0, -4.0, 0.3, 0.75  # u, v px; strain; grey apex
    resized = InputResize(["u", "v", "strain", "apex"], FLOW_SIZE, NETWORK_SIZE)(maps)
    assert tuple(resized.shape) == (2, 4, NETWORK_SIZE, NETWORK_SIZE)
    # 8 px of a 224² crop is 1 px of its 28² copy; strain (a ratio) and grey levels do not change.
    torch.testing.assert_close(resized[:, 0], torch.full((2, 28, 28), 1.0))
    torch.testing.assert_close(resized[:, 1], torch.full((2, 28, 28), -0.5))
    torch.testing.assert_close(resized[:, 2], torch.full((2, 28, 28), 0.3))
    torch.testing.assert_close(resized[:, 3], torch.full((2, 28, 28), 0.75))
    same = maps[:, :1]
    assert InputResize(["u"], FLOW_SIZE, None)(same) is same  # no input size: the flow's own, untouched


def test_flow_at_the_working_size_resized_is_the_translation_in_the_networks_pixels() -> None:
    """A 4 px by −2 px translation found by TV-L1 at 224², resized to 28²: 0.5 px by −0.25 px."""
    image = smooth_texture((FLOW_SIZE, FLOW_SIZE), seed=3)
    moved = cv2.warpAffine(
        image, np.float32([[1, 0, 4.0], [0, 1, -2.0]]), (FLOW_SIZE, FLOW_SIZE), borderMode=cv2.BORDER_REFLECT
    )
    flow = tvl1_flow(image, moved)
    maps = torch.from_numpy(np.stack([flow[..., 0], flow[..., 1], optical_strain(flow)])[None])
    resized = InputResize(["u", "v", "strain"], FLOW_SIZE, NETWORK_SIZE)(maps)[0].numpy()
    inner = slice(4, NETWORK_SIZE - 4)  # the borders have no correspondence
    assert np.median(resized[0, inner, inner]) == pytest.approx(0.5, abs=0.03)
    assert np.median(resized[1, inner, inner]) == pytest.approx(-0.25, abs=0.03)
    assert np.median(resized[2, inner, inner]) < 0.02  # a translation does not strain the skin


@pytest.mark.parametrize(
    "size, message",
    [
        (
            56,
            "model.input_size=56 is larger than the flow's preprocess.size=28: compute the flow at "
            "preprocess.size=56 or more (it is resized down to the network, never up)",
        ),
        (0, "model.input_size=0: use an integer ≥ 8, or null for the flow's own size"),
    ],
)
def test_an_input_size_the_flow_cannot_give_is_one_line(size: int, message: str) -> None:
    with pytest.raises(MerError) as raised:
        InputResize(["u"], 28, size)
    assert str(raised.value) == message
