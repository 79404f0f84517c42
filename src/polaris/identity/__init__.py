"""Who: units (the hierarchy), roles, users, passwords, MFA, sessions and API tokens."""
