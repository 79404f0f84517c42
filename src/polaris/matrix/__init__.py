"""The Matrix client-server API (the subset that matrix-nio, Element Web and Element Android use),
served over Polaris's own identity, drive and access (docs/matrix.md)."""
