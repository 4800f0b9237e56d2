"""The Socket.IO server that federation servers report to, mounted at /socket.io/ in the ASGI app.

A connection authenticates once, in the Socket.IO ``auth`` payload (``federation`` id and
``token``); the federation is then bound to the session and nothing in an event can name
another. Each event is checked against ``protocol`` as it arrives, then waits for the next
batch (``GroupCommit``): a batch is one throttle check (``throttle``) and one transaction
(``services.federations_apply_reports``, written by ``writer``: under ``run_portal`` a process of
its own), and each of its events is acknowledged once that transaction has committed:
``{"ok": true}`` or ``protocol.refusal(code)``, so that the reporter knows what to resend.
"""

import asyncio
import collections
import logging

import socketio
from channels.db import database_sync_to_async
from django.conf import settings

from f2f_site import __version__ as portal_version
from f2f_site import limits

from . import protocol, services, writer
from .throttle import throttle

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024
MAX_BATCH = 1000
# Events waiting beyond this are answered "unavailable" at once (the reporter retries later) rather
# than queued for longer than a reporter waits for its acknowledgement.
MAX_WAITING = 3 * MAX_BATCH
# Batches handed to the writer at once: while it writes one, the next waits in its queue, so it never
# waits for this loop to answer the last batch and gather the next (closed loop, writer process: ~2,300
# events/s with one, ~2,800 with two; three or four make smaller batches that cost more than they overlap).
WRITES_IN_FLIGHT = 2

sio = socketio.AsyncServer(
    async_mode="asgi",
    # Same origin only (engineio's default, proxy headers included): reporters send their own
    # target as Origin; pages of other sites are refused. Note that [] would disable the check.
    cors_allowed_origins=None,
    max_http_buffer_size=MAX_FRAME_BYTES,
    logger=False,
    engineio_logger=False,
)

# Batches are written on a thread of this process, unless the server has asked for a process of their own.
_thread_writer = writer.ThreadWriter()
_in_a_process = False


def write_in_a_process() -> None:
    """Have each event loop's batches written by a process of its own (``run_portal``; see federations.writer)."""
    global _in_a_process
    _in_a_process = True


