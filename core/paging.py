"""Paging a long list: which page to show and where it starts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """One page of a list of `total` items (`page` counts from 0, `pages` is at least 1)."""

    page: int
    pages: int
    total: int
    offset: int
    limit: int


def window(total: int, per_page: int, requested: int) -> Window:
    """The page to show: a page past the end is the last one, a negative one the first."""
    pages = max(1, -(-total // per_page))
    page = min(max(requested, 0), pages - 1)
    return Window(page, pages, total, page * per_page, per_page)
