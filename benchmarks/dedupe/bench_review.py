"""The review loop played with the truth as the reviewer: after each run the loop picks the
pairs most worth a label (pipeline.dedupe.review.choose_pairs, as `--review-export` does),
the truth labels them, and the next run takes every label so far; cluster F1 per round.

    python benchmarks/dedupe/bench_review.py --dataset leads_100000_alt-heavy --rounds 50,100,200

Labels are cumulative (50, then 50 more to 100, then 100 more to 200). Appends one line per
dataset to review_results.jsonl.

`--reviewer largest` plays a person who picks their own pairs instead: the pairs near the
threshold whose verdict decides the most record pairs (joining two large entities, or
splitting one) first. A biased sample: what labels must not let spoil the whole run.
"""

from __future__ import annotations

import argparse
import json
import time

import polars as pl

from common import HERE, TRUE_COL, add_import_paths, dataset_by_name, say
from metrics import cluster_pair_metrics

add_import_paths()

from pipeline.dedupe import dedupe  # noqa: E402
from pipeline.dedupe.model import log2_odds  # noqa: E402
from pipeline.dedupe.review import MAX_MARGIN, ReviewSource, choose_pairs, unlabelled  # noqa: E402


def truth_labels(chosen: pl.DataFrame, truth: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """match / no_match for each chosen pair, from the true entities."""
    ids = truth.select(pl.col(id_col).cast(pl.String), TRUE_COL)
    return (
        chosen.select("left_id", "right_id")
        .join(ids.rename({id_col: "left_id", TRUE_COL: "t_l"}), on="left_id")
        .join(ids.rename({id_col: "right_id", TRUE_COL: "t_r"}), on="right_id")
        .select(
            "left_id",
            "right_id",
            pl.when(pl.col("t_l") == pl.col("t_r"))
            .then(pl.lit("match"))
            .otherwise(pl.lit("no_match"))
            .alias("label"),
        )
    )


def largest_first(source: ReviewSource, size: int, labelled: pl.DataFrame) -> pl.DataFrame:
    """Up to `size` unlabelled pairs within MAX_MARGIN of the threshold (not vetoed), those
    whose verdict decides the most record pairs first: the product of the two entities'
    sizes, or an entity's size less one for a pair inside it, traded against the margin
    (one bit of margin per doubling)."""
    id_col = source.spec.id_column
    entity = source.entities.select(pl.col(id_col).cast(pl.String).alias("id"), "entity_id")
    entity = entity.join(entity.group_by("entity_id").len("size"), on="entity_id")
    pairs = (
        source.pairs.filter(pl.col("match_probability") > 0)
        .select(
            pl.col(f"{id_col}_l").cast(pl.String).alias("left_id"),
            pl.col(f"{id_col}_r").cast(pl.String).alias("right_id"),
            (pl.col("match_weight") + log2_odds(source.prior) - log2_odds(source.threshold))
            .abs()
            .alias("margin"),
        )
        .filter(pl.col("margin") <= MAX_MARGIN)
    )
    pairs = unlabelled(pairs, labelled)
    for column, tag in (("left_id", "l"), ("right_id", "r")):
        pairs = pairs.join(
            entity.rename({"id": column, "entity_id": f"e_{tag}", "size": f"s_{tag}"}),
            on=column,
            how="left",
        )
    decided = (
        pl.when(pl.col("e_l") == pl.col("e_r"))
        .then(pl.col("s_l") - 1)
        .otherwise(pl.col("s_l") * pl.col("s_r"))
    )
    return (
        pairs.with_columns((pl.col("margin") - decided.cast(pl.Float64).log(2)).alias("rank"))
        .sort("rank", "left_id", "right_id")
        .head(size)
        .select("left_id", "right_id")
    )


def play(dataset_name: str, rounds: list[int], reviewer: str = "loop") -> dict:
    dataset = dataset_by_name(dataset_name)
    frame = pl.read_parquet(dataset.path)
    truth = frame.select(dataset.id_col, TRUE_COL)
    source = frame.drop(TRUE_COL)
    labels = pl.DataFrame(schema={"left_id": pl.String, "right_id": pl.String, "label": pl.String})
    out = {"dataset": dataset.name, "reviewer": reviewer, "rounds": []}
    targets = [0, *rounds]
    for k in range(len(targets)):
        start = time.perf_counter()
        result = dedupe(source, spec=dataset.spec, labels=labels if labels.height else None)
        wall = time.perf_counter() - start
        m = cluster_pair_metrics(result.entities, truth, id_col=dataset.id_col)
        learned = result.report.get("labels", {}).get("learned", {})
        out["rounds"].append(
            {
                "labels": labels.height,
                "matches": int((labels["label"] == "match").sum()),
                "f1": round(m.f1, 4),
                "precision": round(m.precision, 4),
                "recall": round(m.recall, 4),
                "threshold": result.threshold,
                "wall_s": round(wall, 2),
                "disagreements": [
                    learned.get("disagreements_before"),
                    learned.get("disagreements_after"),
                ],
            }
        )
        say(
            f"{dataset.name}: {labels.height:>4} labels -> F1 {m.f1:.4f} "
            f"(P {m.precision:.4f} R {m.recall:.4f}), threshold {result.threshold:.6g}"
        )
        if k + 1 < len(targets):
            review = ReviewSource.from_result(result)
            wanted = targets[k + 1] - labels.height
            chosen = (
                choose_pairs(review, wanted, labels)
                if reviewer == "loop"
                else largest_first(review, wanted, labels)
            )
            labels = pl.concat([labels, truth_labels(chosen, truth, dataset.id_col)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", required=True)
    parser.add_argument("--rounds", default="50,100,200")
    parser.add_argument(
        "--reviewer",
        choices=["loop", "largest"],
        default="loop",
        help="who picks the pairs: the review loop, or a person checking the largest merges",
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    rounds = [int(r) for r in args.rounds.split(",")]
    results = [play(name, rounds, args.reviewer) for name in args.dataset]
    print("\n| data | " + " | ".join(f"{r} labels" for r in [0, *rounds]) + " |")
    print("|---|" + "---:|" * (len(rounds) + 1))
    for res in results:
        cells = [f"{r['f1']:.4f}" for r in res["rounds"]]
        print(f"| {res['dataset']} | " + " | ".join(cells) + " |")
    if not args.no_record:
        with (HERE / "review_results.jsonl").open("a") as fh:
            for res in results:
                fh.write(
                    json.dumps({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"), **res}) + "\n"
                )


if __name__ == "__main__":
    main()
