"""Reporting for legacy Flower strategies (``flwr.server.strategy.*``, run by ``start_server``).

``instrument`` decorates one strategy object in place, the way the paper's prototype did:
it wraps ``on_fit_config_fn`` / ``on_evaluate_config_fn`` (the user's own functions still run
and their configs are returned untouched) and observes ``configure_*`` (for the client
manager's count of connected clients) and ``aggregate_*`` (for loss and metrics). Every
wrapped method returns exactly what the original returned.
"""

from .tracker import RoundTracker, safely


def _call_config(user_function, server_round):
    return user_function(server_round) if user_function is not None else {}


def instrument(strategy, reporter, *, num_rounds: int):
    """Make ``strategy`` report to ``reporter``; returns the same strategy object."""
    tracker = RoundTracker(
        reporter,
        num_rounds=num_rounds,
        min_clients=int(getattr(strategy, "min_available_clients", 0) or 0),
        fraction_fit=float(getattr(strategy, "fraction_fit", 1.0)),
    )
    manager = {}

    def connected() -> int:
        client_manager = manager.get("current")
        return client_manager.num_available() if client_manager is not None else 0

    if hasattr(strategy, "on_fit_config_fn"):
        user_fit_config = strategy.on_fit_config_fn

        def on_fit_config_fn(server_round):
            config = _call_config(user_fit_config, server_round)
            safely(tracker.fit_starting, server_round)
            return config

        strategy.on_fit_config_fn = on_fit_config_fn

    if hasattr(strategy, "on_evaluate_config_fn"):
        user_evaluate_config = strategy.on_evaluate_config_fn

        def on_evaluate_config_fn(server_round):
            return _call_config(user_evaluate_config, server_round)

        strategy.on_evaluate_config_fn = on_evaluate_config_fn

    original_configure_fit = strategy.configure_fit
    original_aggregate_fit = strategy.aggregate_fit
    original_configure_evaluate = strategy.configure_evaluate
    original_aggregate_evaluate = strategy.aggregate_evaluate

    def configure_fit(server_round, parameters, client_manager):
        manager["current"] = client_manager
        instructions = original_configure_fit(server_round, parameters, client_manager)
        # Clients are now sampled: the round clock starts here, so waiting for them is not counted.
        safely(tracker.fit_configured, server_round, connected=connected())
        return instructions

    def aggregate_fit(server_round, results, failures):
        aggregated = original_aggregate_fit(server_round, results, failures)
        safely(tracker.fit_aggregated, server_round, num_clients=len(results),
               num_examples=sum(fit_res.num_examples for _, fit_res in results),
               metrics=aggregated[1] if aggregated else None)
        return aggregated

    def configure_evaluate(server_round, parameters, client_manager):
        manager["current"] = client_manager
        instructions = original_configure_evaluate(server_round, parameters, client_manager)
        safely(tracker.evaluate_configured, server_round, selected=len(instructions or []))
        return instructions

    def aggregate_evaluate(server_round, results, failures):
        aggregated = original_aggregate_evaluate(server_round, results, failures)
        loss, metrics = aggregated if aggregated else (None, None)
        safely(tracker.evaluate_aggregated, server_round, loss=loss, metrics=metrics, num_clients=len(results))
        return aggregated

    strategy.configure_fit = configure_fit
    strategy.aggregate_fit = aggregate_fit
    strategy.configure_evaluate = configure_evaluate
    strategy.aggregate_evaluate = aggregate_evaluate
    safely(tracker.waiting)
    return strategy
