"""The text of PDF and DOCX documents: one text per document, from at most :data:`MAX_PAGES` pages.

``pypdf`` reads PDFs and ``python-docx`` reads DOCX files (the ``documents`` extra); both are imported on first use.
Only text is read: images, scanned pages without a text layer and embedded files give nothing. DOCX files have no
pages until a word processor lays them out, so their pages are counted from the page breaks Word saved in the file
(explicit breaks and the breaks it rendered last); a DOCX file without any counts as one page.

Usage::

    doc = read_document(Path("contract.pdf"))                 # Document(text=..., pages=3, pages_read=3, kind="pdf")
    doc = extract_text(raw_bytes, name="file", over_limit="error")   # DataError above 20 pages (the API's rule)
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..exceptions import DataError

__all__ = ["Document", "MAX_PAGES", "DOCUMENT_SUFFIXES", "document_kind", "extract_text", "read_document",
           "decode_base64_document"]

MAX_PAGES = 20
"""Pages read per document; the API refuses longer documents, batch jobs read the first 20 pages and count them."""
DOCUMENT_SUFFIXES = {".pdf": "pdf", ".docx": "docx"}
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_DATA_URL = re.compile(r"^data:[^,;]*(;[^,;]*)*;base64,", re.IGNORECASE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass(frozen=True)
class Document:
    """A document's text (pages joined by a blank line), its page count and how many pages were read."""

    text: str
    pages: int
    pages_read: int
    kind: str

    @property
    def cut(self) -> bool:
        return self.pages_read < self.pages


def document_kind(data: bytes) -> str | None:
    """``"pdf"`` or ``"docx"`` from the first bytes (the file's name is not trusted), else None."""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return "docx" if "word/document.xml" in z.namelist() else None
        except zipfile.BadZipFile:
            return None
    return None


def _pdf(data: bytes, name: str, max_pages: int) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about odd but readable files flood the log
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DataError(f"{name}: the PDF is encrypted with a password; send a decrypted copy")
        n = len(reader.pages)
        texts = [(reader.pages[i].extract_text() or "").strip() for i in range(min(n, max_pages))]
    except DataError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as e:
        raise DataError(f"{name}: cannot read the PDF ({type(e).__name__}: {str(e)[:200] or 'damaged file'})") from None
    return Document("\n\n".join(t for t in texts if t), n, min(n, max_pages), "pdf")


def _page_breaks(element: object) -> int:
    """Page breaks inside one body element (a paragraph or a table) of a DOCX file."""
    iter_ = element.iter
    return sum(1 for e in iter_() if e.tag == f"{_W}lastRenderedPageBreak"
               or (e.tag == f"{_W}br" and e.get(f"{_W}type") == "page"))


def _docx(data: bytes, name: str, max_pages: int) -> Document:
    import docx
    from docx.oxml.ns import qn

    try:
        body = docx.Document(io.BytesIO(data)).element.body
    except Exception as e:  # noqa: BLE001 - python-docx raises zip, XML and key errors for damaged files
        raise DataError(f"{name}: cannot read the DOCX file ({type(e).__name__}: {str(e)[:200] or 'damaged file'})") \
            from None
    page, parts = 1, []
    for el in body.iterchildren():
        if page <= max_pages:
            if el.tag == qn("w:p"):
                parts.append("".join(t.text or "" for t in el.iter(qn("w:t"))))
            elif el.tag == qn("w:tbl"):
                for row in el.iter(qn("w:tr")):
                    cells = ["".join(t.text or "" for t in c.iter(qn("w:t"))) for c in row.iter(qn("w:tc"))]
                    parts.append("\t".join(cells))
        page += _page_breaks(el)
    text = "\n".join(parts).strip()
    return Document(re.sub(r"\n{3,}", "\n\n", text), page, min(page, max_pages), "docx")


def extract_text(data: bytes, *, name: str = "document", kind: str | None = None, max_pages: int = MAX_PAGES,
                 over_limit: Literal["error", "cut"] = "cut") -> Document:
    """The text of a PDF or DOCX document given as bytes.

    ``over_limit``: ``"cut"`` reads the first ``max_pages`` pages, ``"error"`` refuses a longer document.
    """
    kind = kind or document_kind(data)
    if kind not in ("pdf", "docx"):
        raise DataError(f"{name}: not a PDF or DOCX document")
    doc = (_pdf if kind == "pdf" else _docx)(data, name, max_pages)
    if doc.cut and over_limit == "error":
        raise DataError(f"{name}: the document has {doc.pages} pages; at most {max_pages} are read")
    return doc


def read_document(path: Path, *, max_pages: int = MAX_PAGES, over_limit: Literal["error", "cut"] = "cut") -> Document:
    """The text of the PDF or DOCX file at ``path`` (the format from its content, else from its extension)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    kind = document_kind(data) or DOCUMENT_SUFFIXES.get(path.suffix.lower())
    return extract_text(data, name=str(path), kind=kind, max_pages=max_pages, over_limit=over_limit)


def decode_base64_document(value: str, *, max_bytes: int, name: str = "file") -> bytes:
    """The bytes of a document sent as base64 (or a ``data:...;base64,`` URL). Other URLs are refused: the server
    fetches nothing."""
    value = value.strip()
    if _URL.match(value) or value.lower().startswith(("www.", "data:")) and not _DATA_URL.match(value):
        raise DataError(f"{name}: URLs are not fetched (the server reads no remote files); send the document's bytes "
                        "as base64")
    value = "".join(_DATA_URL.sub("", value, count=1).split())
    if len(value) > (max_bytes + 2) // 3 * 4:
        raise DataError(f"{name}: the document is larger than {max_bytes / 1e6:g} MB")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise DataError(f"{name}: not valid base64") from None
    if not data:
        raise DataError(f"{name}: the document is empty")
    return data
