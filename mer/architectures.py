"""The `model.arch` names in the order the methods table lists them: the paper's MobileNetV2 first, then
the field's baselines. Torch-free, so `mer-report` can sort by it; the builders themselves register in
`mer.train.registry`, and a test checks that both, and the `conf/model/` presets, name the same set."""

ARCHITECTURES = ("mobilenetv2", "ststnet", "offapexnet", "resnet18")
