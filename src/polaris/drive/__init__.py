"""The drive: spaces, folders, files, versions, trash, shares and quotas (DESIGN §6)."""
