"""Issue 7's slow case, the register search for a common word, measured on three designs
(decision 0012). On demand, never a timed test; figures in docs/benchmarks.md.

    .venv/bin/python bench/search_designs.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/reg_search_bench

The database named in the URL is dropped and created again. It gets a scratch table shaped like
the demo register's search: ``--rows`` assets of one organization, a quarter of them torque
wrenches keyed ``TW-...`` (after every other key, as in the demo register), each with its search
text (key, name, description, serial number, upper case, one per line). The query is the
register's first page of a search: the first 51 ids in key order whose text contains WRENCH.

1. **walk**: what the register does, the key order walked through a covering index that holds
   the search text, filtering as it goes;
2. **trigram**: the trigram index finds every match, which is then sorted by key (top-N). This
   table is narrow (about 200 bytes a row), so this is the design's best case: the register's
   asset rows are about 1.7 kB;
3. **word postings**: a read model of (organization, word, key, id), one row per distinct word of
   each asset's text, with a trigram index on the distinct words: the words containing the search
   are found first, then each word's postings are read in key order. Its size and the number of
   words a short search matches are reported too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import psycopg

QUERY = "SELECT id FROM s WHERE org = 'o' AND txt LIKE '%WRENCH%' ORDER BY k, id LIMIT 51"
POSTINGS_QUERY = """
    SELECT m.id FROM (SELECT word FROM v WHERE org = 'o' AND word LIKE '%WRENCH%') vw
    CROSS JOIN LATERAL (
        SELECT k, id FROM w WHERE w.org = 'o' AND w.word = vw.word ORDER BY k, id LIMIT 51
    ) m
    ORDER BY m.k, m.id LIMIT 51
"""
LOAD = """
    INSERT INTO s
    SELECT 'o', 'asset_' || md5(g::text), kind || lpad(g::text, 7, '0'),
        upper(kind || lpad(g::text, 7, '0') || E'\\n' || name || E'\\n'
            || 'Kept in hangar ' || (g %% 12) || ', bay ' || (g %% 40) || ', for line maintenance'
            || E'\\n' || 'SN' || left(md5(g::text || 'serial'), 10))
    FROM generate_series(1, %(rows)s) g,
    LATERAL (SELECT CASE WHEN g %% 4 = 0 THEN 'TW-'
                 ELSE (ARRAY['AV-', 'CAL-', 'GSE-', 'IT-', 'MED-', 'PT-'])[1 + g %% 6] END AS kind,
             CASE WHEN g %% 4 = 0 THEN 'Torque wrench ' || (g %% 50) || '-' || (g %% 300) || ' Nm'
                 ELSE (ARRAY['Multimeter', 'Pressure gauge', 'Borescope', 'Laptop',
                             'Ground power unit', 'Defibrillator'])[1 + g %% 6]
                      || ' model ' || (g %% 97) END AS name) n
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", required=True, help="PostgreSQL; dropped and created again")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--samples", type=int, default=15)
    args = p.parse_args()
    name = args.database_url.rsplit("/", 1)[1]
    with psycopg.connect(args.database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    results: dict[str, Any] = {"rows": args.rows}
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("CREATE TABLE s (org text, id text, k text, txt text)")
        results["load seconds"] = _timed(conn, LOAD, {"rows": args.rows})
        conn.execute("CREATE INDEX s_cover ON s (org, k, id) INCLUDE (txt)")
        conn.execute("CREATE INDEX s_trgm ON s USING gin (txt gin_trgm_ops)")
        conn.execute("VACUUM ANALYZE s")
        results["matches"] = conn.execute(
            "SELECT count(*) FROM s WHERE txt LIKE '%WRENCH%'"
        ).fetchone()[0]  # type: ignore[index]
        conn.execute("SET max_parallel_workers_per_gather = 0")
        conn.execute("SET enable_bitmapscan = off")
        results["walk ms"] = _median(conn, QUERY, args.samples)
        conn.execute("RESET enable_bitmapscan")
        conn.execute("SET enable_indexscan = off")
        conn.execute("SET enable_indexonlyscan = off")
        results["trigram ms"] = _median(conn, QUERY, args.samples)
        conn.execute("RESET enable_indexscan")
        conn.execute("RESET enable_indexonlyscan")
        results["postings build seconds"] = _postings(conn)
        results["postings ms"] = _median(conn, POSTINGS_QUERY, args.samples)
        results["postings rows"], results["postings MiB"] = conn.execute(
            "SELECT count(*), (pg_total_relation_size('w') + pg_total_relation_size('v'))"
            " / 1048576 FROM w"
        ).fetchone()  # type: ignore[misc]
        results["assets table MiB"] = conn.execute(
            "SELECT pg_total_relation_size('s') / 1048576"
        ).fetchone()[0]  # type: ignore[index]
        results["words matching '10'"] = conn.execute(
            "SELECT count(*) FROM v WHERE word LIKE '%10%'"
        ).fetchone()[0]  # type: ignore[index]
        same = [r[0] for r in conn.execute(QUERY).fetchall()] == [
            r[0] for r in conn.execute(POSTINGS_QUERY).fetchall()
        ]
        results["postings give the same page"] = same
    print(json.dumps(results, indent=2))
    return 0


def _postings(conn: psycopg.Connection[Any]) -> float:
    started = time.monotonic()
    conn.execute("CREATE TABLE w (org text, word text, k text, id text)")
    conn.execute(
        "INSERT INTO w SELECT DISTINCT org, t, k, id"
        " FROM s, regexp_split_to_table(txt, '[^A-Z0-9]+') t WHERE t <> ''"
    )
    conn.execute("CREATE INDEX w_words ON w (org, word, k, id)")
    conn.execute("CREATE TABLE v AS SELECT DISTINCT org, word FROM w")
    conn.execute("CREATE INDEX v_trgm ON v USING gin (word gin_trgm_ops)")
    conn.execute("VACUUM ANALYZE w")
    conn.execute("VACUUM ANALYZE v")
    return round(time.monotonic() - started, 1)


def _timed(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> float:
    started = time.monotonic()
    conn.execute(sql, params)  # type: ignore[arg-type]
    return round(time.monotonic() - started, 1)


def _median(conn: psycopg.Connection[Any], sql: str, samples: int) -> float:
    """The statement's median time over ``samples`` runs, after three untimed ones."""
    times = []
    for n in range(samples + 3):
        started = time.perf_counter()
        conn.execute(sql).fetchall()  # type: ignore[arg-type]
        if n >= 3:
            times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


if __name__ == "__main__":
    raise SystemExit(main())
