"""``polaris doctor``: a security self-audit a CISO can hand to an auditor.

Each module holds one group of checks (key files, the web settings, accounts, verify runs, disk,
the clock, backups); :mod:`polaris.doctor.runner` lists them. A check reads and never changes
anything; it returns :class:`~polaris.doctor.findings.Finding` values: an id, a severity
(critical, warning, ok), what was checked, what was measured and what to do.

Why its own package at the top (``polaris/doctor/``) and not in ``admin`` or a domain: it reads
across every domain (identity's accounts, the audit log, the blob store's directory, the
settings) the way the composition root does, and no domain may depend on it. It is not under a
``resilience`` package because most of its checks are about security settings; backups (built
later) plug their status in through :mod:`polaris.doctor.backups`. It opens only the settings
and the database, never the keys: a doctor must still run, and report, when the keys are wrong.
"""
