"""The command line of mer-train and mer-prepare: every mistake is one line with exit code 2, found
from the composed config before torch is imported (a user's own --config-dir included, and a dataset
folder that is not the release before any job starts); --help lists what a newcomer needs, and `mer`
alone the first command to run."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_entry_point

from mer.about import main as mer_main
from mer.config import CONFIG_DIR
from mer.errors import MerError
from mer.preflight import check_command_line

#: The coding sheet's header: a release's sheet and frames folder are all the check looks for.
SHEET_HEADER = "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion\n"


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A folder laid out like a CASME II release: its coding sheet, without rows (the command-line
    check reads none), and its frames folder."""
    root = tmp_path / "CASME2"
    (root / "CASME2_RAW_selected").mkdir(parents=True)
    (root / "CASME2-coding.csv").write_text(SHEET_HEADER)
    return root


def own_configs(tmp_path: Path, data_yaml: str) -> Path:
    """A user's own config folder, laid out like mer's, holding `data/my_casme2.yaml`."""
    folder = tmp_path / "my_conf"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "my_casme2.yaml").write_text(data_yaml)
    return folder


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
            f"uv, uvm, uvs, v (input=... on the command line; options live in {CONFIG_DIR}/input/)",
        ),
        (
            "train",
            ["-m", "head=softmax,hinje"],
            "unknown head 'hinje': did you mean hinge? choose one of hinge, "
            "multilabel, softmax, svm (head=... on the command line; options live in "
            f"{CONFIG_DIR}/head/)",
        ),
        (
            "train",
            ["head=svn"],  # one letter off a three-letter option
            "unknown head 'svn': did you mean svm? choose one of hinge, multilabel, softmax, svm (head=... on the "
            f"command line; options live in {CONFIG_DIR}/head/)",
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
            "basic, gpus, packed, slurm, submitit_local, submitit_slurm "
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
        (["-m", "experiment=baselines", "recipe=authors", "data.root={release}"], True),
        (["data=casme2", "data.root={release}/..", "cache={release}"], True),  # a cache: the release is not read
        (["-m", "experiment=demo", "hydra/launcher=gpus"], True),
        (["data=casme2", "--cfg", "job"], False),  # prints the config, ??? included
        (["hydra.searchpath=[pkg://elsewhere]", "data=theirs"], True),  # its options: Hydra's to check
        (["--help"], False),
    ],
)
def test_sound_command_lines_pass(args: list[str], runs_a_job: bool, release: Path) -> None:
    args = [arg.format(release=release) for arg in args]
    assert check_command_line("train", args) is runs_a_job


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["-m", "experiment=paper_ablation", "data.root={parent}"],
            "no CASME II frames folder in {parent} (data.reader.layout=auto): looked for "
            "CASME2_RAW_selected/ (imgN.jpg), CASME2-RAW/ (imgN.jpg), Cropped/ (reg_imgN.jpg), "
            "Cropped_original/ (reg_imgN.jpg), Cropped-updated/Cropped/ (reg_imgN.jpg); pass another with "
            "data.reader.frames_dir=PATH",
        ),
        (
            ["data=samm", "data.root={parent}"],
            "no SAMM coding sheet in {parent} or its subfolders: looked for SAMM_Micro_FACS_Codes_v2.xlsx, "
            "SAMM_Micro_FACS_Codes_v2.csv; pass one with data.reader.sheet=PATH",
        ),
        (
            ["data=composite", "data.include=[casme2]", "data.roots.casme2={parent}"],
            "source casme2: no CASME II frames folder in {parent} (data.reader.layout=auto): looked for "
            "CASME2_RAW_selected/ (imgN.jpg), CASME2-RAW/ (imgN.jpg), Cropped/ (reg_imgN.jpg), "
            "Cropped_original/ (reg_imgN.jpg), Cropped-updated/Cropped/ (reg_imgN.jpg); pass another with "
            "data.reader.frames_dir=PATH",
        ),
    ],
)
def test_a_folder_that_is_not_the_release_is_refused_before_any_job(
    args: list[str], message: str, release: Path
) -> None:
    parent = release.parent  # holds the release: its sheet is one level down, its frames are not
    with pytest.raises(MerError) as caught:
        check_command_line("train", [arg.format(parent=parent) for arg in args])
    assert str(caught.value) == message.format(parent=parent)


def test_own_config_dir_is_checked_like_mer_configs(tmp_path: Path, release: Path) -> None:
    conf = own_configs(tmp_path, f"defaults: [casme2]\nroot: {release}\n")
    own = ["--config-dir", str(conf), "data=my_casme2"]
    assert check_command_line("train", own) is True
    assert check_command_line("prepare", ["--config-dir", str(conf), "data=my_casme2", "--cfg", "job"]) is False
    for app in ("train", "prepare"):
        with pytest.raises(MerError) as caught:
            check_command_line(app, [*own, "data.root=/no/such/CASME2"])
        assert str(caught.value) == "data.root=/no/such/CASME2: no such folder; give the folder of the casme2 release"
    with pytest.raises(MerError) as caught:
        check_command_line("train", [*own, "trainer.max_epoch=3"])
    assert str(caught.value) == (
        "unknown key trainer.max_epoch: did you mean trainer.max_epochs? (`mer-train --cfg job` prints every key)"
    )
    with pytest.raises(MerError) as caught:
        check_command_line("train", ["--config-dir", str(conf), "data=my_casme3"])
    assert str(caught.value) == (
        "unknown data 'my_casme3': did you mean my_casme2 or casme3? choose one of 4dme, casme1, casme2, casme3, "
        "casme_sq, composite, mmew, my_casme2, samm, samm_lv, smic, synthetic, synthetic_composite, synthetic_meb, "
        "synthetic_spot (data=... "
        "on the command line; options live in "
        f"{CONFIG_DIR}/data/ and {conf}/data/)"
    )


