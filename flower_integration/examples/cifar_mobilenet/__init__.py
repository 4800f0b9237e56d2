"""The paper's setup: MobileNetV2 trained from scratch on CIFAR-10 (or synthetic CIFAR-shaped data)."""
