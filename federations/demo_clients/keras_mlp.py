"""F2F demo client: a Keras multilayer perceptron for tabular records.

Your records stay on your machine: put them in an .npz file with arrays x_train, y_train,
x_test, y_test (numeric features, integer labels) and pass it with --data.
"""

import argparse

import flwr as fl
import numpy as np
import tensorflow as tf


def build_model(features, classes):
    model = tf.keras.Sequential([
        tf.keras.layers.Input(shape=(features,)),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(32, activation="relu"),
        tf.keras.layers.Dense(classes, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class TabularClient(fl.client.NumPyClient):
    def __init__(self, data_path):
        data = np.load(data_path)
        self.x_train, self.y_train = data["x_train"], data["y_train"]
        self.x_test, self.y_test = data["x_test"], data["y_test"]
        self.model = build_model(self.x_train.shape[1], int(self.y_train.max()) + 1)

    def get_parameters(self, config):
        return self.model.get_weights()

    def fit(self, parameters, config):
        self.model.set_weights(parameters)
        self.model.fit(self.x_train, self.y_train, epochs=int(config.get("local_epochs", 2)), verbose=0)
        return self.model.get_weights(), len(self.x_train), {}

    def evaluate(self, parameters, config):
        self.model.set_weights(parameters)
        loss, accuracy = self.model.evaluate(self.x_test, self.y_test, verbose=0)
        return float(loss), len(self.x_test), {"accuracy": float(accuracy)}


def client_fn(context: fl.common.Context):
    return TabularClient(context.node_config.get("data", "data.npz")).to_client()


app = fl.client.ClientApp(client_fn=client_fn)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server-address", required=True, help="host:port of the federation's server")
    parser.add_argument("--data", default="data.npz", help="your local .npz data file")
    args = parser.parse_args()
    fl.client.start_client(server_address=args.server_address, client=TabularClient(args.data).to_client())
