"""The status page's static copy (STATUS_PAGE_DIR): the job that writes it again after each
change, ready to sync to a CDN or any host that stays up when warroom's do not. Every file
is replaced whole (written beside it, then renamed), so a reader never sees half a page,
and links are relative, so the copy works from any path, or opened from the disk."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from bot.config import WarroomConfig
from bot.documents import status_page as documents
from bot.jobs import Handler, JobKind
from bot.services.status_page import StatusPageReads


class StaticPage:
    def __init__(self, reads: StatusPageReads, directory: str, config: WarroomConfig) -> None:
        self.reads = reads
        self.directory = Path(directory) if directory else None
        self.url = config.status_page.url or ""

    def handlers(self) -> dict[str, Handler]:
        return {JobKind.STATUS_PAGE_EXPORT: self.export}

    async def export(self, payload: dict[str, Any]) -> None:
        if self.directory is None:
            return  # STATUS_PAGE_DIR was unset since the job was made
        view = await self.reads.page()
        records = view.incidents
        files = {
            "index.html": documents.page_html(view, documents.STATIC),
            "status.json": documents.page_json(view, documents.STATIC).model_dump_json(indent=2),
            "feed.atom": documents.feed_atom(
                view, records, base=self.url, links=documents.STATIC, self_url=self.url + "feed.atom"
            ),
        }
        for record in records:
            files[f"incidents/{record.id}.html"] = documents.incident_html(
                view, record, documents.STATIC_INCIDENT
            )
        for name, text in files.items():
            write_whole(self.directory / name, text)


def write_whole(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
