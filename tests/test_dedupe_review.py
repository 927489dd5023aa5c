"""The review loop: labels (read, stored, honoured by clustering, learned from), the pairs
chosen for review, the file-mode flags, `dedupe review` in the terminal, and labels reaching
the Dagster assets' next run."""

from __future__ import annotations

import csv
import io

import numpy as np
import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance

from pipeline.__main__ import main
from pipeline.dedupe import dedupe
from pipeline.dedupe.cli import _label_summary
from pipeline.dedupe.labels import (
    MAX_THRESHOLD_MOVE,
    LabelError,
    learn_from_labels,
    read_labels_csv,
)
from pipeline.dedupe.model import FSModel
from pipeline.dedupe.review import ReviewSource, choose_pairs, explained, render_pair
from pipeline.dedupe.runs import PreviousRun, model_frame, resolve
from pipeline.store import open_store
from pipeline.store.dedupe_labels import load_labels, save_labels
from tests.people import normalized, population
from tests.test_pipeline_e2e import _drop_files, _run, _table


@pytest.fixture(scope="module")
def people():
    rows, truth = population(n_people=300, seed=9)
    return normalized(rows), truth


@pytest.fixture(scope="module")
def resolved(people):
    return dedupe(people[0])


def _entity_of(result, lead_id: str) -> str:
    return result.entities.filter(pl.col("lead_id") == lead_id)["entity_id"].item()


def _labels(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["left_id", "right_id", "label"], orient="row")


def _merged_pair(result) -> tuple[str, str]:
    """Two leads the run put in one entity."""
    sizes = result.entities.group_by("entity_id").len().filter(pl.col("len") >= 2)
    members = result.entities.filter(pl.col("entity_id") == sizes["entity_id"][0])["lead_id"]
    return members[0], members[1]


def _apart_pair(result) -> tuple[str, str]:
    """Two leads of different entities."""
    firsts = result.entities.unique("entity_id", keep="first", maintain_order=True)["lead_id"]
    return firsts[0], firsts[1]


def test_a_no_match_label_splits_what_the_model_merged(people, resolved):
    a, b = _merged_pair(resolved)
    again = dedupe(people[0], labels=_labels((a, b, "no_match")))
    assert _entity_of(again, a) != _entity_of(again, b)
    assert again.report["labels"]["cannot_link"] == 1


def test_a_match_label_joins_what_the_model_kept_apart(people, resolved):
    a, b = _apart_pair(resolved)
    again = dedupe(people[0], labels=_labels((b, a, "match")))  # either order
    assert _entity_of(again, a) == _entity_of(again, b)
    assert again.report["labels"]["must_link"] == 1


def test_unsure_labels_and_labels_about_other_records_change_nothing(people, resolved):
    a, b = _merged_pair(resolved)
    again = dedupe(people[0], labels=_labels((a, b, "unsure"), ("nobody", a, "no_match")))
    assert _entity_of(again, a) == _entity_of(again, b)
    assert again.report["labels"]["labels_about_other_records"] == 1


def _email_model(u_exact: float) -> FSModel:
    """One comparison with levels exact / else."""
    return FSModel(
        comparisons=["email"],
        m=[np.array([0.9, 0.1])],
        u=[np.array([u_exact, 1 - u_exact])],
        prior=0.01,
    )


def test_labels_correct_the_weights_of_a_level_they_contradict():
    # 'else' pairs are labelled matches every time.
    model = _email_model(0.001)
    gamma = np.array([[1]] * 30 + [[0]] * 30, dtype=np.int8)
    is_match = np.array([True] * 20 + [False] * 10 + [True] * 30)
    # At 0.94 (4.0 bits) the exact pairs (3.2 bits) sit below the cut, within
    # MAX_THRESHOLD_MOVE of it.
    learned = learn_from_labels(model, gamma, np.zeros(60), is_match, 0.94, [["exact", "else"]])
    assert learned.weight_changes["email"]["else"] > 0
    assert learned.model.weights()[0][1] > model.weights()[0][1]
    assert learned.disagreements_after < learned.disagreements_before


