"""What a room name, a topic and a message body may hold: any Unicode a person writes (Hindi,
English, emoji), nothing that hides or reorders text.

A NUL cannot be stored by PostgreSQL and would be a 500; bidirectional controls in a name make
``evil\u202egnp.exe`` read as something else in every member's list; other control characters
break lists and logs. A body may hold line breaks and tabs (and bidi marks, which Urdu and mixed
Hindi-English text legitimately use), never NUL.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from polaris.errors import ValidationFailed

NAME_MAX = 255
TOPIC_MAX = 1000
#: Bidirectional embedding, override and isolate controls (and the invisible marks).
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class ChatLimits:
    """Limits of the messenger; the Matrix layer and the pages pass the instance's."""

    body_max_chars: int = 16_000
    #: How long after sending the sender may still delete a message (moderators: always).
    redact_window_seconds: int = 24 * 3600
    #: How many messages one history page may hold.
    page_max: int = 200


DEFAULT_LIMITS = ChatLimits()


def clean_name(name: str, *, field: str = "name", limit: int = NAME_MAX) -> str:
    """The name, NFC-normalised and trimmed; ``ValidationFailed`` with a code for each fault."""
    value = unicodedata.normalize("NFC", name).strip()
    if not value:
        raise ValidationFailed(f"the room's {field} is empty", code="chat_name_empty")
    if len(value) > limit:
        raise ValidationFailed(
            f"the room's {field} is longer than {limit} characters", code="chat_name_too_long"
        )
    for char in value:
        if char in BIDI_CONTROLS or unicodedata.category(char) == "Cc":
            raise ValidationFailed(
                f"the room's {field} holds a control character (U+{ord(char):04X})",
                code="chat_name_invalid",
            )
    return value


def clean_topic(topic: str | None) -> str | None:
    if topic is None or not topic.strip():
        return None
    return clean_name(topic, field="topic", limit=TOPIC_MAX)


def clean_body(body: str, limits: ChatLimits = DEFAULT_LIMITS) -> str:
    """A message body as sent (NFC): refused when empty, blank, too long or holding a NUL."""
    value = unicodedata.normalize("NFC", body)
    if not value.strip():
        raise ValidationFailed("the message is empty", code="chat_body_empty")
    if len(value) > limits.body_max_chars:
        raise ValidationFailed(
            f"the message is longer than {limits.body_max_chars} characters",
            code="chat_body_too_long",
        )
    if "\x00" in value:
        raise ValidationFailed("the message holds a NUL character", code="chat_body_invalid")
    return value
