"""``registra import run`` and ``registra import profile export|import``: the exit codes of the
contract (0 applied or previewed within the threshold, 1 over it, 2 could not run), the JSON
summary, and bad flags and files. Both databases."""

from __future__ import annotations

import orjson
import pytest

from registra.assets.models import Asset
from registra.cli import main
from registra.imports.models import ImportProfile, ImportRun
from tests.cast import Cast
from tests.imports.helpers import export, make_profile, row

pytestmark = pytest.mark.django_db


def _run(path, *extra: str) -> int:
    return main(
        ["import", "run", "--org", "skyline-mro", "--profile", "AMOS nightly", str(path), *extra]
    )


def test_a_preview_then_apply_then_nothing_to_do(cast: Cast, tmp_path, capsys) -> None:
    make_profile(cast)
    source = export(tmp_path / "amos.csv", [row("TW-1"), row("TW-2")])
    assert _run(source.path) == 0
    assert "preview: nothing was changed" in capsys.readouterr().out
    assert not Asset.objects.filter(organization=cast.org).exists()
    assert _run(source.path, "--apply") == 0
    assert "applied in" in capsys.readouterr().out
    assert Asset.objects.filter(organization=cast.org).count() == 2
    assert _run(source.path, "--json") == 0
    summary = orjson.loads(capsys.readouterr().out)
    assert summary["status"] == "planned" and summary["counts"]["unchanged"] == 2
    assert summary["counts"]["create"] == 0 and summary["fileSha256"]


def test_row_errors_over_the_threshold_exit_1_and_apply_nothing(cast, tmp_path, capsys) -> None:
    make_profile(cast)
    source = export(tmp_path / "amos.csv", [row("TW-1"), row("TW-2", Status="Scrapped")])
    assert _run(source.path, "--apply") == 1
    out = capsys.readouterr().out
    assert "not applied: 1 rows with errors" in out and "Scrapped" in out
    assert not Asset.objects.filter(organization=cast.org).exists()
    assert ImportRun.objects.get().status == "planned"


def test_what_cannot_run_exits_2(cast: Cast, tmp_path, capsys) -> None:
    make_profile(cast)
    assert _run(tmp_path / "missing.csv") == 2
    assert "missing.csv is not a readable file" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert _run(empty, "--json") == 2
    failed = orjson.loads(capsys.readouterr().out)
    assert failed["status"] == "failed" and "empty" in failed["message"]
    source = export(tmp_path / "amos.csv", [row("TW-1")])
    assert (
        main(["import", "run", "--org", "skyline-mro", "--profile", "Nope", str(source.path)]) == 2
    )
    assert "import profile 'Nope' not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        _run(source.path, "--progress", "sometimes")
    assert usage.value.code == 2
    assert not Asset.objects.exists()


def test_a_profile_file_round_trip(cast: Cast, tmp_path, capsys) -> None:
    profile = make_profile(cast)
    assert (
        main(["import", "profile", "export", "--org", "skyline-mro", "--profile", profile.name])
        == 0
    )
    text = capsys.readouterr().out
    path = tmp_path / "amos.toml"
    path.write_text(text.replace('name = "AMOS nightly"', 'name = "AMOS copy"'))
    assert main(["import", "profile", "import", "--org", "skyline-mro", str(path)]) == 0
    copy = ImportProfile.objects.get(organization=cast.org, name="AMOS copy")
    assert {**copy.definition, "name": profile.name} == profile.definition
    # The same name again: refused without --replace, replaced with it.
    assert main(["import", "profile", "import", "--org", "skyline-mro", str(path)]) == 2
    assert "add --replace" in capsys.readouterr().err
    path.write_text(path.read_text().replace("error_threshold = 0", "error_threshold = 3"))
    assert (
        main(["import", "profile", "import", "--org", "skyline-mro", str(path), "--replace"]) == 0
    )
    copy.refresh_from_db()
    assert copy.definition["error_threshold"] == 3


def test_a_bad_profile_file_exits_2_naming_the_problem(cast: Cast, tmp_path, capsys) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "X"\nformat = "pdf"\n[columns]\nassetKey = "No"\n')
    assert main(["import", "profile", "import", "--org", "skyline-mro", str(path)]) == 2
    err = capsys.readouterr().err
    assert "format" in err and "csv" in err
    path.write_text("name = [unclosed")
    assert main(["import", "profile", "import", "--org", "skyline-mro", str(path)]) == 2
    assert "not a valid profile" in capsys.readouterr().err
    assert not ImportProfile.objects.exists()
