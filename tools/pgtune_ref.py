#!/usr/bin/env python3
"""pgtune_ref.py - an independent reference for the config agent's PostgreSQL rules.

A second transcription of PGTune's published formulas (le0pard/pgtune at commit
7caef27c204d304623eda21f23e7d56c1ad78d36: the selectors of
src/features/configuration/configurationSlice.js, formatValue of
src/common/components/configurationView/index.jsx), written apart from the C++
(agents/config/pgtune.cpp) and on purpose in PGTune's own style: double-precision
arithmetic with math.floor/math.ceil, OS Linux and database size "mid_ram" (PGTune's
defaults). It prints the settings PGTune shows for a grid of facts as JSON.

Regenerate the golden file the C++ test reads:
    python3 tools/pgtune_ref.py > tests/fixtures/pgtune/grid.json
"""
import json
import math

COMMIT = "7caef27c204d304623eda21f23e7d56c1ad78d36"
KB, MB, GB, TB = 1024, 1048576, 1073741824, 1099511627776


def fmt(kb):
    """formatValue: the largest of GB/MB that divides the kB value, else kB."""
    if kb % (GB / KB) == 0:
        return "%dGB" % math.floor(kb / (GB / KB))
    if kb % (MB / KB) == 0:
        return "%dMB" % math.floor(kb / (MB / KB))
    return "%dkB" % kb


def pgtune(version, db_type, ram_bytes, cpus, connections, disk):
    """The lines PGTune prints, in its order, as (name, value string); cpus/connections None = empty."""
    total_kb = ram_bytes / KB
    max_conn = connections if connections else {"web": 200, "oltp": 300, "dw": 40, "desktop": 20, "mixed": 100}[db_type]

    if db_type == "desktop":
        shared = math.floor(total_kb / 16)
    else:
        shared = math.floor(total_kb / 4)

    huge = "try" if shared >= (2 * GB) / KB else "off"

    if db_type == "desktop":
        ecs = math.floor(total_kb / 4)
    else:
        ecs = math.floor((total_kb * 3) / 4)

    mwm = math.floor(total_kb / 8) if db_type == "dw" else math.floor(total_kb / 16)
    limit = (8 * GB) / KB
    if mwm >= limit:
        mwm = limit

    min_wal = {"web": 1024, "oltp": 2048, "dw": 4096, "desktop": 100, "mixed": 1024}[db_type] * MB / KB
    max_wal = {"web": 4096, "oltp": 8192, "dw": 16384, "desktop": 2048, "mixed": 4096}[db_type] * MB / KB

    wal_buf = math.floor((3 * shared) / 100)
    if wal_buf > (16 * MB) / KB:
        wal_buf = (16 * MB) / KB
    if (14 * MB) / KB < wal_buf < (16 * MB) / KB:
        wal_buf = (16 * MB) / KB
    if wal_buf < 32:
        wal_buf = 32

    stats = 500 if db_type == "dw" else 100

    # database size mid_ram
    if disk == "hdd":
        rpc = "4"
    elif db_type == "dw":
        rpc = "4"
    else:
        rpc = "1.1"

    eio = {"hdd": 2, "ssd": 200, "san": 300}[disk]

    parallel = []
    if cpus and cpus >= 4:
        per_gather = math.ceil(cpus / 2)
        if db_type != "dw" and per_gather > 4:
            per_gather = 4
        parallel = [("max_worker_processes", cpus), ("max_parallel_workers_per_gather", per_gather)]
        if version >= 10:
            parallel.append(("max_parallel_workers", cpus))
        if version >= 11:
            pmw = math.ceil(cpus / 2)
            if pmw > 4:
                pmw = 4
            parallel.append(("max_parallel_maintenance_workers", pmw))

    workers_for_work_mem = parallel[0][1] if parallel else 8
    wm = (total_kb - shared) / ((max_conn + workers_for_work_mem) * 3)
    wm = {"web": math.floor(wm), "oltp": math.floor(wm), "dw": math.floor(wm / 2),
          "desktop": math.floor(wm / 6), "mixed": math.floor(wm / 2)}[db_type]
    if wm < (4 * MB) / KB:
        wm = (4 * MB) / KB

    jit = "off" if version >= 12 and db_type in ("web", "oltp", "mixed") else None
    walc = "lz4" if version >= 15 else ("on" if version >= 10 else None)
    avw = None
    if cpus:
        if cpus >= 32:
            avw = 5
        elif cpus >= 16:
            avw = 4
    avwm = (2 * GB) / KB if mwm >= (2 * GB) / KB else None
    io_method = "io_uring" if version >= 18 else None

    lines = [
        ("max_connections", max_conn),
        ("shared_buffers", fmt(shared)),
        ("effective_cache_size", fmt(ecs)),
        ("maintenance_work_mem", fmt(mwm)),
        ("checkpoint_completion_target", "0.9"),
        ("wal_buffers", fmt(wal_buf)),
        ("default_statistics_target", stats),
        ("random_page_cost", rpc),
        ("effective_io_concurrency", eio),
        ("work_mem", fmt(wm)),
        ("huge_pages", huge),
        ("jit", jit),
        ("wal_compression", walc),
        ("autovacuum_max_workers", avw),
        ("autovacuum_work_mem", fmt(avwm) if avwm else None),
        ("io_method", io_method),
        ("io_workers", None),  # only for io_method worker (not Linux)
        ("min_wal_size", fmt(min_wal)),
        ("max_wal_size", fmt(max_wal)),
    ] + parallel
    if db_type == "desktop":
        lines += [("wal_level", "minimal"), ("max_wal_senders", "0")]
    return [(k, str(v)) for k, v in lines if v]


def grid():
    """>= 100 combinations: every version x type x disk x connection choice, each with two
    (RAM, CPUs) pairs taken in turn from a list that covers 2..128 GB and 1..32 CPUs or none."""
    pairs = [(2, 2), (3, 4), (4, 8), (6, 3), (8, 4), (12, 6), (16, 16), (24, 12),
             (32, 32), (48, 24), (64, 8), (128, 32), (5, 5), (100, 2), (101, 20), (7, 1),
             (10, None), (20, None)]  # None: CPUs left empty in the form
    cases = []
    k = 0
    for version in (13, 16, 18):
        for db_type in ("web", "oltp", "dw", "desktop", "mixed"):
            for disk in ("ssd", "hdd", "san"):
                for connections in (None, 100, 1000):
                    for j in range(2):
                        ram_gb, cpus = pairs[(2 * k + j) % len(pairs)]
                        cases.append({
                            "facts": {"version": version, "type": db_type, "ram": "%dGB" % ram_gb,
                                      "cpus": cpus, "connections": connections, "disk": disk},
                            "settings": [list(x) for x in pgtune(version, db_type, ram_gb * GB, cpus, connections, disk)],
                        })
                    k += 1
    return cases


if __name__ == "__main__":
    about = ("PGTune's output for a grid of facts, computed by tools/pgtune_ref.py from le0pard/pgtune@" + COMMIT +
             " (OS linux, db size mid_ram). Regenerate: python3 tools/pgtune_ref.py > tests/fixtures/pgtune/grid.json")
    # One case per line, so a regenerated file diffs case by case.
    print('{"about": %s,\n "cases": [\n%s\n]}' % (json.dumps(about), ",\n".join(json.dumps(c) for c in grid())))
