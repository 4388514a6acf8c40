"""Suite-wide settings."""

from __future__ import annotations

import os

from hypothesis import settings

# CI explores the same examples on every run, so a red build is reproducible; a developer's
# run keeps searching new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "dev")
