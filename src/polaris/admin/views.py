"""Administration pages (see ``polaris.admin``): one router gathering each section's.

Importing it registers the administration jobs' handlers (``polaris.admin.jobs``).
"""

from __future__ import annotations

from fastapi import APIRouter

import polaris.admin.jobs  # noqa: F401 - registers the handlers
from polaris.admin import (
    views_audit,
    views_chat,
    views_groups,
    views_guard,
    views_imports,
    views_incident,
    views_retention,
    views_scan,
    views_status,
    views_units,
    views_users,
)

router = APIRouter(include_in_schema=False)
# Imports first: "/admin/users/import" must not be taken for a user's page.
router.include_router(views_imports.router)
router.include_router(views_units.router)
router.include_router(views_users.router)
router.include_router(views_groups.router)
router.include_router(views_audit.router)
router.include_router(views_status.router)
router.include_router(views_guard.router)
router.include_router(views_incident.router)
router.include_router(views_scan.router)
router.include_router(views_retention.router)
router.include_router(views_chat.router)
