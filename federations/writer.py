"""Where the ingest's batches are written: a process of its own beside the server, or a thread in it.

The server process spends its one interpreter lock on Socket.IO: decoding, acknowledging and
pushing cost ~225 microseconds of CPU per event (measured), a batch write ~140 more. On a thread of
the server (``ThreadWriter``) the two share that lock and one core; in a process of its own
(``ProcessWriter``, what ``run_portal`` serves with) the write runs on another core and the server
keeps its own for the traffic. Both take batches in the order given and write them one at a time,
in that order, each in one transaction (``services.federations_apply_reports``).

The process is started with ``spawn`` (the server has threads: forking it is unsafe) and talks to
the server over a socket pair: a batch goes as a pickle of its reports, the answer comes back as a
pickle of their outcomes and of the live pushes the write made, which the server sends (the
embedded mode's channel layer lives in the server process; the writer cannot reach its pages). It
ends when the server closes its end or dies (it reads end of file); a writer that dies is started
again for the next batch, and the batches it held are answered "try again later".
"""

import asyncio
import collections
import logging
import multiprocessing
import pickle
import socket
from concurrent.futures import ThreadPoolExecutor

# Nothing at the top of this module loads Django's models: the writer process imports it to start
# (``serve``), before Django is set up; the functions import what they use.

logger = logging.getLogger(__name__)

_LENGTH = 4  # bytes of the big-endian length before each pickle
_PICKLE = pickle.HIGHEST_PROTOCOL


def write(reports: list) -> list[str]:
    """Apply one batch of ``services.Report`` (on whichever thread or process writes); the outcome of each.

    The connection is kept from batch to batch without Django's per-request health check (a
    ``SELECT 1`` before every batch, a tenth of its round trips): a batch that fails closes it if it
    is broken, and the next batch connects again.
    """
    from django.db import close_old_connections

    from . import services

    try:
        return services.federations_apply_reports(reports=reports)
    except Exception:
        close_old_connections()
        raise


class ThreadWriter:
    """Batches written on a thread of this process; the write pushes to pages itself."""

    def __init__(self):
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="f2f-ingest-writer")

    def start_soon(self) -> None:
        """Nothing to start: the thread starts with the first batch."""

    async def write(self, reports: list) -> list[str]:
        return await asyncio.get_running_loop().run_in_executor(self.executor, write, reports)


class WriterGone(ConnectionError):
    """The writer process ended before answering a batch."""


class ProcessWriter:
    """Batches written by a process of their own, started on first use (and again after one dies)."""

    def __init__(self):
        self.process = None
        self.stream: asyncio.StreamWriter | None = None
        self.answers: collections.deque[asyncio.Future] = collections.deque()
        self.handing = asyncio.Lock()  # fair: batches are handed over in the order they asked
        self.reading: asyncio.Task | None = None

    def start_soon(self) -> None:
        """Start the process now (it takes a second or two), so that the first batch does not wait for it."""
        task = asyncio.get_running_loop().create_task(self._started())
        task.add_done_callback(lambda done: done.cancelled() or done.exception() is None or logger.error(
            "The ingest's writer process did not start; the first batch tries again", exc_info=done.exception()))

    async def _started(self) -> None:
        async with self.handing:
            if self.stream is None:
                await self._start()

    async def write(self, reports: list) -> list[str]:
        async with self.handing:
            if self.stream is None:
                await self._start()
            data = pickle.dumps(reports, _PICKLE)
            self.stream.write(len(data).to_bytes(_LENGTH, "big") + data)
            answer = asyncio.get_running_loop().create_future()
            self.answers.append(answer)
        return await answer

    async def _start(self) -> None:
        ours, theirs = socket.socketpair()
        self.process = multiprocessing.get_context("spawn").Process(
            target=serve, args=(theirs,), name="f2f-ingest-writer", daemon=True)
        self.process.start()
        theirs.close()
        reader, self.stream = await asyncio.open_connection(sock=ours)
        self.reading = asyncio.get_running_loop().create_task(self._read_forever(reader, self.stream))

    async def _read_forever(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        from . import live

        try:
            while True:
                length = int.from_bytes(await reader.readexactly(_LENGTH), "big")
                outcomes, pushes = pickle.loads(await reader.readexactly(length))
                for push in pushes:
                    live.push(**push)
                answer = self.answers.popleft()
                if isinstance(outcomes, BaseException):
                    answer.set_exception(outcomes)
                else:
                    answer.set_result(outcomes)
        except (asyncio.IncompleteReadError, ConnectionError):
            if self.process.is_alive():  # it closed its end without ending: end it (it holds a connection)
                self.process.kill()
            logger.error("The ingest's writer process ended (exit code %s); the next batch starts another",
                         self.process.exitcode)
        except Exception:
            logger.exception("The ingest's writer process answered what cannot be read; the next batch starts another")
            self.process.kill()
        finally:
            stream.close()
            self.process, self.stream = None, None
            while self.answers:
                self.answers.popleft().set_exception(WriterGone("the ingest's writer process ended"))


def serve(sock: socket.socket) -> None:
    """The writer process: write each batch that comes in, answer with its outcomes and pushes, until end of file."""
    import django

    django.setup()
    from . import live

    stream = sock.makefile("rwb")
    while header := stream.read(_LENGTH):
        reports = pickle.loads(stream.read(int.from_bytes(header, "big")))
        with live.collecting() as pushes:
            try:
                outcomes = write(reports)
            except Exception as error:  # the server answers this batch "try again later"
                logger.exception("Writing a batch of %d reported events failed", len(reports))
                outcomes, pushes[:] = RuntimeError(f"the write failed: {error!r}"), []
        data = pickle.dumps((outcomes, pushes), _PICKLE)
        stream.write(len(data).to_bytes(_LENGTH, "big") + data)
        stream.flush()
