"""Real-browser fixtures for the report: the shared Chromium launch (tests/support)."""

from browser_support import browser, page  # noqa: F401  (fixtures for these tests)
