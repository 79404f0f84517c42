"""Ingest: what Polaris derives from stored files, as background jobs.

Renditions (thumbnails, page previews) now; text extraction, OCR and malware scanning next.
"""
