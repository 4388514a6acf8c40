"""Opening and closing positions from the API: the core's order path, a paper fill.

An API order takes the same path as a strategy's: an :class:`~axis.risk.chain.OrderIntent`
goes through the core :class:`~axis.engine.oms.OrderManager`, which runs the full
:class:`~axis.risk.chain.RiskChain` on a :class:`~axis.risk.chain.RiskSnapshot` of the user's
stored account (profile limits, kill-switch state, equity, peak and day-start equity, exposure,
open orders), assigns a deterministic client order id, journals the order to the database
(write-ahead) and only then sends it.

The venue here is :class:`PaperVenue`: no exchange is configured for API orders in this
process, so a market order fills at once at the current quote (cache, stored candle, or the
bundled sample) moved by the configured slippage, paying the exchange's taker fee; an order
whose margin and fee exceed the free margin is rejected as an exchange would. Position
accounting (average entry, margin, realised PnL) and the liquidation price are the domain's
own :class:`~axis.domain.position.Position` and :func:`~axis.domain.liquidation.liquidation_price`.

The whole change (order, fill, position, wallet) is one transaction under the user's lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from axis.api.book import OpenPosition, Valuation, instrument, value_book
from axis.api.context import ApiContext
from axis.api.errors import ApiError
from axis.api.market import MarketService, NoMarketData, Quote
from axis.api.schemas import ClosePositionRequest, OpenPositionRequest, PositionSideIn
from axis.domain.enums import LiquiditySide, MarginMode, OrderSide, OrderType
from axis.domain.instrument import Instrument, step_decimals
from axis.domain.orders import Fill, Order, OrderStatus
from axis.domain.position import Position as DomainPosition
from axis.engine.oms import OrderManager
from axis.observability import metrics
from axis.observability.logging import get_logger
from axis.risk.chain import OrderIntent, RiskAction, RiskChain, RiskDecision, RiskSnapshot
from axis.risk.limits import TradingState, limits_for
from axis.store.cache import keys
from axis.store.models import Position, User
from axis.store.trading import OrderRepository, PositionRepository, SqlOrderJournal, TradeRepository
from axis.store.types import to_decimal
from axis.venues import fills as rules

log = get_logger("axis.api.trading")


class PaperVenue:
    """Fills market orders at once at ``price`` ± slippage; rejects what the margin cannot
    carry. Implements the core Venue protocol for one order."""

    name = "paper"

    def __init__(
        self,
        manager: OrderManager | None,
        instrument: Instrument,
        price: float,
        slippage: float,
        leverage: float,
        available_margin: float,
        now_ms: int,
    ) -> None:
        self.manager = manager
        self.instrument = instrument
        self.price = price
        self.slippage = slippage
        self.leverage = leverage
        self.available_margin = available_margin
        self.now_ms = now_ms
        self.fills: list[tuple[Order, Fill]] = []
        self.rejections: list[Order] = []

    def submit(self, order: Order) -> None:
        order.submit()
        order.exchange_order_id = f"paper-{order.client_order_id}"
        price = float(rules.slipped_price(self.price, order.side.sign, self.slippage))
        price = self.instrument.round_price(price)
        fee = float(
            rules.fee_for(
                order.quantity, price, self.instrument.contract_size, self.instrument.taker_fee
            )
        )
        if not order.reduce_only:
            needed = self.instrument.notional(order.quantity, price) / self.leverage + fee
            if needed > self.available_margin + 1e-9:
                order.reject(
                    f"insufficient margin: needs {needed:,.2f}, {self.available_margin:,.2f} free"
                )
                self.rejections.append(order)
                self._report(order)
                return
        self._report(order)
        order.apply_fill(order.quantity, price, fee)
        fill = Fill(
            order.client_order_id,
            order.symbol,
            order.side,
            order.quantity,
            price,
            fee,
            LiquiditySide.TAKER,
            self.now_ms,
            trade_id=f"paper-{order.client_order_id}-1",
        )
        self.fills.append((order, fill))
        self._report(order)

    def _report(self, order: Order) -> None:
        if self.manager is not None:
            self.manager.on_update(order)

    def cancel(self, client_order_id: str) -> None:
        return None  # market orders fill or reject at once: nothing rests

    def open_orders(self) -> list[Order]:
        return []


@dataclass(slots=True)
class Account:
    """The user's book in this transaction, valued at current quotes."""

    user: User
    rows: list[Position]
    valuation: Valuation
    quotes: dict[tuple[str, str], Quote]


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


