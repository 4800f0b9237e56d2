"""Join the CIFAR-10 federation: MobileNetV2 (2,270,794 parameters) trained from scratch.

Run one copy per participant, each with its own partition::

    python Client.py --server-address 127.0.0.1:8080 --partition 0 --partitions 2

Nothing is ever downloaded. CIFAR-10 is read from the local Keras cache when it is there
(``$KERAS_HOME/datasets`` or ``~/.keras/datasets``); otherwise the client trains on
synthetic CIFAR-shaped images, which exercises the federation but learns nothing real.
"""

import argparse
import logging
import os
import pickle

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import flwr as fl  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

logger = logging.getLogger("cifar_mobilenet")
BATCH_SIZE = 32
NUM_CLASSES = 10
SYNTHETIC_MESSAGE = ("Using synthetic CIFAR-shaped data: CIFAR-10 is not in the local Keras cache "
                     "(%s) and nothing is downloaded.")


def keras_datasets_dir() -> str:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets")


def cached_cifar_dir() -> str | None:
    """Where the extracted CIFAR-10 batches are, in the layout of Keras 2 or of Keras 3; else None."""
    datasets = keras_datasets_dir()
    for candidate in (os.path.join(datasets, "cifar-10-batches-py"),
                      os.path.join(datasets, "cifar-10-batches-py-target", "cifar-10-batches-py")):
        if os.path.isfile(os.path.join(candidate, "test_batch")):
            return candidate
    return None


def _read_batch(path: str):
    # The batches are read directly: keras.datasets.cifar10.load_data() downloads whenever its own
    # archive is missing, even if the extracted batches are present.
    with open(path, "rb") as file:
        batch = pickle.load(file, encoding="bytes")
    images = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, np.asarray(batch[b"labels"], dtype="int64")


def load_cifar(directory: str):
    parts = [_read_batch(os.path.join(directory, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = np.concatenate([images for images, _ in parts])
    y_train = np.concatenate([labels for _, labels in parts])
    x_test, y_test = _read_batch(os.path.join(directory, "test_batch"))
    return (x_train, y_train), (x_test, y_test)


def synthetic_cifar(train: int, test: int, seed: int):
    """Random 32x32 RGB images with 10 labels; the same seed gives the same data."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(train + test, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, NUM_CLASSES, size=train + test, dtype=np.int64)
    return (images[:train], labels[:train]), (images[train:], labels[train:])


def load_partition(partition: int, partitions: int, samples: int = 500, seed: int = 0):
    """This client's (x_train, y_train), (x_test, y_test), pixels scaled to [0, 1].

    With CIFAR-10, each client takes a disjoint shard, capped at ``samples`` training and
    ``samples // 5`` test images; with synthetic data, that many images seeded by the partition.
    """
    if not 0 <= partition < partitions:
        raise ValueError(f"--partition must be in [0, {partitions}), got {partition}")
    test_samples = max(1, samples // 5)
    directory = cached_cifar_dir()
    if directory is None:
        logger.warning(SYNTHETIC_MESSAGE, keras_datasets_dir())
        (x_train, y_train), (x_test, y_test) = synthetic_cifar(samples, test_samples, seed * 1000 + partition)
    else:
        logger.info("Using CIFAR-10 from %s", directory)
        (x_train, y_train), (x_test, y_test) = load_cifar(directory)
        rng = np.random.default_rng(seed)
        train_shard = np.array_split(rng.permutation(len(y_train)), partitions)[partition][:samples]
        test_shard = np.array_split(rng.permutation(len(y_test)), partitions)[partition][:test_samples]
        x_train, y_train = x_train[train_shard], y_train[train_shard]
        x_test, y_test = x_test[test_shard], y_test[test_shard]
    return ((x_train / 255.0).astype("float32"), y_train), ((x_test / 255.0).astype("float32"), y_test)


def build_model(seed: int = 0) -> tf.keras.Model:
    """MobileNetV2 with random weights (no pretrained download); the same seed on every client."""
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.applications.MobileNetV2(input_shape=(32, 32, 3), classes=NUM_CLASSES, weights=None)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class CifarClient(fl.client.NumPyClient):
    def __init__(self, partition: int, partitions: int, epochs: int = 1, samples: int = 500, seed: int = 0):
        (self.x_train, self.y_train), (self.x_test, self.y_test) = load_partition(partition, partitions, samples, seed)
        self.model = build_model(seed)
        self.epochs = epochs

    def get_parameters(self, config):
        return self.model.get_weights()

    def fit(self, parameters, config):
        self.model.set_weights(parameters)
        epochs = int(config.get("epochs", self.epochs))
        self.model.fit(self.x_train, self.y_train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
        return self.model.get_weights(), len(self.x_train), {}

    def evaluate(self, parameters, config):
        self.model.set_weights(parameters)
        loss, accuracy = self.model.evaluate(self.x_test, self.y_test, batch_size=BATCH_SIZE, verbose=0)
        return float(loss), len(self.x_test), {"accuracy": float(accuracy)}


def client_fn(context) -> fl.client.Client:
    """For ``flwr run`` / simulation: the partition comes from the node's configuration."""
    partition = int(context.node_config.get("partition-id", 0))
    partitions = int(context.node_config.get("num-partitions", 1))
    epochs = int(context.run_config.get("epochs", 1))
    samples = int(context.run_config.get("samples", 500))
    return CifarClient(partition, partitions, epochs, samples).to_client()


app = fl.client.ClientApp(client_fn=client_fn)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Join the CIFAR-10 MobileNetV2 federation.")
    parser.add_argument("--server-address", required=True, help="the Flower server, host:port")
    parser.add_argument("--partition", type=int, default=0, help="this client's shard, 0-based")
    parser.add_argument("--partitions", type=int, default=1, help="how many clients share the data")
    parser.add_argument("--epochs", type=int, default=1, help="local epochs when the server does not say")
    parser.add_argument("--samples", type=int, default=500, help="training images (test: a fifth as many)")
    parser.add_argument("--seed", type=int, default=0, help="data split and initial weights")
    return parser.parse_args(argv)


if __name__ == "__main__":
    handler = logging.StreamHandler()  # on this logger only: Flower's own log reaches the root logger too
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    args = parse_args()
    client = CifarClient(args.partition, args.partitions, args.epochs, args.samples, args.seed)
    fl.client.start_client(server_address=args.server_address, client=client.to_client())
