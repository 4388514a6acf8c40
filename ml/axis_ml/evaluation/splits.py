"""Time-series splits that do not leak: walk-forward, and purged k-fold with an embargo
(López de Prado, *Advances in Financial Machine Learning*, ch. 7)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def walk_forward(
    n: int, n_splits: int, *, min_train: int, test_size: int | None = None, gap: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window splits: train on ``[0, end)``, test on the next ``test_size`` bars
    after a ``gap`` (the label horizon). Tests tile the data after ``min_train``."""
    if n_splits < 1 or min_train < 1 or min_train + gap >= n:
        raise ValueError("walk_forward: not enough data for the requested splits")
    size = test_size or (n - min_train - gap) // n_splits
    if size < 1:
        raise ValueError("walk_forward: test windows would be empty")
    for k in range(n_splits):
        train_end = min_train + k * size
        test_start = train_end + gap
        test_end = min(test_start + size, n)
        if test_start >= test_end:
            return
        yield np.arange(train_end), np.arange(test_start, test_end)


def purged_kfold(
    n: int, n_splits: int, *, label_horizon: int, embargo: float = 0.01
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """K contiguous test folds. Training rows whose label window ``[i, i + label_horizon]``
    overlaps the test fold are purged, and ``embargo`` x n rows after the fold are dropped
    too (serial correlation leaks forward)."""
    if n_splits < 2 or n < n_splits:
        raise ValueError("purged_kfold: need at least two folds and one row per fold")
    bounds = np.linspace(0, n, n_splits + 1).astype(int)
    embargo_rows = int(np.ceil(n * embargo))
    index = np.arange(n)
    for k in range(n_splits):
        start, end = int(bounds[k]), int(bounds[k + 1])
        test = index[start:end]
        # A training row i is labelled with bars up to i + label_horizon.
        overlaps = (index + label_horizon >= start) & (index < end)
        embargoed = (index >= end) & (index < end + embargo_rows)
        train = index[~overlaps & ~embargoed]
        yield train, test
