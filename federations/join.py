"""How a newcomer joins a federation: the file name they get and the commands they run.

One place, shared by the federation page and the scrape API (whose card the join CLI,
``python -m flower_integration join``, follows).
"""

from .models import Federation, FlowerApi


def client_filename(federation: Federation) -> str:
    """A generated download name: the slug is [a-z0-9-] only, so it is safe in any shell or header."""
    return f"{federation.slug}-Client.py"


def verify_command(federation: Federation) -> str:
    return f"echo '{federation.client_file.sha256}  {client_filename(federation)}' | sha256sum --check"


def install_command(federation: Federation) -> str:
    return f"pip install 'flwr=={federation.flower_version}'"


def run_command(federation: Federation) -> str:
    """The command that starts a client against the federation's server."""
    if federation.flower_api == FlowerApi.SUPERNODE:
        return f"flower-supernode --insecure --superlink {federation.server_address}"
    return f"python {client_filename(federation)} --server-address {federation.server_address}"
