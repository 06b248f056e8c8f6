"""A campaign whose recipients come as a file (text/csv, or the `file` of a multipart form):
read as it arrives, checked and stored in batches, so the gateway's memory does not grow
with the file.

Every batch is COPYed in one transaction with the campaign row and its release job (the
outbox): a file that turns out bad halfway, a client that goes away, a broker that does
not confirm — each leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import asyncpg
from common.envelope import Envelope
from common.outbox import OutboxEntry
from common.runtime import Runtime
from pydantic import ValidationError

from ..contracts import ReleaseCampaign
from ..topology import SMS_CAMPAIGN
from . import campaign_store
from .bodies import CampaignOptions, CampaignQueued, Rejected
from .campaigns import CampaignIntake
from .settings import SmsGatewaySettings
from .upload import MAX_FIELD_BYTES, CsvRecipients, UploadProblem, multipart_parts

# Recipients checked and COPYed at a time: big enough that a COPY's fixed cost is small,
# small enough that a batch is a few MB at most.
BATCH = 5000


class NoValidRecipient(ValueError):
    """Every row was rejected: a 422 listing why."""

    def __init__(self, rejected: list[Rejected]) -> None:
        super().__init__("recipients: no valid recipient")
        self.rejected = rejected


@dataclass
class FileCampaign:
    """One campaign being written from a file, inside its connection's transaction."""

    runtime: Runtime
    connection: asyncpg.Connection
    campaign_id: uuid.UUID
    user_id: str
    options: CampaignOptions
    settings: SmsGatewaySettings
    field_name: str
    rejected: list[Rejected] = field(default_factory=list)
    staged: list[OutboxEntry] = field(default_factory=list)
    _records: CsvRecipients = field(init=False)
    _intake: CampaignIntake = field(init=False)
    _batch: list[tuple[int, Any]] = field(default_factory=list)
    _copying: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self._records = CsvRecipients(self.field_name, self.settings.sms_campaign_max_recipients)
        self._intake = CampaignIntake(
            self.campaign_id,
            self.options.message,
            self.settings.sms_default_region,
            self.settings.sms_max_segments,
        )

    async def feed(self, data: bytes) -> None:
        self._batch += self._records.feed(data)
        if len(self._batch) >= BATCH:
            await self._flush()

    async def _flush(self) -> None:
        rows, self._batch = self._batch, []
        # Parsing numbers is the CPU-heavy part: off the event loop, and overlapping the
        # COPY of the previous batch (Postgres works while this thread does).
        messages, rejected = await asyncio.to_thread(self._intake.prepare, rows)
        self.rejected += rejected
        await self._copied()
        self._copying = asyncio.ensure_future(
            campaign_store.add_recipients(
                self.connection, self.campaign_id, self.user_id, self.options.sender, messages
            )
        )

    async def _copied(self) -> None:
        if self._copying is not None:
            copying, self._copying = self._copying, None
            await copying

    async def complete(self, user_id: str) -> CampaignQueued:
        """The last rows, the totals, and the release job staged in the same transaction."""
        self._batch += self._records.finish()
        await self._flush()
        await self._copied()
        total = self._intake.accepted
        if not total:
            raise NoValidRecipient(self.rejected)
        await campaign_store.finish_campaign(
            self.connection, self.campaign_id, self.options.name, total, self.rejected
        )
        release = ReleaseCampaign(campaign_id=self.campaign_id)
        envelope = Envelope(message_id=f"{self.campaign_id}:0", user_id=user_id)
        self.staged = await self.runtime.outbox.stage(
            self.connection, [(SMS_CAMPAIGN, release, envelope)]
        )
        return CampaignQueued(
            id=self.campaign_id,
            name=self.options.name,
            total=total,
            status="queued",
            rejected=self.rejected,
        )

    async def abandon(self) -> None:
        if self._copying is not None:
            self._copying.cancel()
            await asyncio.gather(self._copying, return_exceptions=True)