def test_a_few_labels_move_the_threshold_at_most_max_threshold_move():
    # Labels whose non-matches carry strong evidence put the cut that tells them apart far
    # above the old threshold (0.9996 from 50 labels once, alt-standard 0.9787 -> 0.9488). It
    # moves at most MAX_THRESHOLD_MOVE bits of log-odds from the old one.
    model = _email_model(0.00001)
    # One level for all; the pairs differ in their term-frequency evidence, and only those
    # above ~30 bits are matches: the cut that tells them apart is ~30 bits above 0.8's 2.
    gamma = np.zeros((50, 1), dtype=np.int8)
    tf = np.r_[np.linspace(5, 20, 40), np.linspace(25, 30, 10)]
    is_match = np.arange(50) >= 40
    learned = learn_from_labels(model, gamma, tf, is_match, 0.8, [["exact", "else"]])
    moved = np.log2(learned.threshold / (1 - learned.threshold)) - np.log2(0.8 / 0.2)
    assert abs(moved) <= MAX_THRESHOLD_MOVE + 1e-9
    assert learned.threshold > 0.8  # it did move, towards telling the labels apart
    # ...and the report says where the labels wanted it, and the CLI says it was held back.
    assert learned.threshold_wanted > learned.threshold
    report = {"labels": 50, "learned": learned.as_dict()}
    assert f"the labels called for {learned.threshold_wanted:.6g}" in _label_summary(report)


@pytest.mark.parametrize(("wrong_side", "moves"), [(2, False), (3, True)])
def test_labels_move_the_threshold_only_when_that_tells_enough_more_pairs_apart(
    wrong_side: int, moves: bool
):
    # 50 labels near the threshold raised it 0.75 -> 0.83 (alt-heavy) and -> 0.94
    # (alt-standard) to put one or two pairs on their side, and F1 fell below no labels.
    model = _email_model(0.00001)
    base = np.log2(0.9 / 0.00001) + np.log2(0.01 / 0.99)  # a pair's log-odds before its tf
    # 20 matches well above 0.8 (2 bits), 20 non-matches well below, and `wrong_side`
    # non-matches just above it (within MAX_THRESHOLD_MOVE): a cut above them tells every
    # labelled pair apart.
    just_above = 2.1 + 0.2 * np.arange(wrong_side)
    after = np.r_[np.linspace(6, 10, 20), np.linspace(-10, -6, 20), just_above]
    is_match = np.r_[np.ones(20, dtype=bool), np.zeros(20 + wrong_side, dtype=bool)]
    gamma = np.zeros((len(after), 1), dtype=np.int8)
    learned = learn_from_labels(model, gamma, after - base, is_match, 0.8, [["exact", "else"]])
    if not moves:
        assert learned.threshold == pytest.approx(0.8)
        assert learned.threshold_wanted is None  # not moved: nothing held back either
        assert "called for" not in _label_summary({"learned": learned.as_dict()})
    else:
        assert learned.threshold > 0.8
        assert learned.disagreements_after == 0


