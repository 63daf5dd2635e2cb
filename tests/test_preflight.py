"""The command line of mer-train and mer-prepare: every mistake is one line with exit code 2, found
from the composed config before torch is imported; --help lists what a newcomer needs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mer.errors import MerError
from mer.preflight import check_command_line


@pytest.mark.parametrize(
    "app, args, message",
    [
        (
            "train",
            ["data=casme2"],
            "data.root is not set: give the folder of the casme2 release, e.g. "
            "mer-train data=casme2 data.root=/path/to/CASME2",
        ),
        (
            "prepare",
            ["data=samm"],
            "data.root is not set: give the folder of the samm release, e.g. "
            "mer-prepare data=samm data.root=/path/to/SAMM",
        ),
        (
            "train",
            ["-m", "folds=all", "data=smic"],
            "data.root is not set: give the folder of the smic "
            "release, e.g. mer-train data=smic data.root=/path/to/SMIC",
        ),
        (
            "prepare",
            ["data=casme3"],
            "data.root is not set: give the folder of the casme3 release, e.g. "
            "mer-prepare data=casme3 data.root=/path/to/CASME3",
        ),
        (
            "train",
            ["data=composite", "data.include=[casme2,samm]", "data.roots.casme2=/"],
            "data.roots.samm is not set: give the folder of the samm release (data.roots.samm=PATH), or "
            "leave samm out of data.include",
        ),
        (
            "train",
            ["trainer.max_epoch=3"],
            "unknown key trainer.max_epoch: did you mean trainer.max_epochs? (`mer-train --cfg job` prints every key)",
        ),
        (
            "train",
            ["datamodule.batchsize=8"],
            "unknown key datamodule.batchsize: did you mean "
            "datamodule.batch_size? (`mer-train --cfg job` prints every key)",
        ),
        ("train", ["inptu=uv"], "unknown key inptu: did you mean input? (`mer-train --cfg job` prints every key)"),
        ("train", ["~sed"], "unknown key sed: did you mean seed? (`mer-train --cfg job` prints every key)"),
        (
            "train",
            ["input=uvv"],
            "unknown input 'uvv': did you mean uv? choose one of apex, u, "
            "uv, uvm, uvs, v (input=... on the command line; options live in conf/input/)",
        ),
        (
            "train",
            ["-m", "head=softmax,hinje"],
            "unknown head 'hinje': did you mean hinge? choose one of hinge, "
            "softmax, svm (head=... on the command line; options live in "
            "conf/head/)",
        ),
        (
            "train",
            ["model/optimizer=adamm"],
            "unknown model/optimizer 'adamm': did you mean adam or adamw? "
            "choose one of adam, adamw, sgd (model/optimizer=... on the "
            "command line)",
        ),
        (
            "train",
            ["-m", "hydra/launcher=gpu"],
            "unknown hydra/launcher 'gpu': did you mean gpus? choose one of "
            "basic, gpus, slurm, submitit_local, submitit_slurm "
            "(hydra/launcher=... on the command line)",
        ),
        (
            "train",
            ["-m", "input=apex", "uv"],
            "'uv' is not key=value: did you mean input=apex,uv? (a sweep's "
            "values are separated by commas, without spaces)",
        ),
        ("train", ["input=apex,uv"], "input=apex,uv is a sweep: add -m (mer-train -m input=apex,uv)"),
        (
            "train",
            ["data=casme2", "data.root=/no/such/CASME2"],
            "data.root=/no/such/CASME2: no such folder; give the folder of the casme2 release",
        ),
        (
            "train",
            ["-m", "cache=/,/no/such/cache"],
            "cache=/no/such/cache: no such folder; give the folder of a mer cache (the folder mer-prepare printed)",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_key(app: str, args: list[str], message: str) -> None:
    with pytest.raises(MerError) as caught:
        check_command_line(app, args)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "args, runs_a_job",
    [
        (["debug=smoke"], True),
        (["-m", "experiment=baselines", "recipe=authors", "data.root=/"], True),
        (["-m", "experiment=demo", "hydra/launcher=gpus"], True),
        (["data=casme2", "--cfg", "job"], False),  # prints the config, ??? included
        (["--help"], False),
    ],
)
def test_sound_command_lines_pass(args: list[str], runs_a_job: bool) -> None:
    assert check_command_line("train", args) is runs_a_job


def run_entry_point(module: str, *args: str) -> subprocess.CompletedProcess:
    """Start an entry point's `main` in a fresh interpreter; its last stdout line says whether torch
    had been imported by the time it exited."""
    code = (
        f"import sys; sys.argv = ['mer', *{list(args)!r}]\n"
        f"from {module} import main\n"
        "try:\n    main()\n"
        "finally:\n    print('torch imported:', 'torch' in sys.modules, flush=True)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "module, args, message",
    [
        (
            "mer.train.train",
            ["data=casme2"],
            "error: data.root is not set: give the folder of the casme2 "
            "release, e.g. mer-train data=casme2 data.root=/path/to/CASME2",
        ),
        (
            "mer.preprocess.prepare",
            ["data=samm", "--verify"],
            "error: data.root is not set: give the folder of the samm release, e.g. mer-prepare data=samm "
            "data.root=/path/to/SAMM",
        ),
        (
            "mer.train.train",
            ["model=ststnet", "preprocess.size=24"],
            "error: model.input_size=28 is larger than the flow's preprocess.size=24: compute the flow at "
            "preprocess.size=28 or more (it is resized down to the network, never up)",
        ),
        (
            "mer.train.train",
            ["-m", "trainer.max_epoch=3"],
            "error: unknown key trainer.max_epoch: did you mean trainer.max_epochs? (`mer-train --cfg job` "
            "prints every key)",
        ),
    ],
)
@pytest.mark.slow
def test_a_config_error_exits_2_before_torch_is_imported(module: str, args: list[str], message: str) -> None:
    result = run_entry_point(module, *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [message]
    assert result.stdout.strip().splitlines()[-1] == "torch imported: False"


@pytest.mark.slow
def test_help_lists_groups_presets_launchers_without_torch() -> None:
    result = run_entry_point("mer.train.train", "--help")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("mer-train: train one leave-one-subject-out fold")
    assert "debug: fast_dev_run, overfit, smoke\n" in out
    assert "input: apex, u, uv, uvm, uvs, v\n" in out
    assert "logger: csv, tensorboard, wandb\n" in out
    assert "recipe: authors, mer, paper\n" in out
    for line in (
        "  experiment=NAME ",
        "  recipe=paper|mer|authors\n",
        "  debug=smoke ",
        "  gpus ",
        "  submitit_local ",
        "  slurm ",
    ):
        assert f"\n{line}" in out, line
    assert "powered by Hydra" not in out
    assert out.strip().splitlines()[-1] == "torch imported: False"
