"""Real PDFs for the guard's tests: a plain one, and the same protected with a password (AES-256,
its streams as random as ciphertext while it stays a PDF)."""

from __future__ import annotations

import io

import pikepdf
from fpdf import FPDF


def plain_pdf(index: int) -> bytes:
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=11)
    for line in range(30):
        document.cell(
            0, 6, f"Case {index}: line {line} of the charge sheet", new_x="LMARGIN", new_y="NEXT"
        )
    return bytes(document.output())


def encrypted_pdf(index: int) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(plain_pdf(index))) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="o", user="secret", R=6))
    return out.getvalue()
