"""Join a federation listed on an F2F Indexer: fetch its client, check it against the Indexer, run it.

    python -m flower_integration join <federation> --indexer https://f2f.example.org [--no-run]

The federation's card comes from the Indexer's scrape API (``/api/federations/<slug or id>/``)
with the SHA-256 of the client it serves. The client is downloaded, its SHA-256 compared with
the card's, and only a file that matches is written (nothing is written otherwise) and started
with the federation's server address. Read it before you run it: the check proves that it is the
file the Indexer lists, not that it is harmless.
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

MAX_CLIENT_BYTES = 4 * 1024 * 1024
MAX_CARD_BYTES = 1024 * 1024
SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.py")
SAFE_KEY = re.compile(r"[-A-Za-z0-9_]{1,140}")


class JoinError(Exception):
    """Why the federation was not joined (nothing was written)."""


def _get(url: str, limit: int) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read(limit + 1)
    except urllib.error.HTTPError as error:
        raise JoinError(f"the Indexer answered {error.code} for {url}") from None
    except (urllib.error.URLError, OSError) as error:
        raise JoinError(f"cannot reach {url}: {error}") from None
    if len(body) > limit:
        raise JoinError(f"{url} is larger than {limit} bytes")
    return body


def _checked_card(card, federation: str) -> dict:
    """``card`` if it has what joining reads, else JoinError (the Indexer is not trusted to be well-formed)."""
    def text(value):
        return isinstance(value, str) and value

    if not isinstance(card, dict) or not text(card.get("name")) or not text(card.get("server_address")):
        raise JoinError("the Indexer's answer is not a federation's card")
    if card.get("suspended") or card.get("client") is None:
        raise JoinError(f"{card['name']} is suspended by the Indexer's operators: its client is not served")
    client, join = card.get("client"), card.get("join")
    if not (isinstance(client, dict) and text(client.get("url")) and isinstance(client.get("sha256"), str)
            and re.fullmatch(r"[0-9a-f]{64}", client["sha256"]) and isinstance(join, dict)
            and all(text(join.get(name)) for name in ("filename", "install", "run"))):
        raise JoinError(f"the Indexer's card of {federation} lacks its client or how to join")
    return card


def fetch(indexer: str, federation: str) -> tuple[dict, bytes]:
    """The federation's card and its client's bytes, checked against the card's SHA-256."""
    if not SAFE_KEY.fullmatch(federation):
        raise JoinError("the federation is its slug or its id, as in its page's address")
    base = urllib.parse.urlsplit(indexer)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise JoinError(f"{indexer} is not an http(s) address")
    if base.scheme == "http" and base.hostname not in ("127.0.0.1", "localhost", "::1"):
        print(f"Warning: {indexer} is plain http: the card that names the SHA-256 could be changed on the way "
              "as well as the file. Prefer https.", file=sys.stderr)
    card_url = f"{indexer.rstrip('/')}/api/federations/{urllib.parse.quote(federation)}/"
    try:
        card = json.loads(_get(card_url, MAX_CARD_BYTES))
    except ValueError:
        raise JoinError(f"{card_url} did not answer JSON: is {indexer} an F2F Indexer?") from None
    client = _checked_card(card, federation)["client"]
    client_url = urllib.parse.urljoin(card_url, client["url"])
    if urllib.parse.urlsplit(client_url)[:2] != base[:2]:
        raise JoinError(f"the card points the client to {client_url}, not to the Indexer ({indexer})")
    content = _get(client_url, MAX_CLIENT_BYTES)
    digest = hashlib.sha256(content).hexdigest()
    if digest != client["sha256"]:
        raise JoinError(f"the downloaded client's SHA-256 is {digest}, the Indexer lists {client['sha256']}: "
                        "refusing to use it (tampered with or replaced on the way)")
    return card, content


def write(card: dict, content: bytes, directory: str, *, replace: bool = False) -> str:
    """Write the checked client into ``directory`` under the Indexer's name for it, all or nothing; a file of
    that name is replaced only when asked."""
    filename = card["join"]["filename"]
    if not SAFE_FILENAME.fullmatch(filename):
        raise JoinError(f"the Indexer named the client {filename!r}, which is not a plain Python file name")
    if not os.path.isdir(directory):
        raise JoinError(f"{directory} is not a directory")
    path = os.path.join(directory, filename)
    if os.path.exists(path) and not replace:
        raise JoinError(f"{path} exists already (--force replaces it)")
    handle, partial = tempfile.mkstemp(dir=directory, prefix=".join-", suffix=".py")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flower_integration join", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("federation", help="its slug or id (as in its page's address)")
    parser.add_argument("--indexer", default=os.environ.get("F2F_INDEXER", "http://127.0.0.1:8321"),
                        help="the Indexer's address (default: $F2F_INDEXER or http://127.0.0.1:8321)")
    parser.add_argument("--dir", default=".", help="where to write the client (default: here)")
    parser.add_argument("--no-run", action="store_true", help="fetch and check the client, do not start it")
    parser.add_argument("--force", action="store_true", help="replace a file of the client's name")
    args = parser.parse_args(argv)
    try:
        card, content = fetch(args.indexer, args.federation)
        path = write(card, content, args.dir, replace=args.force)
    except JoinError as error:
        print(f"Not joined: {error}.", file=sys.stderr)
        return 2
    join = card["join"]
    print(f"{card['name']}: {path} ({len(content)} bytes) matches the SHA-256 the Indexer lists, "
          f"{card['client']['sha256']}.\nIt needs Flower: {join['install']}")
    if card.get("flower_api") != "legacy":
        print(f"This federation runs Flower's SuperNode; start your node with:\n  {join['run']}")
        return 0
    command = [sys.executable, path, "--server-address", card["server_address"]]
    if args.no_run:
        print("Start it with:\n  " + " ".join(command))
        return 0
    print("Starting it:\n  " + " ".join(command), flush=True)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
