"""Fill rules on bars, written once over plain numbers and shared by every execution path.

Both the per-event SimulatedVenue and the vectorised signal kernel call these functions, so
the two paths agree by construction. They are numba-compiled so the kernel can inline them.

Intrabar path
-------------
A bar's prices are assumed to move open → nearer extreme → farther extreme → close, where the
nearer extreme is whichever of high and low lies closer to the open (the high on a tie). A
position along that path is a float ``t`` in [0, 3]: segment index plus the fraction of the
segment travelled. Two events in one bar happen in the order of their ``t``.

Gaps: a level already beyond the open is touched at ``t = 0`` and fills at the open.
"""

from __future__ import annotations

import math

import numba

from axis.domain.futures import unrealized_pnl
from axis.domain.instrument import ceil_step, floor_step

NEVER = math.inf  # touch time of a level the bar does not reach


@numba.njit(cache=True)
def intrabar_path(
    open_: float, high: float, low: float, close: float
) -> tuple[float, float, float, float]:
    """The four turning points of the documented intrabar path."""
    if high - open_ <= open_ - low:
        return open_, high, low, close
    return open_, low, high, close


@numba.njit(cache=True)
def price_at(open_: float, high: float, low: float, close: float, t: float) -> float:
    """The price at path position ``t`` (linear within each segment)."""
    p = intrabar_path(open_, high, low, close)
    if t <= 0.0:
        return p[0]
    if t >= 3.0:
        return p[3]
    k = int(t)
    return p[k] + (p[k + 1] - p[k]) * (t - k)


@numba.njit(cache=True)
def _beyond(price: float, level: float, direction: int) -> bool:
    return price >= level if direction > 0 else price <= level


@numba.njit(cache=True)
def _beyond_strictly(price: float, level: float, direction: int) -> bool:
    return price > level if direction > 0 else price < level


@numba.njit(cache=True)
def touch_time(
    open_: float,
    high: float,
    low: float,
    close: float,
    level: float,
    direction: int,
    t_from: float = 0.0,
) -> float:
    """When price first reaches ``level`` on the intrabar path at or after ``t_from``, or NEVER.

    ``direction`` +1 waits for price to rise to the level (buy stops, short liquidations);
    -1 waits for it to fall to it (sell stops, long liquidations). A level already reached at
    ``t_from`` (a gap, when ``t_from`` is 0) is touched at ``t_from``.
    """
    if t_from >= 3.0:
        return NEVER
    p = intrabar_path(open_, high, low, close)
    prev = price_at(open_, high, low, close, t_from)
    if _beyond(prev, level, direction):
        return t_from
    prev_t = t_from
    for k in range(int(t_from), 3):
        nxt = p[k + 1]
        if _beyond(nxt, level, direction):
            return prev_t + (k + 1.0 - prev_t) * (level - prev) / (nxt - prev)
        prev = nxt
        prev_t = k + 1.0
    return NEVER


@numba.njit(cache=True)
def limit_touch_time(
    open_: float,
    high: float,
    low: float,
    close: float,
    limit: float,
    side: int,
    t_from: float = 0.0,
) -> float:
    """When a resting limit order fills: the first time at or after ``t_from`` from which price
    trades THROUGH the limit (strictly beyond it); NEVER when it does not in this bar. A buy
    waits for a fall. Merely reaching the limit and turning back is not a fill."""
    direction = -side
    p = intrabar_path(open_, high, low, close)
    t = touch_time(open_, high, low, close, limit, direction, t_from)
    while t < 3.0:
        k = int(t)
        # Through at once: already strictly beyond at the start (a gap), or heading strictly
        # beyond from the touch. Turning points are compared exactly, so a bar whose extreme
        # equals the limit never fills it.
        if t == t_from and _beyond_strictly(price_at(open_, high, low, close, t), limit, direction):
            return t
        if _beyond_strictly(p[k + 1], limit, direction):
            return t
        # Reached the limit and turned back (the search started exactly at it, or an extreme
        # equals it): look for the next touch from the following turning point on.
        t = touch_time(open_, high, low, close, limit, direction, k + 1.0)
    return NEVER


@numba.njit(cache=True)
def slipped_price(price: float, side: int, slippage: float) -> float:
    """A taker's fill price: ``slippage`` (a fraction) worse than ``price`` for its side."""
    return price * (1.0 + side * slippage)


@numba.njit(cache=True)
def triggered_fill_price(
    start_price: float, level: float, t: float, t_from: float, side: int, slippage: float
) -> float:
    """Fill price of a stop-market/take-profit order (or a marketable limit's base price)
    touched at ``t``: the price at activation when it was already beyond the trigger there (a
    gap), else the trigger itself; plus taker slippage."""
    base = start_price if t == t_from else level
    return slipped_price(base, side, slippage)


