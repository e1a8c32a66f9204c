"""Files on a ticket (seed 001 "Вложение"): what is accepted, and keeping them.

A file's kind is decided by its first bytes, never by its name or the type its
sender claimed: a screenshot, a PDF, a log or CSV (UTF-8 text), JSON. Anything
that could run is refused before it is stored, even renamed to `.txt`: an
executable (ELF, PE/`MZ`, Mach-O), a script (`#!`), an archive (zip, gzip, 7z,
rar, bzip2, xz, tar), which could carry either. Sizes and counts come from the
`ticket_forms.attachments` limits.

Files are stored in the database (table `attachments`): they commit with the
ticket or the comment they came with, are backed up with it, and every API
process serves them without a shared volume; the limits keep each row small.
Who may download one is the ticket's rule (`intmon.api.access.visible_ticket`),
and a file on an internal comment is support's only.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from alerts.errors import InvalidTicketInput
from alerts.models import Attachment, TicketComment
from alerts.ticket_forms import AttachmentLimits
from alerts.tickets import Actor, record
from core.db import table_of

A = table_of(Attachment)
C = table_of(TicketComment)

FIELD = "attachments"
NAME_MAX = 120

# kind → the type it is served with.
CONTENT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "text": "text/plain; charset=utf-8",
    "json": "application/json",
}

# Refused whatever the limits allow: (what it is, its signature at offset 0).
EXECUTABLE = (
    ("an ELF executable", b"\x7fELF"),
    ("a Windows executable (MZ)", b"MZ"),
    ("a Mach-O executable", b"\xfe\xed\xfa\xce"),
    ("a Mach-O executable", b"\xfe\xed\xfa\xcf"),
    ("a Mach-O executable", b"\xce\xfa\xed\xfe"),
    ("a Mach-O executable", b"\xcf\xfa\xed\xfe"),
    ("a Mach-O or Java class file", b"\xca\xfe\xba\xbe"),
    ("a script (#!)", b"#!"),
    ("a zip archive", b"PK\x03\x04"),
    ("a zip archive", b"PK\x05\x06"),
    ("a gzip archive", b"\x1f\x8b"),
    ("a 7z archive", b"7z\xbc\xaf\x27\x1c"),
    ("a rar archive", b"Rar!\x1a\x07"),
    ("a bzip2 archive", b"BZh"),
    ("an xz archive", b"\xfd7zXZ\x00"),
    ("a zstd archive", b"\x28\xb5\x2f\xfd"),
    ("a cabinet archive", b"MSCF"),
)
IMAGES = (
    ("png", b"\x89PNG\r\n\x1a\n"),
    ("jpeg", b"\xff\xd8\xff"),
    ("gif", b"GIF87a"),
    ("gif", b"GIF89a"),
    ("pdf", b"%PDF-"),
)


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as it came in: the name its sender gave, and its bytes."""

    name: str
    content: bytes


@dataclass(frozen=True, slots=True)
class AttachmentView:
    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    comment_id: int | None
    author_kind: str
    author: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "comment_id": self.comment_id,
            "author_kind": self.author_kind,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
        }


def kind_of(content: bytes) -> str:
    """png, jpeg, gif, webp, pdf, json or text, by the bytes; InvalidTicketInput for
    anything executable, an archive, or bytes that are none of these."""
    for what, signature in EXECUTABLE:
        if content.startswith(signature):
            raise InvalidTicketInput(FIELD, f"refused: {what} is not accepted")
    if len(content) > 262 and content[257:262] == b"ustar":
        raise InvalidTicketInput(FIELD, "refused: a tar archive is not accepted")
    for kind, signature in IMAGES:
        if content.startswith(signature):
            return kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidTicketInput(FIELD, "refused: not an accepted type of file") from None
    if "\x00" in text:
        raise InvalidTicketInput(FIELD, "refused: not an accepted type of file")
    if text.lstrip("\ufeff \t\r\n").startswith("#!"):
        raise InvalidTicketInput(FIELD, "refused: a script (#!) is not accepted")
    try:
        json.loads(text)
    except ValueError:
        return "text"
    return "json"


_UNSAFE = re.compile(r"[^\w.\- ()\[\]+,@]", re.UNICODE)


