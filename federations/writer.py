"""Where the ingest's batches are written: a process of its own beside the server, or a thread in it.

The server process spends its one interpreter lock on Socket.IO: decoding, acknowledging and
pushing cost ~225 microseconds of CPU per event (measured), a batch write ~140 more. On a thread of
the server (``ThreadWriter``) the two share that lock and one core; in a process of its own
(``ProcessWriter``, what ``run_portal`` serves with) the write runs on another core and the server
keeps its own for the traffic. Both take batches in the order given and write them one at a time,
in that order, each in one transaction (``write``; a batch the database refuses is written event
by event, in place).

The process is started with ``spawn`` (the server has threads: forking it is unsafe) and talks to
the server over a socket pair: a batch goes as a pickle of its reports, the answer comes back as a
pickle of their outcomes and, in the embedded mode, of the live pushes the write made, which the
server sends (the in-memory channel layer lives in the server process; the writer cannot reach its
pages). On a Redis layer the writer sends its pushes itself, from a thread of its own: encoding and
publishing them cost the server's core 2-3 % of its closed-loop samples, which the writer's core,
mostly waiting for PostgreSQL, has to spare. It
ends when the server closes its end or dies (it reads end of file); a writer that dies is started
again for the next batch, and the batches it held are answered "try again later": their reporters
send them again, in their order. (A batch the dead writer had committed is then answered "stale",
and its round points reach open pages with their next load only.)
"""

import asyncio
import collections
import contextlib
import logging
import multiprocessing
import pickle
import socket
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async

# Nothing at the top of this module loads Django's models: the writer process imports it to start
# (``serve``), before Django is set up; the functions import what they use.

logger = logging.getLogger(__name__)

_LENGTH = 4  # bytes of the big-endian length before each pickle
_PICKLE = pickle.HIGHEST_PROTOCOL


def write(reports: list) -> list[str | None]:
    """Apply one batch of ``services.Report``; the outcome of each, None for one that could not be written.

    The whole batch in one transaction. When its connection fails (one that dropped while idle: the
    writer keeps its connection without Django's per-request health check, a ``SELECT 1`` before
    every batch), the batch once more, on a new connection; if that fails too, none of it. When the
    database refuses it, report by report, in order, so that one report the database refuses does not get the others refused with
    it: in place, before the next batch, so that no later event is written before an earlier one.
    """
    from django.db import InterfaceError, OperationalError

    try:
        return _applied(reports)
    except (InterfaceError, OperationalError):
        logger.warning("Writing a batch of %d reported events failed on its connection; once more on a new one",
                       len(reports), exc_info=True)
        try:
            return _applied(reports)
        except (InterfaceError, OperationalError):  # the database is out of reach: event by event would not help
            logger.exception("Writing a batch of %d reported events failed on a new connection too", len(reports))
            return [None] * len(reports)
        except Exception:
            logger.exception("Writing a batch of %d reported events failed again", len(reports))
    except Exception:
        logger.exception("Writing a batch of %d reported events failed", len(reports))
    if len(reports) == 1:
        return [None]
    return [outcome for report in reports for outcome in write([report])]


def _applied(reports: list) -> list[str]:
    from django.db import close_old_connections

    from . import services

    try:
        return services.federations_apply_reports(reports=reports)
    except Exception:
        close_old_connections()  # closes it if it is broken
        raise


def _write_as_a_request(reports: list) -> list[str | None]:
    """``write`` on a thread that serves the server's other work too: a sound connection before, and closed
    after if it is too old, as for a request."""
    from django.db import close_old_connections

    close_old_connections()
    try:
        return write(reports)
    finally:
        close_old_connections()


class ThreadWriter:
    """Batches written on a thread of this process; the write pushes to pages itself."""

    def __init__(self):
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="f2f-ingest-writer")

    def start_soon(self) -> None:
        """Nothing to start: the thread starts with the first batch."""

    async def write(self, reports: list) -> list[str | None]:
        # Through asgiref: the write's pushes then find this event loop (live.push).
        return await sync_to_async(_write_as_a_request, thread_sensitive=False, executor=self.executor)(reports)


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
                if answer.done():  # its writer stopped waiting (cancelled)
                    continue
                if isinstance(outcomes, BaseException):
                    answer.set_exception(outcomes)
                else:
                    answer.set_result(outcomes)
        except (asyncio.IncompleteReadError, ConnectionError):
            unreadable = False
        except Exception:
            logger.exception("The ingest's writer process answered what cannot be read")
            unreadable = True
        finally:
            stream.close()
            process, self.process, self.stream = self.process, None, None
            while self.answers:
                answer = self.answers.popleft()
                if not answer.done():
                    answer.set_exception(WriterGone("the ingest's writer process ended"))
        # Ended already, or closed its end without ending, or unreadable: it is not to hold a connection on.
        process.kill()
        await asyncio.to_thread(process.join, 10)
        logger.error("The ingest's writer process ended (exit code %s%s); the next batch starts another",
                     process.exitcode, ", killed after an unreadable answer" if unreadable else "")


def serve(sock: socket.socket) -> None:
    """The writer process: write each batch that comes in, answer with its outcomes and pushes, until end of file."""
    import signal

    import django

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C stops the server; the server's end of file stops this
    django.setup()
    from f2f_site import collector

    from . import live

    collector.settle()
    sends_its_pushes = live.reaches_every_process()
    if sends_its_pushes:
        live.send_from_a_thread_of_its_own()

    stream = sock.makefile("rwb")
    while header := stream.read(_LENGTH):
        reports = pickle.loads(stream.read(int.from_bytes(header, "big")))
        with contextlib.nullcontext([]) if sends_its_pushes else live.collecting() as pushes:
            try:
                outcomes = write(reports)
            except Exception as error:  # not a database's refusal (write answers those): the batch is refused
                logger.exception("Writing a batch of %d reported events failed", len(reports))
                outcomes = RuntimeError(f"the write failed: {error!r}")
        data = pickle.dumps((outcomes, pushes), _PICKLE)
        stream.write(len(data).to_bytes(_LENGTH, "big") + data)
        stream.flush()
