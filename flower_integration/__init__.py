"""F2F's Flower integration: report a federation's training to an F2F Indexer.

Legacy strategies (``flwr.server.start_server``)::

    reporter = Reporter("https://f2f.example.org", federation_id=42, token="f2f_...")
    strategy = instrument(FedAvg(...), reporter, num_rounds=10)
    fl.server.start_server(server_address="0.0.0.0:8080", strategy=strategy,
                           config=fl.server.ServerConfig(num_rounds=10))
    reporter.close()

Message-API strategies (``flwr.serverapp.strategy``)::

    strategy = ReportingStrategy(FedAvg(...), reporter)
    result = strategy.start(grid=grid, initial_arrays=arrays, num_rounds=10)
"""

from .legacy import instrument
from .reporter import Reporter

__all__ = ["Reporter", "instrument", "ReportingStrategy"]
__version__ = "0.3.1"


def __getattr__(name):
    if name == "ReportingStrategy":  # imports flwr's Message API only when asked for
        from .modern import ReportingStrategy

        return ReportingStrategy
    raise AttributeError(name)
