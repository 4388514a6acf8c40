"""The engine: event loop, order manager, portfolio accounting and strategy runtime."""
