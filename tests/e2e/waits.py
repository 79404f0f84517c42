"""Waiting in the browser for what the server does in the background (its change-stream
consumers), without sleeping.

``page.wait_for_function`` polls a predicate that must answer at once: an ``async`` predicate
answers with a promise, which is truthy, so the wait ends on the first poll whatever the server
says (the chat notifications test waited for nothing that way and then found an empty list).
The predicate here answers at once from the last count fetched and starts the next fetch when
none is under way.
"""

from __future__ import annotations

from playwright.sync_api import Page

_UNREAD_AT_LEAST = """n => {
  const seen = window.__polarisUnread;
  if (!window.__polarisUnreadAsking) {
    window.__polarisUnreadAsking = true;
    fetch('/api/v1/notifications/count')
      .then(answer => answer.json())
      .then(body => { window.__polarisUnread = body.unread; })
      .finally(() => { window.__polarisUnreadAsking = false; });
  }
  return typeof seen === 'number' && seen >= n;
}"""


def wait_for_unread(page: Page, at_least: int = 1) -> None:
    """Until the signed-in user's unread notification count is at least ``at_least``."""
    page.evaluate("() => { window.__polarisUnread = undefined; }")
    page.wait_for_function(_UNREAD_AT_LEAST, arg=at_least, polling=100)
