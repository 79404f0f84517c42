"""The PostgreSQL engine's table: one row per indexed file or folder.

The table is created on SQLite too (one schema for both databases), where it stays empty: the
PostgreSQL engine refuses to run on SQLite, and the embedded shape searches with Tantivy.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime

#: ``integer[]`` on PostgreSQL (GIN-indexed for ``&&``); JSON on SQLite, where it is never read.
IntegerArray = JSON().with_variant(postgresql.ARRAY(Integer()), "postgresql")
#: ``tsvector`` on PostgreSQL; text on SQLite.
TextSearchVector = Text().with_variant(postgresql.TSVECTOR(), "postgresql")


class _Entry:
    """The columns of an index table: the documents' (``search_entry``) and the messages'
    (``chat_search_entry``) are the same shape, read and written by the same engine."""

    node_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    space_id: Mapped[int] = mapped_column(Integer, index=True)
    ancestors: Mapped[list[int]] = mapped_column(IntegerArray)
    classification: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(255))
    owner_id: Mapped[int | None] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(Integer)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: NFC, as given: snippets and highlights are cut from these.
    name: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    document: Mapped[str] = mapped_column(TextSearchVector)
    indexed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchEntry(_Entry, Base):
    """A document in the full-text index.

    ``ancestors`` are the node ids from the space root down to the node, for shares
    (``ancestors && :shared_roots``, a GIN index). ``document`` is the pre-tokenised name (weight
    A) and text (weight D), written as a ``tsvector`` literal; on PostgreSQL its storage is
    ``MAIN`` (set by the migration): it stays in the row, the text goes to TOAST.
    """

    __tablename__ = "search_entry"

    __table_args__ = (
        Index("ix_search_entry_document", "document", postgresql_using="gin"),
        Index("ix_search_entry_ancestors", "ancestors", postgresql_using="gin"),
        Index("ix_search_entry_modified_at", "modified_at"),
    )


class ChatSearchEntry(_Entry, Base):
    """A messenger message in the message index (``polaris.search.messages``): ``node_id`` is the
    message's event id, ``space_id`` its room, ``owner_id`` its sender, ``modified_at`` when it
    was sent, ``ancestors`` the event id alone (messages are never shared one by one)."""

    __tablename__ = "chat_search_entry"

    __table_args__ = (
        Index("ix_chat_search_entry_document", "document", postgresql_using="gin"),
        Index("ix_chat_search_entry_modified_at", "modified_at"),
    )
