"""The join CLI's checks, against a stand-in Indexer (plain HTTP, no Django)."""

import hashlib
import http.server
import json
import threading

import pytest

from flower_integration import join

CLIENT = b"print('hello')\n"


@pytest.fixture
def indexer():
    """A stand-in Indexer serving one card and one file; tests change what it serves."""
    served = {"card": {"name": "Demo", "server_address": "127.0.0.1:9", "flower_api": "legacy", "suspended": False,
                       "client": {"sha256": hashlib.sha256(CLIENT).hexdigest(), "size": len(CLIENT),
                                  "url": "/federations/demo/client.py"},
                       "join": {"filename": "demo-Client.py", "install": "pip install flwr", "run": "python demo-Client.py"}},
              "file": CLIENT}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(served["card"]).encode() if self.path.startswith("/api/") else served["file"]
            self.send_response(200 if self.path in ("/api/federations/demo/", "/federations/demo/client.py") else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", served
    server.shutdown()


def test_a_matching_client_is_written_under_the_indexers_name(indexer, tmp_path):
    url, _ = indexer
    assert join.main(["demo", "--indexer", url, "--dir", str(tmp_path), "--no-run"]) == 0
    assert (tmp_path / "demo-Client.py").read_bytes() == CLIENT


@pytest.mark.parametrize("tamper, message", [
    (lambda served: served.update(file=CLIENT + b"import os\n"), "refusing to use it"),
    (lambda served: served["card"]["client"].update(url="http://elsewhere.example/x.py"), "not to the Indexer"),
    (lambda served: served["card"]["client"].update(url="file:///etc/passwd"), "not to the Indexer"),
    (lambda served: served.update(card=["not", "a", "card"]), "not a federation's card"),
    (lambda served: served["card"].pop("join"), "lacks its client or how to join"),
    (lambda served: served["card"].update(suspended=True, client=None), "suspended"),
    (lambda served: served["card"]["join"].update(filename="../../.bashrc"), "not a plain Python file name"),
    (lambda served: served.update(file=b"x" * (join.MAX_CLIENT_BYTES + 1)), "larger than"),
])
def test_it_refuses_and_writes_nothing(indexer, tmp_path, capsys, tamper, message):
    url, served = indexer
    tamper(served)
    assert join.main(["demo", "--indexer", url, "--dir", str(tmp_path), "--no-run"]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_it_refuses_what_is_not_a_federation_key(indexer, tmp_path, capsys):
    url, _ = indexer
    assert join.main(["../admin", "--indexer", url, "--dir", str(tmp_path)]) == 2
    assert "its slug or its id" in capsys.readouterr().err
    assert join.main(["other", "--indexer", url, "--dir", str(tmp_path)]) == 2
    assert "answered 404" in capsys.readouterr().err


def test_it_never_replaces_a_file_unless_asked(indexer, tmp_path, capsys):
    url, _ = indexer
    (tmp_path / "demo-Client.py").write_bytes(b"mine")
    assert join.main(["demo", "--indexer", url, "--dir", str(tmp_path), "--no-run"]) == 2
    assert "exists already" in capsys.readouterr().err and (tmp_path / "demo-Client.py").read_bytes() == b"mine"
    assert join.main(["demo", "--indexer", url, "--dir", str(tmp_path), "--no-run", "--force"]) == 0
    assert (tmp_path / "demo-Client.py").read_bytes() == CLIENT
    assert join.main(["demo", "--indexer", url, "--dir", str(tmp_path / "missing"), "--no-run"]) == 2
