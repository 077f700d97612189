"""Many cases through one Executor path: in process, a local process pool, and a real Dask LocalCluster."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kunnan_docs.batch import _batches, run_cases
from kunnan_docs.cli import main
from kunnan_docs.core.idcard import check_digit
from kunnan_docs.errors import ExitCode
from kunnan_docs.package.layout import GENERATOR, HISTORY, safe_name
from kunnan_docs.package.verify import verify_path

from .conftest import EXAMPLES, EXIT_EXAMPLE, FILING_EXAMPLE, REFILED_EXAMPLE


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _copies(tmp_path: Path, n: int) -> list[Path]:
    """n distinct families' filing cases (archive numbers …-9000+i, ID numbers of men born the same day) sharing the
    filing example's scans."""
    cases = []
    for i in range(n):
        folder = tmp_path / "cases" / f"c{i}"
        shutil.copytree(FILING_EXAMPLE, folder)
        data = json.loads((folder / "case.json").read_text(encoding="utf-8"))
        data["archive_no"] = f"CD510108-2019-{9000 + i}"
        first17 = f"51010819720514{2 * i + 1:03d}"
        data["worker"]["id_number"] = first17 + check_digit(first17)
        (folder / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        cases.append(folder / "case.json")
    return cases


def test_one_archive_number_never_spans_two_batches(tmp_path) -> None:
    cases = _copies(tmp_path, 5)
    twin = tmp_path / "cases" / "c0b" / "case.json"
    shutil.copytree(cases[0].parent, twin.parent)
    order = [cases[0], cases[1], cases[2], twin, cases[3], cases[4]]
    batches = _batches(order, 2)
    assert [i for b in batches for i in b] != [] and sorted(i for b in batches for i in b) == list(range(6))
    assert any({0, 3} <= set(b) for b in batches)


def test_rerun_skips_what_is_published_and_rebuild_after_upgrade_does_not(built_examples, tmp_path, capsys) -> None:
    outbox = tmp_path / "out"
    shutil.copytree(built_examples, outbox, symlinks=True)  # the session's `build examples/*/case.json`
    before = {p.name: _tree(p) for p in outbox.iterdir() if not p.name.startswith((".", "_"))}
    capsys.readouterr()

    assert main(["build", str(EXAMPLES), "-o", str(outbox)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.count("已是最新") == len(list(EXAMPLES.glob("*/case.json"))) and "未重复成卷" in out
    assert not (outbox / HISTORY).exists()

    assert main(["rebuild", "-o", str(outbox)]) == ExitCode.OK
    assert capsys.readouterr().out.count("已是最新") == len(list(EXAMPLES.glob("*/case.json")))

    # A package made by another version is rebuilt from its own input/ into the same bytes.
    report = outbox / safe_name("CD510104-2018-0112") / "report.json"
    report.write_text(report.read_text(encoding="utf-8").replace(GENERATOR, "kunnan-docs 0.0.1"), encoding="utf-8")
    assert main(["rebuild", "-o", str(outbox)]) == ExitCode.OK
    assert capsys.readouterr().out.count("已成卷") == 1
    assert _tree(outbox / "CD510104-2018-0112") == before["CD510104-2018-0112"]
    assert len(list((outbox / HISTORY / "CD510104-2018-0112").iterdir())) == 1


def test_changed_scan_is_built_again(case_copy, tmp_path, capsys) -> None:
    case_file = case_copy(REFILED_EXAMPLE)
    outbox = tmp_path / "out"
    main(["build", str(case_file), "-o", str(outbox)])
    scan = next((case_file.parent / "scans").iterdir())
    scan.write_bytes(scan.read_bytes() + b"\0")
    capsys.readouterr()
    main(["build", str(case_file), "-o", str(outbox)])
    assert "已成卷" in capsys.readouterr().out


def test_process_pool_gives_the_same_bytes_in_the_same_order(tmp_path) -> None:
    cases = _copies(tmp_path, 4)
    serial = list(run_cases(cases, tmp_path / "serial"))
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        pooled = list(run_cases(cases, tmp_path / "pooled", executor=pool, batch_size=1))
    assert [r.case_file for r in pooled] == cases
    assert [r.outcome for r in pooled] == [r.outcome for r in serial]
    for r in serial:
        assert _tree(r.folder) == _tree(tmp_path / "pooled" / r.folder.name)


@pytest.mark.cluster
def test_build_on_a_dask_local_cluster(tmp_path, capsys) -> None:
    """A real scheduler and two worker processes; the CLI only gets the address, as on a province's cluster."""
    distributed = pytest.importorskip("distributed")
    cases = [*_copies(tmp_path, 5), EXIT_EXAMPLE / "case.json"]
    # ":0": the scheduler's HTTP server takes a free port (with None it still binds 8787, busy when two runs overlap)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as cluster:
        code = main(["build", *map(str, cases), "-o", str(tmp_path / "out"), "--scheduler",
                     cluster.scheduler_address, "--batch-size", "2"])
        assert code == ExitCode.AWAITING_SIGNATURE  # the copies carry signed scans of the example's archive number
        out = capsys.readouterr().out
        assert out.count("已成卷") == 6
        lines = [line for line in out.splitlines() if line.startswith("已成卷")]
        assert [line.split()[1].rsplit("/", 1)[-1] for line in lines] == [
            *(f"CD510108-2019-{9000 + i}" for i in range(5)), "CD510104-2018-0112"]
        # a rerun on the cluster skips everything
        assert main(["build", *map(str, cases), "-o", str(tmp_path / "out"), "--scheduler",
                     cluster.scheduler_address]) == ExitCode.AWAITING_SIGNATURE
        assert capsys.readouterr().out.count("已是最新") == 6
    for folder in (tmp_path / "out").iterdir():
        if not folder.name.startswith((".", "_")):
            assert verify_path(folder) == []


def test_scheduler_that_cannot_be_reached_is_a_usage_error(tmp_path, capsys) -> None:
    code = main(["build", str(FILING_EXAMPLE / "case.json"), "-o", str(tmp_path), "--scheduler", "tcp://127.0.0.1:9"])
    assert code == ExitCode.USAGE
    assert "调度器" in capsys.readouterr().err
