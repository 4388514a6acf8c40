"""The gateway's event log: every order update, fill, funding and liquidation of the account,
numbered, serialised the moment it happens, and kept in a bounded window so a client that
reconnects resumes from its cursor without missing or repeating an event.

The log is the wrapped venue's listener. A cursor is ``(epoch, seq)``: ``epoch`` changes
whenever the gateway starts, so a client can tell a restarted gateway (whose numbering began
again) from one it merely lost the connection to.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from axis.domain.orders import Fill, Order
from axis.gateway import wire
from axis.venues.base import FundingEvent, LiquidationEvent

DEFAULT_WINDOW = 50_000


@dataclass(frozen=True, slots=True)
class Replay:
    """What a subscriber gets on (re)connecting: the events after its cursor, and whether
    some it asked for are gone (before the window, or from a previous epoch)."""

    events: list[tuple[int, str]]
    gap: bool


class EventLog:
    """A :class:`~axis.venues.base.VenueListener` that numbers and keeps what the venue says."""

    def __init__(self, scrub: Callable[[str], str] = str, window: int = DEFAULT_WINDOW) -> None:
        self.scrub = scrub  # removes key material from what the venue reports
        self.epoch = secrets.token_hex(8)
        self.seq = 0
        self._events: deque[tuple[int, str]] = deque(maxlen=window)
        self._changed = asyncio.Event()

    # -- the VenueListener protocol -----------------------------------------------------------
    def on_order_update(self, order: Order) -> None:
        self._append({"type": "order", "order": wire.encode_order(order)})

    def on_fill(self, order: Order, fill: Fill) -> None:
        self._append(
            {"type": "fill", "order": wire.encode_order(order), "fill": wire.encode_fill(fill)}
        )

    def on_funding(self, event: FundingEvent) -> None:
        self._append({"type": "funding", "funding": wire.encode_funding(event)})

    def on_liquidation(self, event: LiquidationEvent) -> None:
        self._append({"type": "liquidation", "liquidation": wire.encode_liquidation(event)})

    # -- subscribers --------------------------------------------------------------------------
    def _append(self, event: dict[str, object]) -> None:
        self.seq += 1
        event["seq"] = self.seq
        self._events.append((self.seq, self.scrub(json.dumps(event))))
        # Wake every waiting subscriber; the next waiter gets a fresh event.
        self._changed.set()
        self._changed = asyncio.Event()

    def since(self, epoch: str | None, after: int) -> Replay:
        """The events after ``after``; ``after < 0`` means "from now on" (no replay)."""
        if after < 0:
            return Replay([], False)
        if epoch is not None and epoch != self.epoch:
            after = 0  # another gateway run numbered those: all of ours are new to the client
            gap = True
        else:
            oldest = self._events[0][0] if self._events else self.seq + 1
            gap = after + 1 < oldest and after < self.seq
        return Replay(self.after(after), gap)

    def after(self, after: int) -> list[tuple[int, str]]:
        """The kept events numbered above ``after``, read from the newest end (a live
        subscriber is usually one or two events behind)."""
        count = min(self.seq - max(after, 0), len(self._events))
        size = len(self._events)
        return [self._events[i] for i in range(size - count, size)]

    async def wait(self, after: int) -> None:
        """Return once an event after ``after`` exists."""
        while self.seq <= after:
            await self._changed.wait()
