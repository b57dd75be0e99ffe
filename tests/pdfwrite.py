"""Write small PDFs for the privacy-policy tests: one page of Helvetica text, or a page with no text layer.

Only Latin-1 text (the standard Helvetica font's encoding); enough for the policies the tests need.
"""

from __future__ import annotations


def _escape(line: str) -> bytes:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def _pdf(content: bytes, font: bool) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        + (b" /Resources << /Font << /F1 5 0 R >> >>" if font else b" /Resources << >>")
        + b" >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
    ]
    if font:
        objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def text_pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``lines``, one per line."""
    body = b"BT /F1 11 Tf 14 TL 50 740 Td " + b" ".join(b"(" + _escape(line) + b") Tj T*" for line in lines) + b" ET"
    return _pdf(body, font=True)


def image_only_pdf() -> bytes:
    """A one-page PDF with a filled rectangle and no text (as a scanned page looks to a text extractor)."""
    return _pdf(b"0.5 g 50 50 500 700 re f", font=False)
