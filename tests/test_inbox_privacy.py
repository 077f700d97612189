"""Privacy on the inbox side: ID and phone numbers never reach the ledger, the log, `status` or reason files
unmasked — whatever shape the clerk typed them in, and even when a file name is an ID number (issue 10)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE
from .inbox_kit import copy_case, make_areas, reason_files, status, watch_once

ID_A, ID_B, PHONE = "510108197205141236", "510104196811021242", "13908001234"
SECRETS = (ID_A, ID_B, PHONE, "13551234567", "2051412")


def _everything_the_watcher_wrote(areas: dict[str, Path]) -> str:
    state = areas["outbox"] / ".kunnan"
    db = sqlite3.connect(state / "ledger.sqlite")
    rows = [" ".join(str(v) for v in row) for table in ("cases", "moves", "unclaimed")
            for row in db.execute(f"SELECT * FROM {table}")]
    db.close()
    return "\n".join([*rows, (state / "watch.log").read_text(encoding="utf-8"), status(areas["outbox"]),
                      *reason_files(areas["rejected"]).values()])


def test_id_and_phone_numbers_are_masked_wherever_the_watcher_writes(tmp_path: Path) -> None:
    areas = make_areas(tmp_path)
    copy_case(FILING_EXAMPLE, areas["inbox"] / "数字", {"/worker/id_number": int(ID_A), "archive_no": "CD-P-1"})
    copy_case(EXIT_EXAMPLE, areas["inbox"] / "空格", {"/worker/id_number": ID_B + " ", "archive_no": "CD-P-2"})
    copy_case(FILING_EXAMPLE, areas["inbox"] / "备注", {"/worker/phone": f"{PHONE}(白天)", "archive_no": "CD-P-3"})
    copy_case(FILING_EXAMPLE, areas["inbox"] / ID_A, {"/worker/gender": "女", "archive_no": "CD-P-4"})
    (areas["inbox"] / f"{PHONE}.txt").write_text("a stray file named by a phone number", encoding="utf-8")
    result = watch_once(areas)
    assert result.returncode == 1, result.stderr
    assert len(reason_files(areas["rejected"])) == 4
    written = _everything_the_watcher_wrote(areas) + result.stdout + result.stderr
    assert "510108********1236" in written and "139****1234" in written  # quoted, masked
    for secret in SECRETS:
        assert secret not in written, secret
