"""Join the digits federation: a small dense network on scikit-learn's handwritten digits.

Run one copy per participant, each with its own partition::

    python Client.py --server-address 127.0.0.1:8080 --partition 0 --partitions 2

The data ships with scikit-learn (nothing is downloaded). Every client takes a disjoint,
deterministic shard of the 1,797 images, keeps 80 % of it for training and 20 % for testing.
"""

import argparse
import os

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import flwr as fl  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

BATCH_SIZE = 32


def load_partition(partition: int, partitions: int, seed: int = 0):
    """This client's shard, split into (x_train, y_train), (x_test, y_test); same seed, same shard."""
    if not 0 <= partition < partitions:
        raise ValueError(f"--partition must be in [0, {partitions}), got {partition}")
    features, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(labels))
    shard = np.array_split(order, partitions)[partition]
    x = (features[shard] / 16.0).astype("float32")  # pixel intensities are 0..16
    y = labels[shard].astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed)
    return (x_train, y_train), (x_test, y_test)


def build_model(seed: int = 0) -> tf.keras.Model:
    """The same seed gives every client the same starting weights, whichever one the server asks."""
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(64,)),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class DigitsClient(fl.client.NumPyClient):
    def __init__(self, partition: int, partitions: int, epochs: int = 1, seed: int = 0):
        (self.x_train, self.y_train), (self.x_test, self.y_test) = load_partition(partition, partitions, seed)
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
    return DigitsClient(partition, partitions, epochs).to_client()


app = fl.client.ClientApp(client_fn=client_fn)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Join the digits federation.")
    parser.add_argument("--server-address", required=True, help="the Flower server, host:port")
    parser.add_argument("--partition", type=int, default=0, help="this client's shard, 0-based")
    parser.add_argument("--partitions", type=int, default=1, help="how many clients share the data")
    parser.add_argument("--epochs", type=int, default=1, help="local epochs when the server does not say")
    parser.add_argument("--seed", type=int, default=0, help="data split and initial weights")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    client = DigitsClient(args.partition, args.partitions, args.epochs, args.seed)
    fl.client.start_client(server_address=args.server_address, client=client.to_client())
