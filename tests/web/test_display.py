"""How stored data is shown (registra.web.display), pure: labels, values, snapshot entries and
audit diffs opened up to the changed values inside snapshots."""

from __future__ import annotations

from datetime import UTC, datetime

from registra.web.display import PATH_SEPARATOR, as_value, changes, entries, label_for


def test_labels_read_as_words_and_source_keys_stay_as_received() -> None:
    assert label_for("serialNumber") == "Serial number"
    assert label_for("wireRange") == "Wire range"
    assert label_for("purchase_order") == "Purchase order"
    assert label_for("EQUIPMENT_NO") == "EQUIPMENT_NO"


def test_values_api_timestamps_become_times_and_nothing_is_marked() -> None:
    assert as_value("2026-05-25T14:08:33.000Z").time == datetime(2026, 5, 25, 14, 8, 33, tzinfo=UTC)
    assert as_value("2026-05-25").text == "2026-05-25"  # a date stays a date
    assert as_value("2026-05-25T14:08:33").time is None  # no offset: not guessed
    assert as_value(None).empty and as_value("").empty and as_value([]).empty
    assert (as_value(True).text, as_value(412.5).text) == ("yes", "412.5")
    assert as_value(["a", "b"]).text == "a, b"


def test_snapshot_entries_nest_mappings_and_tabulate_records() -> None:
    snapshot = {
        "model": "TTi 60",
        "manufacturer": "Norbar",
        "specifications": {"range": "12-60 N·m"},
        "files": [{"name": "CAL-1.pdf", "size": 91000}],
    }
    got = entries(snapshot, "assetSnapshot")
    assert [e.label for e in got] == ["Manufacturer", "Model", "Specifications", "Files"]
    assert got[2].pairs is not None and got[2].pairs[0][0] == "Range"
    assert got[3].columns == ["Name", "Size"]
    assert got[3].records is not None and got[3].records[0][1].text == "91000"


def test_changes_name_each_changed_value_inside_snapshots() -> None:
    diff = {
        "before": {"displayName": "Tool", "assetSnapshot": {"location": "H1", "model": "X"}},
        "after": {"displayName": "Wrench", "assetSnapshot": {"location": "H2", "model": "X"}},
    }
    rows = [(c.label, c.before.text, c.after.text) for c in changes(diff)]
    location = PATH_SEPARATOR.join(["Asset snapshot", "Location"])
    assert rows == [("Name", "Tool", "Wrench"), (location, "H1", "H2")]


def test_a_creation_lists_what_it_recorded_and_skips_empty_values() -> None:
    diff = {"before": None, "after": {"assetKey": "TW-1", "description": "", "files": []}}
    rows = [(c.label, c.before.empty, c.after.text) for c in changes(diff)]
    assert rows == [("Asset key", True, "TW-1")]
