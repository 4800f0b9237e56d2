"""The CIFAR-10 MobileNetV2 federation's server: the digits server with fewer default rounds.

    python -m flower_integration.examples.cifar_mobilenet.server --address 127.0.0.1:8080 --rounds 3 \\
        [--indexer http://127.0.0.1:8321 --federation 42 --token f2f_...]

The server never builds the model, so the two examples differ only in their clients;
a MobileNetV2 round is slow on a small machine, hence the 3 default rounds.
"""

import sys

from flower_integration.examples.digits.server import run


def main(argv=None) -> int:
    return run(argv, description="Serve the CIFAR-10 MobileNetV2 federation.", default_rounds=3,
               name="cifar_mobilenet")


if __name__ == "__main__":
    sys.exit(main())