@asynccontextmanager
async def file_campaign(
    runtime: Runtime,
    user_id: str,
    options: CampaignOptions,
    settings: SmsGatewaySettings,
    field_name: str,
) -> AsyncIterator[FileCampaign]:
    """Write a campaign from a file: feed it, `complete()` it; committed and its release
    published (or everything withdrawn) when the block ends."""
    campaign_id = uuid.uuid4()
    async with runtime.pool.acquire() as connection, connection.transaction():
        await campaign_store.begin_campaign(
            connection, campaign_id, user_id, options.name, options.message
        )
        campaign = FileCampaign(
            runtime, connection, campaign_id, user_id, options, settings, field_name
        )
        try:
            yield campaign
        except BaseException:
            await campaign.abandon()
            raise

    async def undo(connection: asyncpg.Connection) -> None:
        await campaign_store.delete_campaign(connection, campaign_id)

    await runtime.outbox.send_or_withdraw(campaign.staged, undo)


async def from_csv(
    runtime: Runtime,
    user_id: str,
    options: CampaignOptions,
    settings: SmsGatewaySettings,
    body: AsyncIterator[bytes],
) -> CampaignQueued:
    async with file_campaign(runtime, user_id, options, settings, "body") as campaign:
        async for chunk in body:
            await campaign.feed(chunk)
        answer = await campaign.complete(user_id)
    return answer


async def from_multipart(
    runtime: Runtime,
    user_id: str,
    content_type: str,
    settings: SmsGatewaySettings,
    body: AsyncIterator[bytes],
) -> CampaignQueued:
    """`file` plus `name`, `message`, `sender` in any order: when the file comes before the
    message it needs, it waits in a temporary file (on disk past 1 MB), not in memory."""
    fields: dict[str, bytearray] = {}
    current: str | None = None
    campaign: FileCampaign | None = None
    spool: IO[bytes] | None = None
    async with AsyncExitStack() as stack:
        async for part in multipart_parts(content_type, body):
            if part.kind == "begin":
                current = part.name
                if current == "file":
                    if campaign is not None or spool is not None:
                        raise UploadProblem("file", "more than one file")
                    if "message" in fields and "name" in fields:
                        campaign = await stack.enter_async_context(
                            file_campaign(runtime, user_id, _options(fields), settings, "file")
                        )
                    else:
                        spool = stack.enter_context(tempfile.SpooledTemporaryFile(1 << 20))  # noqa: SIM115
                elif current in ("name", "message", "sender"):
                    fields[current] = bytearray()
            elif part.kind == "data" and current == "file":
                if campaign is not None:
                    await campaign.feed(part.data)
                elif spool is not None:
                    spool.write(part.data)
            elif part.kind == "data" and current in fields:
                fields[current] += part.data
                if len(fields[current]) > MAX_FIELD_BYTES:
                    raise UploadProblem(current, f"longer than {MAX_FIELD_BYTES} bytes")
            elif part.kind == "end":
                current = None
        if campaign is None:
            if spool is None:
                raise UploadProblem("file", "field required (a CSV file with a header row)")
            campaign = await stack.enter_async_context(
                file_campaign(runtime, user_id, _options(fields), settings, "file")
            )
            spool.seek(0)
            while piece := spool.read(64 * 1024):
                await campaign.feed(piece)
        else:
            # Fields sent after the file still count.
            options = _options(fields)
            if options.sender != campaign.options.sender:
                await campaign_store.set_sender(
                    campaign.connection, campaign.campaign_id, options.sender
                )
            campaign.options = options
        answer = await campaign.complete(user_id)
    return answer


def _options(fields: dict[str, bytearray]) -> CampaignOptions:
    values: dict[str, Any] = {}
    for name, raw in fields.items():
        try:
            values[name] = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UploadProblem(name, "not UTF-8 text") from error
    try:
        return CampaignOptions.model_validate(values)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        raise UploadProblem(where, problem["msg"]) from error
