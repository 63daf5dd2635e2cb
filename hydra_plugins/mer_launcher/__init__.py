"""mer's Hydra launcher plugin (`hydra/launcher=gpus`); Hydra finds it in the hydra_plugins namespace.

Hydra's plugin scan imports every module here whose name does not start with `_`, and runs it
again if it was imported already: `gpus_launcher.py` (the config node and the launcher) is the one
such module, and its parts are `_` modules, imported once, so the functions that jobs' processes
are started with stay the ones pickle finds. `_submitit_local.py` (the class behind
`hydra/launcher=submitit_local`) is one too: the scan finds it among gpus_launcher's names.
"""