class GroupCommit:
    """Events wait here for the next batch; while the writer is busy, the next one gathers.

    So the busier the ingest, the larger its batches, and one transaction serves many events.
    """

    def __init__(self):
        self.writer = writer.ProcessWriter() if _in_a_process else _thread_writer
        self.writer.start_soon()
        self.waiting: list[tuple[services.Report, asyncio.Future]] = []
        self.waiting_per_federation = collections.Counter()
        self.more = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._write_forever())

    async def submit(self, report: services.Report) -> dict:
        """Apply ``report`` in the next batch; the answer for the reporter once it has committed."""
        if self.task.done():
            raise RuntimeError("the ingest's writer has stopped")
        # One federation never fills the queue for the others: past its own limit it is throttled here.
        if self.waiting_per_federation[report.federation_id] >= settings.F2F_INGEST_EVENTS:
            return protocol.refusal(protocol.THROTTLED)
        if len(self.waiting) >= MAX_WAITING:
            return protocol.refusal(protocol.RETRY_LATER)
        answer = asyncio.get_running_loop().create_future()
        self.waiting.append((report, answer))
        self.waiting_per_federation[report.federation_id] += 1
        self.more.set()
        return await answer

    async def _write_forever(self):
        # Batches are counted against the throttle and handed to the writer in arrival order, and the
        # writer writes them in that order; up to WRITES_IN_FLIGHT are handed over at once, so that the
        # writer never waits for the next batch while this loop answers the last one.
        slots = asyncio.Semaphore(WRITES_IN_FLIGHT)
        tasks = set()
        while True:
            await self.more.wait()
            self.more.clear()
            while self.waiting:
                await slots.acquire()
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                self.waiting_per_federation -= collections.Counter(report.federation_id for report, _ in batch)
                answers = await self._throttled([report for report, _ in batch])
                # Tasks start in the order they are made, and hand their batch to the writer at once.
                task = asyncio.get_running_loop().create_task(self._answer(batch, answers))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(lambda _: slots.release())

    async def _answer(self, batch, answers) -> None:
        """Write the events of ``batch`` the throttle let through (no answer yet), then answer every event."""
        try:
            outcomes = iter(await self._written([report for (report, _), answer in zip(batch, answers)
                                                 if answer is None]))
            for (_, future), answer in zip(batch, answers):
                answer = answer or next(outcomes)
                if not future.done():
                    future.set_result(answer)
        except Exception:
            logger.exception("Answering a batch of %d reported events failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_result(protocol.refusal(protocol.RETRY_LATER))

    async def _throttled(self, reports) -> list[dict | None]:
        """Each report's refusal by the throttle, or None where it may be written."""
        try:
            allowed = await throttle().take_events(collections.Counter(report.federation_id for report in reports))
        except Exception:
            logger.exception("Counting a batch of %d reported events failed", len(reports))
            return [protocol.refusal(protocol.RETRY_LATER)] * len(reports)
        answers = []
        for report in reports:
            if allowed[report.federation_id] > 0:
                allowed[report.federation_id] -= 1
                answers.append(None)
            else:
                answers.append(protocol.refusal(protocol.THROTTLED))
        return answers

    async def _written(self, reports) -> list[dict]:
        """The answers for ``reports`` once written: "try again later" for those the writer could not write,
        and for all of them when the writer itself failed (its process died, say)."""
        if not reports:
            return []
        try:
            outcomes = await self.writer.write(reports)
        except Exception:
            logger.exception("The writer failed a batch of %d reported events", len(reports))
            return [protocol.refusal(protocol.RETRY_LATER)] * len(reports)
        return [protocol.refusal(protocol.RETRY_LATER) if outcome is None else ANSWERS[outcome] for outcome in outcomes]


ANSWERS = {
    services.Outcome.APPLIED: {"ok": True},
    # Received, but behind what the Indexer already has: not to be resent either.
    services.Outcome.STALE: {"ok": True, "stale": True},
    services.Outcome.REVOKED: protocol.refusal(protocol.TOKEN_REVOKED),
}

_group_commits: dict[asyncio.AbstractEventLoop, GroupCommit] = {}


def group_commit() -> GroupCommit:
    """The group commit of the running event loop."""
    loop = asyncio.get_running_loop()
    if loop not in _group_commits or _group_commits[loop].task.done():
        for other in [other for other in _group_commits if other.is_closed()]:
            del _group_commits[other]
        _group_commits[loop] = GroupCommit()
    return _group_commits[loop]


def client_address(environ) -> str:
    """The address failed connection attempts are counted against (``f2f_site.limits.client_address``)."""
    client = environ.get("asgi.scope", {}).get("client") or ("unknown", 0)
    return limits.client_address(str(client[0]), environ.get("HTTP_X_FORWARDED_FOR", ""))


def _refused(code: str) -> socketio.exceptions.ConnectionRefusedError:
    return socketio.exceptions.ConnectionRefusedError(protocol.MESSAGES[code], {"code": code})


@sio.event
async def connect(sid, environ, auth):
    address = client_address(environ)
    try:
        auth = auth if isinstance(auth, dict) else {}
        federation_id = auth.get("federation")
        # Failures count per address and federation: reporters behind one proxy or NAT are not locked out
        # by someone failing against another federation from the same address.
        address = f"{address} federation {str(federation_id)[:24]}"
        if await throttle().address_blocked(address):
            raise _refused(protocol.REFUSED_ADDRESS)
        token_id = await database_sync_to_async(services.reporting_token_authenticate)(
            federation_id=federation_id, token=auth.get("token")
        )
        if token_id is None:
            await throttle().count_failure(address)
            logger.info("Refused a reporting connection from %s: %s", address, protocol.REFUSED_TOKEN)
            raise _refused(protocol.REFUSED_TOKEN)
    except socketio.exceptions.ConnectionRefusedError:
        raise
    except Exception:
        logger.exception("Checking a reporting connection from %s failed", address)
        raise _refused(protocol.RETRY_LATER) from None
    await sio.save_session(sid, {"federation_id": federation_id, "token_id": token_id})
    group_commit()  # its writer starts with the first reporter, not with the first event
    logger.info("Federation %s connected to report (sid %s)", federation_id, sid)
    # Sent once the connection is accepted: how often to say it is alive when it has nothing else to send.
    sio.start_background_task(sio.emit, protocol.HELLO, protocol.hello(alive_every=services.alive_every()), to=sid)


@sio.event
async def health(sid, data=None):
    """Answers a reporter's liveness probe."""
    return {"ok": True, "service": "f2f-indexer", "version": portal_version}


async def _disconnect_after_ack(sid):
    await sio.sleep(0.1)
    await sio.disconnect(sid)


async def _apply(sid, kind, data):
    session = await sio.get_session(sid)
    try:
        event = protocol.PARSERS[kind](data)
    except protocol.ProtocolError as error:
        return protocol.refusal(protocol.INVALID, str(error))
    answer = await group_commit().submit(services.Report(session["federation_id"], session["token_id"], event))
    if answer.get("code") == protocol.TOKEN_REVOKED:
        sio.start_background_task(_disconnect_after_ack, sid)
    return answer


@sio.on("state")
async def state(sid, data):
    return await _apply(sid, "state", data)


@sio.on("round")
async def round_finished(sid, data):
    return await _apply(sid, "round", data)


@sio.on("final")
async def final(sid, data):
    return await _apply(sid, "final", data)


@sio.on("alive")
async def alive(sid, data):
    return await _apply(sid, "alive", data)
