"""Decorations that other packages add to drive's folder listing, asked for through this hook.

A folder page shows a thumbnail beside each file whose preview has been drawn. Previews are
ingest's, and drive may not import ingest (docs/architecture.md, "Modules and imports"): so the
app, when it is built, registers here what ingest offers (``ingest.views.decorate``), and drive's
page asks the hook. An app with nothing registered shows no thumbnails.

The registry belongs to the app (``app.state``), not to the process: apps built side by side (in
tests) do not see each other's registrations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session

#: Which of these file versions have a thumbnail to show (in the listing's transaction).
ThumbnailsDrawn = Callable[[Session, list[int]], set[int]]


class ListingDecorations:
    """What is registered for the folder listing of one app."""

    def __init__(self) -> None:
        self._thumbnails: list[ThumbnailsDrawn] = []

    def add_thumbnails(self, source: ThumbnailsDrawn) -> None:
        self._thumbnails.append(source)

    def with_thumbnails(self, session: Session, version_ids: list[int]) -> set[int]:
        """The versions among ``version_ids`` that any registered source has a thumbnail of."""
        found: set[int] = set()
        for source in self._thumbnails:
            found |= source(session, version_ids)
        return found


def install(app: FastAPI) -> ListingDecorations:
    """Give ``app`` its (empty) registry; the app's builder then registers into it."""
    decorations = ListingDecorations()
    app.state.listing_decorations = decorations
    return decorations


def get_decorations(request: Request) -> ListingDecorations:
    decorations: ListingDecorations = request.app.state.listing_decorations
    return decorations


Decorations = Annotated[ListingDecorations, Depends(get_decorations)]
