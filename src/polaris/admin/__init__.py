"""Administration pages: units, users, the audit log and the status of verification."""
