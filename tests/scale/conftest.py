"""The served tests reuse the browser tests' Chromium (Debian's, driven by Playwright)."""

from tests.browser.conftest import browser

__all__ = ["browser"]
