"""mer's Hydra launcher plugin (`hydra/launcher=gpus`); Hydra finds it in the hydra_plugins namespace."""
