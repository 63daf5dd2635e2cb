"""mer's Hydra launcher plugin (`hydra/launcher=gpus`); Hydra finds it in the hydra_plugins namespace.

Hydra's plugin scan imports every module here whose name does not start with `_`, and runs it
again if it was imported already: `config.py` (the options of `hydra/launcher=gpus`, registered
in Hydra's ConfigStore), `gpus_launcher.py` (the launcher) and `submitit_local.py` (the class
behind `hydra/launcher=submitit_local`), each kept light, so that the scan stays fast. Their
parts are `_` modules, imported once when a sweep runs, so the functions that jobs' processes are
started with stay the ones pickle finds.
"""
