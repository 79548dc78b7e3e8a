"""Baseline for benches/identity.rs: splink (DuckDB backend) on the same customers.

Reads the CSV the Rust side wrote: one row per stored customer with crm's standardised
comparison keys (so both sides see the same clean values and the comparison is of the
matching, not of the cleaning) and the true identity (`truth`, the generator's external id
up to the `~`). Builds a splink model comparable to crm's (the same six fields with
similar levels, the same blocking keys), trains it as splink's tutorials do (the prior
from deterministic rules, u by random sampling, m by EM on two blocking rules), predicts
and clusters at the threshold given, and prints one JSON object with the times, the
pairwise precision, recall and F1 of the clusters, and the counts. Loading the CSV into
DuckDB is not timed.

    python identity_splink.py customers.csv 0.95 10000000
"""

import json
import logging
import sys
import time
import warnings

import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def pairs_in_clusters(table: str, cluster: str) -> str:
    """SQL for the pairs (a < b) of unique ids that share `cluster` in `table`."""
    return (
        f"SELECT l.unique_id AS a, r.unique_id AS b FROM {table} l JOIN {table} r "
        f"ON l.{cluster} = r.{cluster} AND l.unique_id < r.unique_id"
    )


def main(path: str, threshold: float, u_pairs: float) -> None:
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE customers AS SELECT * FROM read_csv('{path}', header=true, all_varchar=true)"
    ).fetchall()
    con.execute("ALTER TABLE customers ALTER unique_id TYPE BIGINT").fetchall()
    rows = con.execute("SELECT count(*) FROM customers").fetchone()[0]
    db_api = DuckDBAPI(con)
    df = db_api.register("customers")

    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "surname"),
            cl.EmailComparison("email"),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("street"),
            cl.JaroWinklerAtThresholds("company", [0.9]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email"),
            block_on("phone"),
            block_on("name_key", "street"),
            block_on("first_name", "dob"),
            block_on("surname", "dob"),
            block_on("first_name", "postcode"),
            block_on("surname", "postcode"),
            block_on("company", "postcode"),
            block_on("dob", "postcode"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )

    t0 = time.perf_counter()
    linker = Linker(df, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("phone")], recall=0.6
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    t_train = time.perf_counter() - t0

    t0 = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    t_predict = time.perf_counter() - t0

    # Scoring is not timed.
    found_pairs = con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchone()[0]
    con.execute(f"CREATE TABLE found AS {pairs_in_clusters(clusters.physical_name, 'cluster_id')}").fetchall()
    con.execute(f"CREATE TABLE truth AS {pairs_in_clusters('customers', 'truth')}").fetchall()
    tp = con.execute("SELECT count(*) FROM found JOIN truth USING (a, b)").fetchone()[0]
    n_found = con.execute("SELECT count(*) FROM found").fetchone()[0]
    n_true = con.execute("SELECT count(*) FROM truth").fetchone()[0]
    precision = tp / n_found if n_found else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(
        json.dumps(
            {
                "rows": int(rows),
                "train_s": t_train,
                "predict_cluster_s": t_predict,
                "pairs_above_threshold": int(found_pairs),
                "cluster_pairs": int(n_found),
                "true_pairs": int(n_true),
                "true_positives": int(tp),
                "precision": precision,
                "recall": recall,
                "f1": f1,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))
