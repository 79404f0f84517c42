"""Resilience: the ransomware guard, which watches each account's changes for encryption in
progress and freezes the account's writes (``docs/resilience.md``, "Ransomware guard")."""
