"""The `model.arch` names (conf/model/*.yaml), in the order the methods table lists them: the
paper's MobileNetV2 first, then the field's baselines. Torch-free, so `mer-report` can sort by it."""

ARCHITECTURES = ("mobilenetv2", "ststnet", "offapexnet", "resnet18")
