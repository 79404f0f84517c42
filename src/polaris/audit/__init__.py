"""The tamper-evident audit log: a hash chain of records with Ed25519-signed checkpoints.

Other packages use ``polaris.audit.service`` (``from polaris.audit import service as audit``).
"""
