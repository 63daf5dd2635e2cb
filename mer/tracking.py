"""Weights & Biases: whether this machine can log online (shared by training and the report)."""

from __future__ import annotations

import netrc
import os


def wandb_credentials() -> bool:
    """Whether W&B can log online: an API key in the environment or in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False