class TradingService:
    def __init__(self, ctx: ApiContext, market: MarketService) -> None:
        self.ctx = ctx
        self.market = market
        self.chain = RiskChain()

    # -- the account --------------------------------------------------------------------------
    def _quote(self, exchange: str, symbol: str) -> Quote:
        try:
            quote = self.market.quote(exchange, symbol)
        except NoMarketData as exc:
            raise ApiError(400, str(exc), rule="no_price") from None
        age = quote.age_s(self.ctx.now())
        # Fail closed on a stale stored price; the bundled sample is knowingly historical.
        if quote.source != "bundled_sample" and age > self.ctx.settings.max_price_age_s:
            raise ApiError(
                400,
                f"price of {symbol} is {age:,.0f}s old "
                f"(limit {self.ctx.settings.max_price_age_s}s)",
                rule="stale_price",
                details={"age_s": age, "as_of": quote.as_of.isoformat()},
            )
        return quote

    def _account(self, session: Any, user: User, extra: tuple[str, str] | None) -> Account:
        rows = PositionRepository(session).open_for_user(user.id)
        wanted = [(r.exchange, r.symbol) for r in rows]
        if extra is not None:
            wanted.append(extra)
        quotes = {pair: self._quote(*pair) for pair in dict.fromkeys(wanted)}
        marks = {pair: q.price for pair, q in quotes.items()}
        valuation = value_book(
            float(user.wallet_balance), [OpenPosition.of(r) for r in rows], marks
        )
        self._roll_equity_marks(user, valuation.equity)
        return Account(user, rows, valuation, quotes)

    def _roll_equity_marks(self, user: User, equity: float) -> None:
        """Keep the peak and the UTC day's opening equity the loss limits are measured from."""
        today: date = self.ctx.now().date()
        if user.day_start_date != today:
            user.day_start_date = today
            user.day_start_equity = to_decimal(round(equity, 8))
        if equity > float(user.peak_equity):
            user.peak_equity = to_decimal(round(equity, 8))

    def _snapshot(
        self,
        session: Any,
        account: Account,
        inst: Instrument,
        current: Position | None,
        leverage: float,
    ) -> RiskSnapshot:
        user = account.user
        state = TradingState(user.trading_state)
        quantity = 0.0
        entry = margin = 0.0
        if current is not None:
            sign = 1 if current.side == "long" else -1
            quantity = sign * float(current.quantity) / inst.contract_size
            entry, margin = float(current.entry_price), float(current.margin)
        with_orders = OrderRepository(session).open_count(user.id)
        equity = account.valuation.equity
        return RiskSnapshot(
            limits=limits_for(user.risk_profile),
            trading_state=state,
            instrument=inst,
            quantity=quantity,
            entry=entry,
            margin=margin,
            position_leverage=leverage,
            mode=MarginMode.ISOLATED,
            account_equity=equity,
            peak=max(float(user.peak_equity), equity),
            day_start=float(user.day_start_equity),
            notional_total=account.valuation.notional,
            open_orders=with_orders,
        )

    def _place(
        self,
        session: Any,
        user: User,
        intent: OrderIntent,
        snapshot: RiskSnapshot,
        venue: PaperVenue,
        exchange: str,
    ) -> tuple[Order, RiskDecision, SqlOrderJournal]:
        journal = SqlOrderJournal(session, exchange=exchange, user_id=user.id)
        manager = OrderManager(
            venue,
            self.chain,
            lambda _intent: snapshot,
            journal,
            prefix=f"api-u{user.id}",
            start_sequence=user.order_sequence,
        )
        venue.manager = manager
        order, decision = manager.place(intent, self.ctx.now_ms())
        user.order_sequence = manager.sequence
        rule = decision.rule or "-"
        metrics.risk_decisions_total.labels(action=decision.action.value, rule=rule).inc()
        return order, decision, journal

    # -- open ---------------------------------------------------------------------------------
    def open(self, request: OpenPositionRequest) -> dict[str, Any]:
        exchange, symbol = request.exchange.value, request.symbol
        side = OrderSide.BUY if request.side is PositionSideIn.LONG else OrderSide.SELL
        sign = side.sign
        with self.ctx.db.locked_session(request.user_id) as (session, user):
            if user is None or not user.is_active:
                raise ApiError(404, "user not found")
            positions = PositionRepository(session)
            current = positions.open_for_market(user.id, exchange, symbol)
            if current is not None and (1 if current.side == "long" else -1) != sign:
                raise ApiError(
                    409,
                    f"a {current.side} position on {symbol} is open: close it first (one-way mode)",
                    details={"position_id": current.id},
                )
            if current is not None and float(current.leverage) != request.leverage:
                raise ApiError(
                    409,
                    f"the open {symbol} position runs at {float(current.leverage):g}x; "
                    "add to it at the same leverage",
                    details={"position_id": current.id},
                )
            account = self._account(session, user, (exchange, symbol))
            quote = account.quotes[(exchange, symbol)]
            inst = instrument(exchange, symbol)
            quantity = request.size_usdt * request.leverage / (quote.price * inst.contract_size)
            intent = OrderIntent(
                symbol, side, quantity, OrderType.MARKET, tag="entry", reference_price=quote.price
            )
            snapshot = self._snapshot(session, account, inst, current, request.leverage)
            venue = PaperVenue(
                None,
                inst,
                quote.price,
                self.ctx.settings.paper_slippage,
                request.leverage,
                account.valuation.available_margin,
                self.ctx.now_ms(),
            )
            order, decision, journal = self._place(session, user, intent, snapshot, venue, exchange)
            refusal = self._refusal(user.id, order, decision, venue)
            if refusal is not None:
                # The refused order stays in the journal (committed); nothing else changed.
                session.commit()
                raise refusal
            order, fill = venue.fills[0]
            row = self._apply_entry(session, user, current, request, inst, fill, order)
            order_row = journal.rows[order.client_order_id]
            order_row.position_id = row.id
            TradeRepository(session).add_fill(
                fill,
                exchange=exchange,
                order=order_row,
                order_type=order.type.value,
                fee_currency=inst.settle,
                user_id=user.id,
                position_id=row.id,
            )
            user.wallet_balance -= to_decimal(fill.fee)
            response = self._open_response(row, order, fill, decision, quote)
            user_id = user.id
        self._after_change(user_id, order, fill, symbol, request.side.value)
        return response

    def _apply_entry(
        self,
        session: Any,
        user: User,
        current: Position | None,
        request: OpenPositionRequest,
        inst: Instrument,
        fill: Fill,
        order: Order,
    ) -> Position:
        domain = DomainPosition(inst, MarginMode.ISOLATED, request.leverage)
        if current is not None:
            sign = 1 if current.side == "long" else -1
            domain.quantity = sign * float(current.quantity) / inst.contract_size
            domain.avg_entry = float(current.entry_price)
            domain.margin = float(current.margin)
        domain.apply_fill(fill.side, fill.quantity, fill.price, fill.fee)
        liq = domain.liquidation_price()
        sl, tp = rules.protective_levels(
            domain.sign,
            domain.avg_entry,
            request.stop_loss_pct or 0.0,
            request.take_profit_pct or 0.0,
            inst.tick_size,
            step_decimals(inst.tick_size),
        )
        now = datetime.fromtimestamp(fill.timestamp / 1000, UTC)
        row = current or Position(
            user_id=user.id,
            exchange=request.exchange.value,
            symbol=request.symbol,
            side="long" if domain.sign > 0 else "short",
            margin_mode=MarginMode.ISOLATED.value,
            entry_time=now,
            status="open",
            realized_pnl=Decimal(0),
            fees_paid=Decimal(0),
            funding_paid=Decimal(0),
        )
        row.leverage = to_decimal(request.leverage)
        row.entry_price = to_decimal(domain.avg_entry)
        row.quantity = to_decimal(domain.base_qty)
        row.notional_value = to_decimal(domain.base_qty * domain.avg_entry)
        row.margin = to_decimal(domain.margin)
        added_margin = fill.quantity * inst.contract_size * fill.price / request.leverage
        row.opened_margin = (row.opened_margin or Decimal(0)) + to_decimal(added_margin)
        row.liquidation_price = None if math.isnan(liq) else to_decimal(liq)
        if not math.isnan(sl):
            row.stop_loss_price = to_decimal(sl)
        if not math.isnan(tp):
            row.take_profit_price = to_decimal(tp)
        row.fees_paid = (row.fees_paid or Decimal(0)) + to_decimal(fill.fee)
        if request.regime is not None:
            row.regime = request.regime
        if request.confidence is not None:
            row.confidence = to_decimal(request.confidence)
        if request.ai_rationale is not None:
            row.ai_rationale = request.ai_rationale
        if current is None:
            PositionRepository(session).add(row)
        session.flush()
        return row

    def _open_response(
        self, row: Position, order: Order, fill: Fill, decision: RiskDecision, quote: Quote
    ) -> dict[str, Any]:
        liq = _f(row.liquidation_price)
        distance = abs(fill.price - liq) / fill.price * 100 if liq else None
        return {
            "success": True,
            "position_id": row.id,
            "entry_price": float(row.entry_price),
            "quantity": float(row.quantity),
            "notional_value": round(float(row.notional_value), 8),
            "margin": round(float(row.margin), 8),
            "liquidation_price": liq,
            "liquidation_distance_pct": round(distance, 4) if distance is not None else None,
            "exchange_order_id": order.exchange_order_id,
            "client_order_id": order.client_order_id,
            "stop_loss_price": _f(row.stop_loss_price),
            "take_profit_price": _f(row.take_profit_price),
            "fee": round(fill.fee, 8),
            "execution": "paper",
            "price_source": quote.source,
            "risk": {
                "action": decision.action.value,
                "rule": decision.rule or None,
                "reason": decision.reason or None,
            },
        }

    # -- close --------------------------------------------------------------------------------
    def close(self, position_id: int, request: ClosePositionRequest) -> dict[str, Any]:
        with self.ctx.db.locked_session(request.user_id) as (session, user):
            if user is None:
                raise ApiError(404, "user not found")
            row = PositionRepository(session).get(position_id)
            if row is None or row.user_id != user.id:
                raise ApiError(404, "position not found")
            if row.status != "open":
                raise ApiError(409, f"position {position_id} is already {row.status}")
            inst = instrument(row.exchange, row.symbol)
            account = self._account(session, user, (row.exchange, row.symbol))
            quote = account.quotes[(row.exchange, row.symbol)]
            held = float(row.quantity) / inst.contract_size
            wanted = held if request.close_pct >= 1.0 else inst.round_qty(held * request.close_pct)
            if wanted <= 0:
                raise ApiError(
                    400,
                    f"close_pct {request.close_pct} of {held} rounds to nothing at lot size "
                    f"{inst.lot_size}",
                    rule="instrument_rules",
                )
            side = OrderSide.SELL if row.side == "long" else OrderSide.BUY
            intent = OrderIntent(
                row.symbol,
                side,
                wanted,
                OrderType.MARKET,
                reduce_only=True,
                tag=request.reason.value,
                reference_price=quote.price,
            )
            snapshot = self._snapshot(session, account, inst, row, float(row.leverage))
            venue = PaperVenue(
                None,
                inst,
                quote.price,
                self.ctx.settings.paper_slippage,
                float(row.leverage),
                account.valuation.available_margin,
                self.ctx.now_ms(),
            )
            order, decision, journal = self._place(
                session, user, intent, snapshot, venue, row.exchange
            )
            refusal = self._refusal(user.id, order, decision, venue)
            if refusal is not None:
                session.commit()
                raise refusal
            order, fill = venue.fills[0]
            result = self._apply_exit(row, inst, fill, request)
            order_row = journal.rows[order.client_order_id]
            order_row.position_id = row.id
            TradeRepository(session).add_fill(
                fill,
                exchange=row.exchange,
                order=order_row,
                order_type=order.type.value,
                fee_currency=inst.settle,
                user_id=user.id,
                position_id=row.id,
                realized_pnl=result["gross_pnl"],
            )
            user.wallet_balance += to_decimal(result["gross_pnl"]) - to_decimal(fill.fee)
            response = {
                "success": True,
                "position_id": row.id,
                "exit_price": fill.price,
                "closed_quantity": fill.quantity * inst.contract_size,
                "remaining_quantity": float(row.quantity),
                "realized_pnl": round(result["net_pnl"], 8),
                "pnl_pct": round(result["pnl_pct"], 6),
                "fee": round(fill.fee, 8),
                "holding_hours": round(result["holding_hours"], 4),
                "status": row.status,
                "exchange_order_id": order.exchange_order_id,
                "client_order_id": order.client_order_id,
            }
            metrics.trade_pnl.observe(result["net_pnl"])
            user_id, position_side = user.id, row.side
        self._after_change(user_id, order, fill, row.symbol, position_side)
        return response

    def _apply_exit(
        self, row: Position, inst: Instrument, fill: Fill, request: ClosePositionRequest
    ) -> dict[str, float]:
        sign = 1 if row.side == "long" else -1
        domain = DomainPosition(inst, MarginMode.ISOLATED, float(row.leverage))
        domain.quantity = sign * float(row.quantity) / inst.contract_size
        domain.avg_entry = float(row.entry_price)
        domain.margin = float(row.margin)
        effect = domain.apply_fill(fill.side, fill.quantity, fill.price, fill.fee)
        net = effect.realized_pnl - fill.fee
        pnl_pct = net / effect.released_margin if effect.released_margin > 0 else 0.0
        now = datetime.fromtimestamp(fill.timestamp / 1000, UTC)
        hours = (now - row.entry_time).total_seconds() / 3600
        row.realized_pnl = (row.realized_pnl or Decimal(0)) + to_decimal(net)
        row.fees_paid = (row.fees_paid or Decimal(0)) + to_decimal(fill.fee)
        row.exit_price = to_decimal(fill.price)
        row.exit_time = now
        row.close_reason = request.reason.value
        if domain.is_flat:
            row.quantity = Decimal(0)
            row.margin = Decimal(0)
            row.notional_value = Decimal(0)
            row.status = "liquidated" if request.reason.value == "liquidation" else "closed"
            committed = float(row.opened_margin or 0)
            if committed > 0:
                row.pnl_pct = to_decimal(round(float(row.realized_pnl) / committed, 6))
        else:
            row.quantity = to_decimal(domain.base_qty)
            row.margin = to_decimal(domain.margin)
            row.notional_value = to_decimal(domain.base_qty * domain.avg_entry)
            liq = domain.liquidation_price()
            row.liquidation_price = None if math.isnan(liq) else to_decimal(liq)
        return {
            "gross_pnl": effect.realized_pnl,
            "net_pnl": net,
            "pnl_pct": pnl_pct,
            "holding_hours": hours,
        }

    # -- after commit -------------------------------------------------------------------------
    def _refusal(
        self, user_id: int, order: Order, decision: RiskDecision, venue: PaperVenue
    ) -> ApiError | None:
        """The 400 for a vetoed or venue-rejected order, or None when it filled."""
        if decision.action is RiskAction.VETO:
            log.info("order_vetoed", user_id=user_id, rule=decision.rule, reason=decision.reason)
            return ApiError(
                400, decision.reason, rule=decision.rule, details=dict(decision.details)
            )
        if not venue.fills:
            log.info("order_rejected", user_id=user_id, reason=order.reject_reason)
            return ApiError(400, order.reject_reason, rule="venue_rejected")
        return None

    def _after_change(
        self, user_id: int, order: Order, fill: Fill, symbol: str, position_side: str
    ) -> None:
        self.ctx.forget_user(user_id)
        side = position_side.upper()  # the seed labels trades by position side
        metrics.trades_total.labels(side=side, symbol=keys.compact_symbol(symbol)).inc()
        event = {
            "user_id": user_id,
            "client_order_id": order.client_order_id,
            "exchange_order_id": order.exchange_order_id,
            "symbol": symbol,
            "side": fill.side.value,
            "quantity": fill.quantity,
            "price": fill.price,
            "fee": fill.fee,
            "status": order.status.value,
            "time": fill.timestamp,
        }
        self.ctx.publish(keys.STREAM_ORDERS, event)
        self.ctx.publish(keys.STREAM_FILLS, event)
        log.info(
            "position_changed",
            user_id=user_id,
            symbol=symbol,
            side=side,
            quantity=fill.quantity,
            price=fill.price,
            client_order_id=order.client_order_id,
        )
        if order.status is not OrderStatus.FILLED:
            log.error("order_not_filled", client_order_id=order.client_order_id)
