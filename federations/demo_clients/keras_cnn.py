"""F2F demo client: a small Keras CNN for image classification.

Your images stay on your machine: put them in an .npz file with arrays x_train, y_train,
x_test, y_test (images as HxWxC floats in [0, 1], integer labels) and pass it with --data.
"""

import argparse

import flwr as fl
import numpy as np
import tensorflow as tf


def build_model(input_shape, classes):
    model = tf.keras.Sequential([
        tf.keras.layers.Input(shape=input_shape),
        tf.keras.layers.Conv2D(32, 3, activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(64, 3, activation="relu"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(classes, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class ImageClient(fl.client.NumPyClient):
    def __init__(self, data_path):
        data = np.load(data_path)
        self.x_train, self.y_train = data["x_train"], data["y_train"]
        self.x_test, self.y_test = data["x_test"], data["y_test"]
        self.model = build_model(self.x_train.shape[1:], int(self.y_train.max()) + 1)

    def get_parameters(self, config):
        return self.model.get_weights()

    def fit(self, parameters, config):
        self.model.set_weights(parameters)
        epochs = int(config.get("local_epochs", 1))
        self.model.fit(self.x_train, self.y_train, epochs=epochs, batch_size=32, verbose=0)
        return self.model.get_weights(), len(self.x_train), {}

    def evaluate(self, parameters, config):
        self.model.set_weights(parameters)
        loss, accuracy = self.model.evaluate(self.x_test, self.y_test, verbose=0)
        return float(loss), len(self.x_test), {"accuracy": float(accuracy)}


def client_fn(context: fl.common.Context):
    return ImageClient(context.node_config.get("data", "data.npz")).to_client()


app = fl.client.ClientApp(client_fn=client_fn)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server-address", required=True, help="host:port of the federation's server")
    parser.add_argument("--data", default="data.npz", help="your local .npz data file")
    args = parser.parse_args()
    fl.client.start_client(server_address=args.server_address, client=ImageClient(args.data).to_client())
