"""One headless Chromium for the browser tests of the explorer (Playwright allows one sync
driver per thread at a time, so the fixture is defined once, here, and closed when the
package's tests are done)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.explorer.browser import launch


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    with launch() as b:
        yield b