def test_labels_csv_errors_name_the_file_line_and_field(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("left_id,right_id,label\na,b,match\nc,d,maybe\n")
    with pytest.raises(LabelError, match=r"labels.csv, line 3, field label: 'maybe'"):
        read_labels_csv(path)
    path.write_text("left,right,label\na,b,match\n")
    with pytest.raises(LabelError, match="no column"):
        read_labels_csv(path)
    path.write_text("left_id,right_id,label\nb,a,No Match\na,b,match\nc,d,\n")
    assert read_labels_csv(path).rows() == [("a", "b", "match")]  # the last verdict wins


def test_labels_csv_saved_by_a_spreadsheet_in_a_legacy_code_page_with_semicolons(tmp_path):
    # Excel in much of Europe saves "CSV" with semicolons, in Windows-1252, no BOM.
    text = (
        "left_id;right_id;last_name_left;last_name_right;label\r\n"
        "a;b;M\u00fcller;Mueller;match\r\n"
        "c;d;Nu\u00f1ez;Nunez;no_match\r\n"
        "e;f;\u00d8deg\u00e5rd;Odegard;\r\n"
    )
    path = tmp_path / "labels.csv"
    path.write_bytes(text.encode("cp1252"))
    assert read_labels_csv(path).rows() == [("a", "b", "match"), ("c", "d", "no_match")]
    # ...or "CSV UTF-8": a byte-order mark before the header.
    path.write_bytes(text.replace(";", ",").encode("utf-8-sig"))
    assert read_labels_csv(path).height == 2


def test_review_pairs_are_near_the_threshold_unlabelled_and_not_vetoed(resolved):
    source = ReviewSource.from_result(resolved)
    chosen = choose_pairs(source, 10)
    assert 0 < chosen.height <= 10
    assert (chosen["match_probability"] > 0).all()
    first = chosen.row(0, named=True)
    again = choose_pairs(source, 10, _labels((first["right_id"], first["left_id"], "match")))
    pairs = set(zip(again["left_id"], again["right_id"], strict=True))
    assert (first["left_id"], first["right_id"]) not in pairs
    table = explained(source, chosen)
    assert {"email_left", "email_right", "email_level", "email_weight"} <= set(table.columns)


def test_cli_exports_review_pairs_and_applies_labels_from_them(people, tmp_path):
    data = tmp_path / "leads.parquet"
    people[0].write_parquet(data)
    pairs = tmp_path / "pairs.csv"
    code = main(
        ["dedupe", str(data), "--out", str(tmp_path / "e.parquet"), "--review-export",
         str(pairs), "--review-size", "5"]
    )  # fmt: skip
    assert code == 0
    with pairs.open() as fh:
        rows = list(csv.DictReader(fh))
    assert 0 < len(rows) <= 5  # up to N: pairs far from the threshold are not offered
    header = list(rows[0])
    assert header[:2] == ["left_id", "right_id"] and header[-1] == "label"
    assert {"first_name_left", "first_name_right", "match_weight"} <= set(header)
    assert all(r["label"] == "" for r in rows)
    # Fill in one verdict: the opposite of what the run decided for that pair.
    entities = dict(pl.read_parquet(tmp_path / "e.parquet").iter_rows())
    row = rows[0]
    same = entities[row["left_id"]] == entities[row["right_id"]]
    row["label"] = "no_match" if same else "match"
    with pairs.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    assert main(["dedupe", str(data), "--out", str(tmp_path / "f.parquet"), "--labels",
                 str(pairs)]) == 0  # fmt: skip
    after = dict(pl.read_parquet(tmp_path / "f.parquet").iter_rows())
    assert (after[row["left_id"]] == after[row["right_id"]]) is not same


def test_labels_are_stored_one_per_pair_the_latest_winning(sqlite_store):
    save_labels(sqlite_store, _labels(("b", "a", "match")), "ann", source="csv")
    save_labels(sqlite_store, _labels(("a", "b", "no_match")), "bob", source="terminal")
    stored = load_labels(sqlite_store)
    assert stored.select("left_id", "right_id", "label", "labelled_by").rows() == [
        ("a", "b", "no_match", "bob")
    ]
    with pytest.raises(ValueError, match="not one of"):
        save_labels(sqlite_store, _labels(("a", "c", "yes")), "ann", source="csv")


def test_a_label_given_after_a_run_is_honoured_by_the_next_incremental_one(people, resolved):
    previous = PreviousRun(
        entities=resolved.entities,
        model=model_frame(resolved, "leads", ""),
        fingerprints=resolved.work.select("lead_id", *resolved.spec.fingerprints),
        pairs=resolved.pairs,
        golden=resolved.golden,
    )
    unchanged = resolve(people[0], previous)
    assert unchanged.mode == "unchanged"
    a, b = _merged_pair(resolved)
    run = resolve(people[0], previous, labels=_labels((a, b, "no_match")))
    assert run.mode == "incremental"
    entities = dict(run.entities.iter_rows())
    assert entities[a] != entities[b]
    assert run.entities.height == resolved.entities.height
    assert run.golden["record_count"].sum() == resolved.entities.height


def test_a_model_stored_for_another_version_of_the_spec_is_not_used_incrementally(people, resolved):
    # A level added to the spec since the model was stored: scoring new leads with it would
    # read the new level's index as another level's weight (a changed transform would leave
    # the stored fingerprints stale). Models stored before the digest was are not trusted.
    said: list[str] = []
    stored = model_frame(resolved, "leads", "")
    fingerprints = resolved.work.select("lead_id", *resolved.spec.fingerprints)
    for model in (stored.with_columns(pl.lit("0" * 16).alias("engine_digest")),
                  stored.drop("engine_digest")):  # fmt: skip
        previous = PreviousRun(entities=resolved.entities, model=model, fingerprints=fingerprints)
        said.clear()
        run = resolve(people[0], previous, progress=said.append)
        assert run.mode == "full"
        assert ": the spec or the engine changed since the stored model" in said[0]
    assert resolve(people[0], PreviousRun(resolved.entities, stored, fingerprints)).mode == (
        "unchanged"
    )


def test_a_review_card_marks_a_cut_value_and_uses_a_wide_terminal(resolved):
    spec = resolved.spec
    row = {
        "left_id": "a",
        "right_id": "b",
        "match_probability": 0.9,
        "reason": "near the threshold",
        "match_weight": 3.2,
        "email_left": "hannah.schultz@northwind-analytics.com",
        "email_right": "hannah@schultz-family.net",
        "email_level": "else",
        "email_weight": -2.76,
    }
    narrow = render_pair(row, spec, 0.8, columns=80).splitlines()
    email = next(line for line in narrow if line.lstrip().startswith("email"))
    assert "hannah.schultz@northwind-ana\u2026" in email and "northwind-analytics" not in email
    assert "hannah@schultz-family.net " in email  # short enough: shown whole, unmarked
    wide = render_pair(row, spec, 0.8, columns=160).splitlines()
    assert "hannah.schultz@northwind-analytics.com" in wide[2]
    # Every line of a card is as wide as its header, whatever the terminal.
    for card in (narrow, wide):
        assert max(len(line) for line in card[1:]) == len(card[1])


def test_dedupe_review_in_the_terminal_stores_each_answer(settings, monkeypatch, capsys):
    _drop_files(settings.source_dir)
    with DagsterInstance.ephemeral() as instance:
        _run(settings, instance)
        event = instance.get_latest_materialization_event(AssetKey("lead_entities"))
        metadata = event.asset_materialization.metadata
        assert {"borderline_entities", "largest_entities", "entity_sizes"} <= set(metadata)
        assert "dagster/row_count" in metadata
        pairs = instance.get_latest_materialization_event(AssetKey("dedupe_pairs"))
        pairs_meta = pairs.asset_materialization.metadata
        assert 0 <= pairs_meta["vetoed_pairs"].value <= pairs_meta["candidate_pairs"].value
        assert "no veto ruled out" in pairs_meta["match_weights"].value

        monkeypatch.setenv("LEADS_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("LEADS_DATABASE_URL", f"sqlite:///{settings.data_dir / 'ops.sqlite'}")
        monkeypatch.setattr("sys.stdin", io.StringIO("x\nn\nq\n"))
        assert main(["dedupe", "review", "--size", "3", "--by", "tester"]) == 0
        out = capsys.readouterr().out
        assert "[1/" in out and "please answer" in out and "stored: 1 no_match" in out
        store = open_store(f"sqlite:///{settings.data_dir / 'ops.sqlite'}")
        stored = load_labels(store)
        assert stored.height == 1 and stored["labelled_by"][0] == "tester"
        a, b = stored["left_id"][0], stored["right_id"][0]

        # The same pairs as a CSV (the labelled one no longer offered), filled in, imported.
        exported = settings.data_dir / "pairs.csv"
        assert main(["dedupe", "review", "--export", str(exported), "--size", "3"]) == 0
        with exported.open() as fh:
            rows = list(csv.DictReader(fh))
        assert {a, b} not in [{r["left_id"], r["right_id"]} for r in rows]
        if rows:
            rows[0]["label"] = "unsure"
            with exported.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            assert main(["dedupe", "review", "--import", str(exported), "--by", "csv"]) == 0
            assert load_labels(store).height == 2
        capsys.readouterr()
        assert main(["dedupe", "review", "--list"]) == 0
        assert "no_match" in capsys.readouterr().out

        # The next dedupe run (no new lead) honours it: the two leads end apart.
        _run(settings, instance)
        entities = dict(_table(settings, "lead_entities").iter_rows())
        assert entities[a] != entities[b]