def safe_name(name: str) -> str:
    """The sender's file name, without its folders, control or shell characters,
    at most NAME_MAX characters; "attachment" when nothing is left."""
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    if len(base) > NAME_MAX:
        _, dot, extension = base.rpartition(".")
        keep = extension if dot and len(extension) <= 10 else ""
        base = base[: NAME_MAX - len(keep) - 1] + "." + keep if keep else base[:NAME_MAX]
    return base or "attachment"


def check(uploads: list[Upload], limits: AttachmentLimits, already: int) -> list[str]:
    """The kind of each upload, in order; InvalidTicketInput naming the file otherwise."""
    if already + len(uploads) > limits.max_per_ticket:
        raise InvalidTicketInput(
            FIELD,
            f"at most {limits.max_per_ticket} files per ticket "
            f"({already} already attached, {len(uploads)} more sent)",
        )
    kinds: list[str] = []
    for upload in uploads:
        name = safe_name(upload.name)
        if len(upload.content) > limits.max_bytes:
            raise InvalidTicketInput(
                FIELD, f"{name}: larger than {limits.max_bytes} bytes ({len(upload.content)})"
            )
        if not upload.content:
            raise InvalidTicketInput(FIELD, f"{name}: the file is empty")
        try:
            kind = kind_of(upload.content)
        except InvalidTicketInput as error:
            raise InvalidTicketInput(FIELD, f"{name}: {str(error).split(': ', 1)[1]}") from None
        if kind not in limits.allowed:
            raise InvalidTicketInput(FIELD, f"{name}: refused: {kind} files are not accepted")
        kinds.append(kind)
    return kinds


def attach(
    connection: Connection,
    ticket_id: int,
    uploads: list[Upload],
    *,
    limits: AttachmentLimits,
    actor: Actor,
    now: datetime,
    comment_id: int | None = None,
) -> list[int]:
    """Check and store the files on the ticket (with the comment, if one); one
    history entry per file. InvalidTicketInput ("attachments") stores none."""
    if not uploads:
        return []
    already = connection.execute(
        select(func.count()).select_from(A).where(A.c.ticket_id == ticket_id)
    ).scalar_one()
    kinds = check(uploads, limits, int(already))
    ids = []
    for upload, kind in zip(uploads, kinds, strict=True):
        name = safe_name(upload.name)
        ids.append(
            connection.execute(
                insert(A)
                .values(
                    ticket_id=ticket_id,
                    comment_id=comment_id,
                    name=name,
                    content_type=CONTENT_TYPES[kind],
                    size=len(upload.content),
                    sha256=hashlib.sha256(upload.content).hexdigest(),
                    content=upload.content,
                    author_kind=actor.kind,
                    author=actor.name,
                    created_at=now,
                )
                .returning(A.c.id)
            ).scalar_one()
        )
        record(connection, ticket_id, now, actor, "attachment_added", None, name)
    return [int(i) for i in ids]


def _visible(ticket_id: int, include_internal: bool) -> Any:
    """Attachments of the ticket; without `include_internal`, none of an internal comment."""
    condition = A.c.ticket_id == ticket_id
    if include_internal:
        return condition
    internal = select(C.c.id).where(C.c.ticket_id == ticket_id, C.c.visibility != "public")
    return condition & (A.c.comment_id.is_(None) | A.c.comment_id.not_in(internal))


def listed(connection: Connection, ticket_id: int, *, include_internal: bool) -> list[Any]:
    columns = [c for c in A.c if c.name != "content"]
    rows = connection.execute(
        select(*columns).where(_visible(ticket_id, include_internal)).order_by(A.c.id)
    )
    return [
        AttachmentView(
            id=int(r.id),
            name=str(r.name),
            content_type=str(r.content_type),
            size=int(r.size),
            sha256=str(r.sha256),
            comment_id=None if r.comment_id is None else int(r.comment_id),
            author_kind=str(r.author_kind),
            author=str(r.author),
            created_at=r.created_at,
        )
        for r in rows
    ]


def content_of(
    connection: Connection, ticket_id: int, attachment_id: int, *, include_internal: bool
) -> tuple[str, str, bytes] | None:
    """(name, content type, bytes) of one of the ticket's files the reader may see."""
    row = connection.execute(
        select(A.c.name, A.c.content_type, A.c.content).where(
            A.c.id == attachment_id, _visible(ticket_id, include_internal)
        )
    ).first()
    return None if row is None else (str(row.name), str(row.content_type), bytes(row.content))
