"""Example federations that report to an F2F Indexer, runnable locally with ``flower_integration.demo``."""
