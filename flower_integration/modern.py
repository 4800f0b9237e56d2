"""Reporting for Flower's Message-API strategies (``flwr.serverapp.strategy.*``).

These strategies have no per-round config callback, so ``ReportingStrategy`` wraps one:
it delegates ``configure_train``, ``aggregate_train``, ``configure_evaluate``,
``aggregate_evaluate`` and ``summary`` to the wrapped strategy, returns exactly what it
returns, and reports around each call. Its ``start`` is Flower's own round loop.
"""

from flwr.serverapp.strategy import Strategy

from .tracker import RoundTracker, safely

LOSS_KEYS = ("loss", "eval_loss", "eval-loss")


def _num_examples(replies, key: str) -> int:
    total = 0
    for reply in replies:
        if reply.has_content():
            for record in reply.content.metric_records.values():
                value = record.get(key)
                if isinstance(value, (int, float)):
                    total += int(value)
    return total


class ReportingStrategy(Strategy):
    """Wraps ``strategy`` so that the run it drives is reported to ``reporter``."""

    def __init__(self, strategy: Strategy, reporter):
        self.strategy = strategy
        self.reporter = reporter
        self.tracker: RoundTracker | None = None

    def __getattr__(self, name):  # the wrapped strategy's other attributes (fraction_train, ...)
        if "strategy" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["strategy"], name)

    def start(self, grid, initial_arrays, num_rounds: int = 3, *args, **kwargs):
        self.tracker = RoundTracker(
            self.reporter,
            num_rounds=num_rounds,
            min_clients=int(getattr(self.strategy, "min_available_nodes", 0) or 0),
            fraction_fit=float(getattr(self.strategy, "fraction_train", 1.0)),
        )
        safely(self.tracker.waiting, len(list(grid.get_node_ids())))
        return super().start(grid, initial_arrays, num_rounds, *args, **kwargs)

    def configure_train(self, server_round, arrays, config, grid):
        safely(self.tracker.fit_starting, server_round)
        messages = list(self.strategy.configure_train(server_round, arrays, config, grid))
        safely(self.tracker.fit_configured, server_round, connected=len(list(grid.get_node_ids())))
        return messages

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        arrays, metrics = self.strategy.aggregate_train(server_round, replies)
        key = getattr(self.strategy, "weighted_by_key", "num-examples")
        safely(self.tracker.fit_aggregated, server_round,
               num_clients=sum(1 for reply in replies if reply.has_content()),
               num_examples=_num_examples(replies, key), metrics=dict(metrics) if metrics else None)
        return arrays, metrics

    def configure_evaluate(self, server_round, arrays, config, grid):
        messages = list(self.strategy.configure_evaluate(server_round, arrays, config, grid))
        safely(self.tracker.evaluate_configured, server_round, selected=len(messages))
        return messages

    def aggregate_evaluate(self, server_round, replies):
        replies = list(replies)
        metrics = self.strategy.aggregate_evaluate(server_round, replies)
        values = dict(metrics) if metrics else {}
        loss = next((values.pop(key) for key in LOSS_KEYS if key in values), None)
        safely(self.tracker.evaluate_aggregated, server_round, loss=loss, metrics=values,
               num_clients=sum(1 for reply in replies if reply.has_content()))
        return metrics

    def summary(self) -> None:
        self.strategy.summary()
