"""The administration jobs. Importing this module registers their handlers."""

from __future__ import annotations

from polaris import jobs
from polaris.admin import imports, verification

jobs.handler(imports.IMPORT_JOB)(imports.run_import)
jobs.handler(verification.JOB_KINDS["audit"])(verification.run_audit_verify)
jobs.handler(verification.JOB_KINDS["storage"])(verification.run_storage_verify)
