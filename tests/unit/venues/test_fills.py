"""The shared fill rules (axis.venues.fills) on hand-made bars: the intrabar path, touch times,
the limit trade-through rule, fill prices, fees, the participation cap, sizing and protective
levels. Expected numbers are worked out by hand in the comments."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from axis.domain.instrument import step_decimals
from axis.venues.fills import (
    NEVER,
    exposure_quantity,
    fee_for,
    intrabar_path,
    limit_touch_time,
    participation_cap,
    price_at,
    protective_levels,
    slipped_price,
    touch_time,
    triggered_fill_price,
)

# A bar whose high is nearer the open: the path is 100 → 104 → 90 → 95.
HIGH_FIRST = (100.0, 104.0, 90.0, 95.0)
# A bar whose low is nearer the open: the path is 100 → 97 → 110 → 105.
LOW_FIRST = (100.0, 110.0, 97.0, 105.0)


# -- the intrabar path ------------------------------------------------------------------------


def test_path_visits_the_nearer_extreme_first() -> None:
    assert intrabar_path(*HIGH_FIRST) == (100.0, 104.0, 90.0, 95.0)
    assert intrabar_path(*LOW_FIRST) == (100.0, 97.0, 110.0, 105.0)


def test_path_takes_the_high_first_on_a_tie() -> None:
    # high - open == open - low == 5
    assert intrabar_path(100.0, 105.0, 95.0, 101.0) == (100.0, 105.0, 95.0, 101.0)


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (-1.0, 100.0),  # before the open: the open
        (0.0, 100.0),
        (0.5, 102.0),  # halfway 100 → 104
        (1.0, 104.0),
        (1.5, 97.0),  # halfway 104 → 90
        (2.0, 90.0),
        (2.5, 92.5),  # halfway 90 → 95
        (3.0, 95.0),
        (3.5, 95.0),  # past the close: the close
    ],
)
def test_price_at_is_linear_along_each_segment(t: float, expected: float) -> None:
    assert price_at(*HIGH_FIRST, t) == pytest.approx(expected, abs=1e-12)


def test_price_at_follows_a_low_first_path() -> None:
    assert price_at(*LOW_FIRST, 0.5) == pytest.approx(98.5)  # 100 → 97
    assert price_at(*LOW_FIRST, 1.25) == pytest.approx(100.25)  # 97 → 110, a quarter
    assert price_at(*LOW_FIRST, 2.8) == pytest.approx(106.0)  # 110 → 105, 80%


# -- touch times ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "direction", "t_from", "expected"),
    [
        (102.0, +1, 0.0, 0.5),  # rising to 102 on 100 → 104
        (104.0, +1, 0.0, 1.0),  # the high itself
        (104.5, +1, 0.0, NEVER),  # above the high
        (97.0, -1, 0.0, 1.5),  # falling to 97 on 104 → 90
        (90.0, -1, 0.0, 2.0),  # the low itself
        (89.0, -1, 0.0, NEVER),  # below the low
        (100.0, -1, 0.0, 0.0),  # at the open: touched at once
        (101.0, -1, 0.0, 0.0),  # already below at the open (a gap): touched at once
        (99.0, +1, 0.0, 0.0),  # already above at the open
        (93.0, +1, 2.0, 2.6),  # from t=2 on: 90 → 95 reaches 93 at 3/5 of the segment
        (104.0, +1, 1.0, 1.0),  # at t=1 price is at the high
        (102.0, +1, 1.2, NEVER),  # from t=1.2 (101.2) on: down to 90, up to 95 only
        (102.0, +1, 0.25, 0.5),  # from t=0.25 (101) on, rising to 102 at t=0.5
        (98.0, +1, 0.25, 0.25),  # at t=0.25 price is 101, already above 98
        (100.0, -1, 1.5, 1.5),  # at t=1.5 price is 97, already below 100
        (95.0, -1, 3.0, NEVER),  # nothing left of the bar
    ],
)
def test_touch_time(level: float, direction: int, t_from: float, expected: float) -> None:
    assert touch_time(*HIGH_FIRST, level, direction, t_from) == pytest.approx(expected)


def test_touch_time_on_a_low_first_bar() -> None:
    # 100 → 97 → 110 → 105: rising to 108 happens on the second segment at 1 + 11/13
    assert touch_time(*LOW_FIRST, 108.0, +1) == pytest.approx(1.0 + 11.0 / 13.0)
    # falling to 106 after the high: 110 → 105 reaches 106 at 2 + 4/5
    assert touch_time(*LOW_FIRST, 106.0, -1, 2.0) == pytest.approx(2.8)
    # falling to 98 happens on the first segment at 2/3
    assert touch_time(*LOW_FIRST, 98.0, -1) == pytest.approx(2.0 / 3.0)


# -- the limit trade-through rule -------------------------------------------------------------


def test_buy_limit_at_the_low_never_fills() -> None:
    assert limit_touch_time(*HIGH_FIRST, 90.0, +1) == NEVER


def test_sell_limit_at_the_high_never_fills() -> None:
    assert limit_touch_time(*HIGH_FIRST, 104.0, -1) == NEVER


def test_buy_limit_traded_through_fills_at_the_touch() -> None:
    # 104 → 90 crosses 90.5 at 1 + 13.5/14 and goes on to 90
    assert limit_touch_time(*HIGH_FIRST, 90.5, +1) == pytest.approx(1.0 + 13.5 / 14.0)


def test_sell_limit_traded_through_fills_at_the_touch() -> None:
    # 100 → 104 crosses 103 at 3/4 and goes on to 104
    assert limit_touch_time(*HIGH_FIRST, 103.0, -1) == pytest.approx(0.75)


def test_limit_already_beyond_at_the_start_fills_at_once() -> None:
    assert limit_touch_time(*HIGH_FIRST, 101.0, +1) == 0.0  # open 100 is below a 101 bid
    assert limit_touch_time(*HIGH_FIRST, 92.0, +1, 2.0) == 2.0  # at t=2 price is 90 < 92


def test_limit_at_the_open_heading_through_fills_at_the_open() -> None:
    # 100 → 97 → 110 → 105: a bid at the open 100 is traded through straight away
    assert limit_touch_time(*LOW_FIRST, 100.0, +1) == 0.0


def test_limit_at_the_open_fills_only_when_price_comes_back_through_it() -> None:
    # 100 → 104 → 90 → 95: a bid at 100 is only touched at the open; price first moves away
    # and trades through 100 on the way down, at 1 + 4/14.
    assert limit_touch_time(*HIGH_FIRST, 100.0, +1) == pytest.approx(1.0 + 4.0 / 14.0)
    # an offer at 100 on 100 → 97 → 110 → 105 trades through on the way up, at 1 + 3/13
    assert limit_touch_time(*LOW_FIRST, 100.0, -1) == pytest.approx(1.0 + 3.0 / 13.0)


def test_limit_from_t_from_on() -> None:
    # from t=2 (90) on: 90 → 95; an offer at 95 is only reached at the close
    assert limit_touch_time(*HIGH_FIRST, 95.0, -1, 2.0) == NEVER
    # an offer at 94 is traded through on the way to 95, at 2 + 4/5
    assert limit_touch_time(*HIGH_FIRST, 94.0, -1, 2.0) == pytest.approx(2.8)
    # from t=1.5 (97) on, an offer at 95 is already below the price: at once
    assert limit_touch_time(*HIGH_FIRST, 95.0, -1, 1.5) == 1.5


def test_flat_bar_fills_no_limit_at_its_price() -> None:
    assert limit_touch_time(100.0, 100.0, 100.0, 100.0, 100.0, +1) == NEVER
    assert limit_touch_time(100.0, 100.0, 100.0, 100.0, 100.0, -1) == NEVER
    assert limit_touch_time(100.0, 100.0, 100.0, 100.0, 100.5, +1) == 0.0


# -- prices and fees --------------------------------------------------------------------------


def test_slipped_price_is_worse_for_the_taker() -> None:
    assert slipped_price(100.0, +1, 0.001) == pytest.approx(100.1)
    assert slipped_price(100.0, -1, 0.001) == pytest.approx(99.9)
    assert slipped_price(100.0, +1, 0.0) == 100.0


def test_triggered_fill_price_at_the_trigger_or_at_a_gap() -> None:
    # touched inside the bar: the trigger, slipped
    assert triggered_fill_price(97.0, 97.0, 1.5, 0.0, -1, 0.001) == pytest.approx(96.903)
    # touched at activation with price already past the trigger (a gap): that price, slipped
    assert triggered_fill_price(95.0, 97.0, 0.0, 0.0, -1, 0.001) == pytest.approx(94.905)
    assert triggered_fill_price(105.0, 103.0, 0.5, 0.5, +1, 0.0) == 105.0


def test_fee_for_counts_contract_size_and_ignores_sign() -> None:
    # 2 contracts x 0.5 base x 100 x 0.05%
    assert fee_for(2.0, 100.0, 0.5, 0.0005) == pytest.approx(0.05)
    assert fee_for(-2.0, 100.0, 0.5, 0.0005) == pytest.approx(0.05)


def test_participation_cap() -> None:
    assert participation_cap(7.0, 1_000.0, 0.0, 0.001) == 7.0  # no cap
    assert participation_cap(7.0, 1_000.0, 0.1, 1.0) == 7.0  # 100 allowed
    assert participation_cap(250.0, 1_000.0, 0.1, 1.0) == 100.0
    # 100 / 0.3 = 333.33 lots → 333 lots of 0.3
    assert participation_cap(250.0, 1_000.0, 0.1, 0.3) == pytest.approx(99.9)
    assert participation_cap(5.0, 0.0, 0.1, 1.0) == 0.0


# -- sizing -----------------------------------------------------------------------------------


def test_exposure_quantity_worked_example() -> None:
    # per contract: 100 x 1.001 x (1/1 + 0.0005) = 100.1500500; 1000 / that = 9.98502 → 9.985
    assert exposure_quantity(1_000.0, 100.0, 1.0, 1.0, 0.0005, 0.001, 0.001, 3) == 9.985
    # 10x: per contract 100.1 x 0.1005 = 10.06005 → 99.403
    assert exposure_quantity(1_000.0, 100.0, 10.0, 1.0, 0.0005, 0.001, 0.001, 3) == 99.403


def test_exposure_quantity_of_nothing() -> None:
    assert exposure_quantity(0.0, 100.0, 1.0, 1.0, 0.0005, 0.0, 0.001, 3) == 0.0
    assert exposure_quantity(-5.0, 100.0, 1.0, 1.0, 0.0005, 0.0, 0.001, 3) == 0.0
    assert exposure_quantity(100.0, 0.0, 1.0, 1.0, 0.0005, 0.0, 0.001, 3) == 0.0


@settings(max_examples=300, deadline=None)
@given(
    budget=st.floats(1.0, 1e7),
    price=st.floats(0.01, 1e5),
    leverage=st.sampled_from([1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 125.0]),
    contract_size=st.sampled_from([1.0, 0.1, 0.01, 10.0]),
    taker_fee=st.floats(0.0, 0.002),
    slippage=st.floats(0.0, 0.01),
    lot=st.sampled_from([1.0, 0.1, 0.001, 0.00001]),
)
def test_exposure_quantity_never_exceeds_the_budget(
    budget: float,
    price: float,
    leverage: float,
    contract_size: float,
    taker_fee: float,
    slippage: float,
    lot: float,
) -> None:
    q = exposure_quantity(
        budget, price, leverage, contract_size, taker_fee, slippage, lot, step_decimals(lot)
    )
    per_contract = contract_size * price * (1.0 + slippage) * (1.0 / leverage + taker_fee)
    assume(budget / per_contract / lot < 1e12)  # beyond that a lot is below float resolution
    assert q >= 0.0
    # initial margin plus the taker fee at the slipped price fits (float dust aside) ...
    assert q * per_contract <= budget * (1.0 + 1e-9)
    # ... and is the largest that does: two more lots would not (one lot of slack, because
    # floor_step can land a lot low when budget / cost is an exact multiple of a tiny lot)
    assert (q + 2 * lot) * per_contract > budget
    # a lot multiple
    assert abs(q - round(q / lot) * lot) <= 1e-9 * max(q, 1.0)


# -- protective levels ------------------------------------------------------------------------


def test_protective_levels_for_a_long_round_toward_the_entry() -> None:
    # stop 100 x (1 - 1.3%) = 98.7 → up to 99.0; target 100 x 1.027 = 102.7 → down to 102.5
    sl, tp = protective_levels(1, 100.0, 0.013, 0.027, 0.5, 1)
    assert (sl, tp) == (99.0, 102.5)


def test_protective_levels_for_a_short_round_toward_the_entry() -> None:
    # stop 101.3 → down to 101.0; target 97.3 → up to 97.5
    sl, tp = protective_levels(-1, 100.0, 0.013, 0.027, 0.5, 1)
    assert (sl, tp) == (101.0, 97.5)


def test_protective_levels_on_the_tick_stay_put() -> None:
    sl, tp = protective_levels(1, 100.0, 0.01, 0.02, 0.01, 2)
    assert (sl, tp) == (99.0, 102.0)


def test_protective_levels_zero_distance_means_none() -> None:
    sl, tp = protective_levels(1, 100.0, 0.0, 0.0, 0.01, 2)
    assert math.isnan(sl)
    assert math.isnan(tp)
    sl, tp = protective_levels(-1, 100.0, 0.02, 0.0, 0.01, 2)
    assert sl == 102.0
    assert math.isnan(tp)


@settings(max_examples=300, deadline=None)
@example(side=-1, entry=27219.899999972782, stop_loss=0.5, take_profit=1.0, tick=0.01)
@example(side=1, entry=27218.899999972782, stop_loss=0.5, take_profit=1.0, tick=0.01)
@given(
    side=st.sampled_from([1, -1]),
    entry=st.floats(0.01, 1e5),
    stop_loss=st.floats(0.0001, 0.5),
    take_profit=st.floats(0.0001, 2.0),
    tick=st.sampled_from([0.5, 0.1, 0.01, 0.0001]),
)
def test_protective_levels_never_lie_past_the_trigger(
    side: int, entry: float, stop_loss: float, take_profit: float, tick: float
) -> None:
    sl, tp = protective_levels(side, entry, stop_loss, take_profit, tick, step_decimals(tick))
    raw_sl = entry * (1.0 - side * stop_loss)
    raw_tp = entry * (1.0 + side * take_profit)
    # A level within float noise of a tick (1e-12 relative, the grid snap) counts as on it: an
    # adversarial entry such as 27219.899999972782 makes a raw stop 4e-8 below 40829.85.
    slack_sl = tick * 1e-6 + abs(raw_sl) * 2e-12
    slack_tp = tick * 1e-6 + abs(raw_tp) * 2e-12
    # toward the entry: a long's stop rounds up and its target down; a short's the other way
    assert side * (sl - raw_sl) >= -slack_sl
    assert side * (raw_tp - tp) >= -slack_tp
    # by less than a tick, onto the tick grid
    assert abs(sl - raw_sl) < tick + slack_sl
    assert abs(tp - raw_tp) < tick + slack_tp
    assert abs(sl / tick - round(sl / tick)) < 1e-6
    assert abs(tp / tick - round(tp / tick)) < 1e-6


# -- properties of the path -------------------------------------------------------------------


@st.composite
def bars_and_t(draw: st.DrawFn) -> tuple[float, float, float, float]:
    open_ = draw(st.floats(50.0, 150.0))
    close = draw(st.floats(50.0, 150.0))
    high = max(open_, close) + draw(st.floats(0.0, 30.0))
    low = min(open_, close) - draw(st.floats(0.0, 30.0))
    return open_, high, low, close


@settings(max_examples=300, deadline=None)
@given(
    bar=bars_and_t(),
    a=st.floats(10.0, 190.0),
    b=st.floats(10.0, 190.0),
    direction=st.sampled_from([1, -1]),
    t_from=st.floats(0.0, 3.0),
)
def test_touch_time_is_monotone_in_the_level(
    bar: tuple[float, float, float, float], a: float, b: float, direction: int, t_from: float
) -> None:
    """A rising wait reaches a higher level no sooner; a falling wait a lower one."""
    lower, higher = min(a, b), max(a, b)
    t_low = touch_time(*bar, lower, direction, t_from)
    t_high = touch_time(*bar, higher, direction, t_from)
    if direction > 0:
        assert t_low <= t_high
    else:
        assert t_high <= t_low


@settings(max_examples=300, deadline=None)
@given(
    bar=bars_and_t(),
    level=st.floats(10.0, 190.0),
    direction=st.sampled_from([1, -1]),
    t_from=st.floats(0.0, 3.0),
)
def test_touch_time_lands_on_the_level(
    bar: tuple[float, float, float, float], level: float, direction: int, t_from: float
) -> None:
    t = touch_time(*bar, level, direction, t_from)
    if t_from >= 3.0:  # nothing of the bar is left to happen
        assert t == NEVER
        return
    if t == NEVER:
        # the level is never reached from t_from on: every turning point stays short of it
        start = price_at(*bar, t_from)
        rest = [p for k, p in enumerate(intrabar_path(*bar)) if k > t_from]
        assert all(direction * (p - level) < 0 for p in [start, *rest])
        return
    assert t_from <= t <= 3.0
    price = price_at(*bar, t)
    if t > t_from:
        assert price == pytest.approx(level, rel=1e-9, abs=1e-9)
    else:
        assert direction * (price - level) >= 0.0


@settings(max_examples=300, deadline=None)
@given(
    bar=bars_and_t(),
    limit=st.floats(10.0, 190.0),
    side=st.sampled_from([1, -1]),
)
def test_limit_fills_exactly_when_the_bar_trades_through(
    bar: tuple[float, float, float, float], limit: float, side: int
) -> None:
    open_, high, low, _ = bar
    t = limit_touch_time(*bar, limit, side)
    through = low < limit if side > 0 else high > limit
    assert (t != NEVER) == through
    if t != NEVER:
        # no sooner than price first reaches the limit
        assert t >= touch_time(*bar, limit, -side)
        if open_ != limit:
            assert t == touch_time(*bar, limit, -side)


def test_exposure_quantity_of_an_exact_multiple_of_a_small_lot() -> None:
    # per contract 0.1 x 0.03125 = 0.003125; 1 / 0.003125 = 320 exactly
    assert exposure_quantity(1.0, 0.03125, 1.0, 0.1, 0.0, 0.0, 1e-5, 5) == 320.0
