"""Real-browser fixtures (Debian's Chromium through playwright) for the console's pages."""

from __future__ import annotations

from browser_support import browser, page  # noqa: F401  (fixtures for these tests)