@pytest.mark.parametrize(
    "data_yaml, message",
    [
        (
            "defaults: [casme2]\nroot: [oops\n",
            "{conf}/data/my_casme2.yaml, line 2: cannot parse it as YAML (while parsing a flow sequence: "
            "expected ',' or ']', but got '<stream end>')",
        ),
        (
            "defaults: [casme2]\nroot: {tmp}/no/such/CASME2\n",
            "CASME II root {tmp}/no/such/CASME2 does not exist or is not a folder (data.root): give the folder "
            "holding one of CASME2_RAW_selected, CASME2-RAW, Cropped, Cropped_original, Cropped-updated/Cropped "
            "and the coding sheet",
        ),
    ],
)
def test_mistakes_in_own_config_dir_are_one_line(tmp_path: Path, data_yaml: str, message: str) -> None:
    conf = own_configs(tmp_path, data_yaml.format(tmp=tmp_path))
    with pytest.raises(MerError) as caught:
        check_command_line("train", ["--config-dir", str(conf), "data=my_casme2"])
    assert str(caught.value) == message.format(conf=conf, tmp=tmp_path)


def test_config_dir_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(MerError) as caught:
        check_command_line("train", ["--config-dir", str(tmp_path / "nope"), "data=my_casme2"])
    assert str(caught.value) == (
        f"--config-dir {tmp_path / 'nope'}: no such folder; give the folder of your own configs, laid out like "
        f"{CONFIG_DIR} (data/my_release.yaml, experiment/..., ...)"
    )


def test_mer_alone_names_the_first_command(capsys) -> None:
    mer_main([])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == (
        "first: mer-train debug=smoke (the whole path on a small synthetic release, under a minute on a CPU); "
        "in a source checkout, make demo sets up, trains the demo sweep and prints its report"
    )


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


@pytest.mark.slow
def test_a_sweep_on_a_folder_that_is_not_the_release_is_one_line(release: Path) -> None:
    parent = release.parent
    result = run_entry_point("mer.train.train", "-m", "experiment=paper_ablation", f"data.root={parent}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: no CASME II frames folder in {parent} (data.reader.layout=auto): looked for CASME2_RAW_selected/ "
        "(imgN.jpg), CASME2-RAW/ (imgN.jpg), Cropped/ (reg_imgN.jpg), Cropped_original/ (reg_imgN.jpg), "
        "Cropped-updated/Cropped/ (reg_imgN.jpg); pass another with data.reader.frames_dir=PATH"
    ]
    assert result.stdout.strip().splitlines()[-1] == "torch imported: False"


@pytest.mark.slow
def test_a_sheet_the_sweep_cannot_count_folds_from_is_one_line(release: Path) -> None:
    """A sheet row is read only when Hydra's sweeper counts the folds (`folds=all`), outside any job:
    the reader's error comes out of OmegaConf's interpolation error as one line all the same."""
    (release / "CASME2-coding.csv").write_text(SHEET_HEADER + "1,EP01,1,2,3,4,joyful\n")
    result = run_entry_point("mer.train.train", "-m", "folds=all", "data=casme2", f"data.root={release}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: CASME2-coding.csv row 2 (sub01/EP01): unknown emotion 'joyful'; known CASME II labels (5class): "
        "disgust, fear, happiness, others, repression, sadness, surprise"
    ]


@pytest.mark.slow
def test_own_config_dir_mistake_exits_2_before_torch_is_imported(tmp_path: Path) -> None:
    conf = own_configs(tmp_path, "defaults: [casme2]\nroot: [oops\n")
    result = run_entry_point("mer.train.train", "--config-dir", str(conf), "data=my_casme2")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {conf}/data/my_casme2.yaml, line 2: cannot parse it as YAML (while parsing a flow sequence: "
        "expected ',' or ']', but got '<stream end>')"
    ]
    assert result.stdout.strip().splitlines()[-1] == "torch imported: False"


@pytest.mark.slow
def test_prepare_help_is_mers_page_with_verify_without_torch() -> None:
    result = run_entry_point("mer.preprocess.prepare", "--help")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("mer-prepare: read a micro-expression release")
    assert (
        "\ndata: 4dme, casme1, casme2, casme3, casme_sq, composite, mmew, samm, samm_lv, smic, synthetic, "
        "synthetic_composite, synthetic_meb, synthetic_spot\n" in out
    )
    assert "\npreprocess/flow: dis, farneback, tvl1\n" in out
    assert "\n  --verify " in out
    assert "preprocess.verify=true" in out
    for unused in ("head:", "input:", "experiment:", "debug:"):  # mer-train's groups
        assert f"\n{unused}" not in out, unused
    assert "powered by Hydra" not in out
    assert out.strip().splitlines()[-1] == "torch imported: False"
