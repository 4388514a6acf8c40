"""AXIS models: RL policies (:mod:`.rl`), forecasters (:mod:`.forecast`), volatility
(:mod:`.volatility`), regimes (:mod:`.regime`) and sentiment (:mod:`.sentiment`). Each module
imports its heavy libraries itself; importing this package costs nothing."""