@numba.njit(cache=True)
def fee_for(quantity: float, price: float, contract_size: float, rate: float) -> float:
    """Fee in the settle currency on ``quantity`` contracts at ``price``."""
    return abs(quantity) * contract_size * price * rate


@numba.njit(cache=True)
def participation_cap(quantity: float, bar_volume: float, cap: float, lot: float) -> float:
    """The part of ``quantity`` that may fill against a bar of ``bar_volume`` contracts when at
    most ``cap`` of the bar's volume can be ours (cap <= 0 means no cap). Rounded down to lot."""
    if cap <= 0.0:
        return quantity
    allowed = math.floor(bar_volume * cap / lot + 1e-9) * lot
    return min(quantity, allowed)


@numba.njit(cache=True)
def exposure_quantity(
    budget: float,
    price: float,
    leverage: float,
    contract_size: float,
    taker_fee: float,
    slippage: float,
    lot: float,
    lot_decimals: int,
) -> float:
    """Contracts a market order may buy with ``budget`` of margin: the largest lot multiple
    whose initial margin plus taker fee, at ``price`` moved by the slippage, fits the budget.
    Sizing against the slipped price keeps a market order within the balance at its fill."""
    if budget <= 0.0 or price <= 0.0:
        return 0.0
    per_contract = contract_size * price * (1.0 + slippage) * (1.0 / leverage + taker_fee)
    return floor_step(budget / per_contract, lot, lot_decimals)


@numba.njit(cache=True)
def protective_levels(
    side: int, entry: float, stop_loss: float, take_profit: float, tick: float, decimals: int
) -> tuple[float, float]:
    """Stop-loss and take-profit triggers for a position of ``side`` entered at ``entry``
    (distances as fractions; 0 means none → nan). Each is rounded toward the entry so it fires
    no later than asked."""
    sl = math.nan
    tp = math.nan
    if stop_loss > 0.0:
        raw = entry * (1.0 - side * stop_loss)
        sl = ceil_step(raw, tick, decimals) if side > 0 else floor_step(raw, tick, decimals)
    if take_profit > 0.0:
        raw = entry * (1.0 + side * take_profit)
        tp = floor_step(raw, tick, decimals) if side > 0 else ceil_step(raw, tick, decimals)
    return sl, tp


@numba.njit(cache=True)
def margin_allows(
    position: float,
    entry: float,
    margin: float,
    wallet: float,
    side: int,
    quantity: float,
    price: float,
    contract_size: float,
    leverage: float,
    taker_fee: float,
) -> bool:
    """Whether a fill of ``quantity`` contracts on ``side`` at ``price`` fits the account: the
    part that opens needs its initial margin plus the taker fee out of the available balance
    (equity less the position's margin) plus the margin the closing part releases.
    ``position`` is signed contracts; ``margin`` the position's (isolated) margin."""
    closing = min(quantity, abs(position)) if quantity * side * position < 0 else 0.0
    opening = quantity - closing
    if opening <= 0.0:
        return True
    need = opening * contract_size * price * (1.0 / leverage + taker_fee)
    upnl = 0.0
    if position != 0.0:
        upnl = unrealized_pnl(
            1.0 if position > 0 else -1.0, abs(position) * contract_size, entry, price
        )
    available = wallet + upnl - margin
    released = margin * closing / abs(position) if closing > 0.0 else 0.0
    return need <= (available + released) * (1.0 + 1e-12)


@numba.njit(cache=True)
def fill_position(
    position: float,
    entry: float,
    margin: float,
    side: int,
    quantity: float,
    price: float,
    contract_size: float,
    leverage: float,
    lot: float,
) -> tuple[float, float, float, float]:
    """(position, average entry, margin, realised PnL) after a fill, on plain numbers, exactly
    as :meth:`axis.domain.position.Position.apply_fill` moves a position: a fill against the
    position closes first (realising PnL at the average entry, releasing margin pro rata),
    the rest opens the other way; the entry moves only with quantity that adds."""
    signed = quantity * side
    closed = 0.0
    realized = 0.0
    if position != 0.0 and (signed > 0) != (position > 0):
        closed = min(abs(signed), abs(position))
        sign = 1.0 if position > 0 else -1.0
        realized = unrealized_pnl(sign, closed * contract_size, entry, price)
        margin -= margin * closed / abs(position)
        position += math.copysign(closed, signed)
        if abs(position) <= lot * 1e-9:
            position, entry, margin = 0.0, 0.0, 0.0
    opened = abs(signed) - closed
    if opened > 0.0:
        total = abs(position) + opened
        entry = (entry * abs(position) + price * opened) / total
        position = math.copysign(total, signed)
        margin += opened * contract_size * price / leverage
    return position, entry, margin, realized
