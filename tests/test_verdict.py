"""The verdict logic on constructed results: it must never claim more than the data supports."""

from servebench.report.verdict import blockers, compare_intervals, verdict


def interval(median, low, high):
    return {"median": median, "ci95": {"mean": median, "low": low, "high": high, "n": 3}}


def target(model, target_name, rps, p99, warnings=()):
    server, protocol = target_name.split("-")
    return {
        "model": model,
        "target": target_name,
        "server": server,
        "protocol": protocol,
        "summary": {"achieved_rps": rps, "latency_ms_p99": p99},
        "repetitions": [{"resources": {"server_rss_mb_max": 500.0}}] * 3,
        "warnings": list(warnings),
    }


def results(targets, implementations=None, allowed=True):
    """A run that passes every guard unless a test breaks one."""
    return {
        "implementations": implementations
        or {"torchserve": "torchserve 0.12.0", "tfserving": "tensorflow_model_server 2.20.0"},
        "verdict_allowed": allowed,
        "calibration": {"rest": {"rps": 11000}, "grpc": {"rps": 8000}},
        "parity": {"endpoints": [{"model": "mlp", "candidate": "tfserving-rest", "batch": 1,
                                  "passed": True}]},
        "targets": targets,
    }  # fmt: skip


def clear_pair():
    """TorchServe clearly ahead on throughput and p99, with no errors."""
    return [
        target("mlp", "torchserve-rest", interval(900, 880, 920), interval(5, 4, 6)),
        target("mlp", "tfserving-rest", interval(600, 590, 610), interval(9, 8, 10)),
    ]


def test_clear_winner_is_named_with_its_margin():
    finding = compare_intervals(
        "throughput",
        "mlp, REST",
        {"torchserve": interval(900, 880, 920), "tfserving": interval(600, 590, 610)},
        True,
        "req/s",
    )
    assert finding.winner == "torchserve"
    assert "1.50x" in finding.text


def test_lower_latency_wins_when_lower_is_better():
    finding = compare_intervals(
        "tail latency (p99)",
        "mlp, REST",
        {"torchserve": interval(12, 11, 13), "tfserving": interval(4, 3.5, 4.5)},
        False,
        "ms",
    )
    assert finding.winner == "tfserving"
    assert "3.00x" in finding.text


def test_overlapping_intervals_mean_no_significant_difference():
    finding = compare_intervals(
        "throughput",
        "mlp, REST",
        {"torchserve": interval(900, 800, 1000), "tfserving": interval(950, 900, 1000)},
        True,
        "req/s",
    )
    assert finding.winner is None
    assert "no significant difference" in finding.text


def test_real_servers_get_a_verdict():
    run = results(clear_pair())
    reasons, rows = verdict(run, None, None)
    assert reasons == []
    winners = {row.criterion: row.winner for row in rows}
    assert winners["throughput"] == "torchserve" and winners["tail latency (p99)"] == "torchserve"


def test_the_emulator_blocks_every_winner():
    run = results(
        clear_pair(),
        {"torchserve": "torchserve 0.12.0", "tfserving": "tfserving-emulator"},
        allowed=False,
    )
    reasons, rows = verdict(run, None, None)
    assert any("emulator" in reason for reason in reasons)
    assert rows and all(row.winner is None for row in rows)
    assert all("TorchServe" not in row.text and "TF Serving" not in row.text for row in rows)


def test_a_load_generator_near_its_ceiling_blocks_every_winner():
    warning = "9000 req/s is above half the load generator's rest ceiling (11000 req/s)"
    run = results(
        [
            target(
                "mlp", "torchserve-rest", interval(9000, 8800, 9200), interval(5, 4, 6), [warning]
            ),
            target("mlp", "tfserving-rest", interval(600, 590, 610), interval(9, 8, 10)),
        ]
    )
    assert any("ceiling" in reason for reason in blockers(run))
    _, rows = verdict(run, None, None)
    assert all(row.winner is None for row in rows)


def test_single_measurements_need_a_clear_margin():
    close = compare_intervals(
        "time to ready",
        "all",
        {"torchserve": {"median": 5.0, "ci95": None}, "tfserving": {"median": 4.5, "ci95": None}},
        False,
        "s",
    )
    assert close.winner is None
    far = compare_intervals(
        "time to ready",
        "all",
        {"torchserve": {"median": 9.0, "ci95": None}, "tfserving": {"median": 4.0, "ci95": None}},
        False,
        "s",
    )
    assert far.winner == "tfserving" and "one measurement" in far.text


def test_a_difference_under_five_percent_is_no_winner_however_narrow_the_intervals():
    finding = compare_intervals(
        "memory under load",
        "mlp, REST",
        {"torchserve": interval(500, 499, 501), "tfserving": interval(510, 509, 511)},
        False,
        "MB",
    )
    assert finding.winner is None
    assert "no meaningful difference" in finding.text and "500" in finding.text


def test_a_server_failing_requests_cannot_win_on_speed():
    run = results(clear_pair())
    run["targets"][0]["summary"]["error_ratio"] = {"median": 0.4, "max": 0.4}
    _, rows = verdict(run, None, None)
    speed = [r for r in rows if r.criterion in ("throughput", "tail latency (p99)")]
    assert speed and all(r.winner is None for r in speed)
    assert all("TorchServe failed 40.0%" in r.text for r in speed)


def test_failed_endpoint_parity_blocks_every_winner():
    run = results(clear_pair())
    run["parity"]["endpoints"][0]["passed"] = False
    reasons, rows = verdict(run, None, None)
    assert any("endpoint parity failed" in reason for reason in reasons)
    assert all(row.winner is None for row in rows)


def test_an_unmeasured_load_generator_blocks_every_winner():
    run = results(clear_pair())
    del run["calibration"]
    reasons, rows = verdict(run, None, None)
    assert any("never measured" in reason for reason in reasons)
    assert all(row.winner is None for row in rows)


def test_one_start_per_server_names_no_time_to_ready_winner():
    stack = {
        "backends": {"torchserve": {"ready_seconds": 9.0}, "tfserving": {"ready_seconds": 4.0}}
    }
    _, rows = verdict(results(clear_pair()), stack, None)
    (ready,) = [row for row in rows if row.criterion == "time to ready"]
    assert ready.winner is None and "no winner without repeated cold starts" in ready.text
    unmeasured = {"backends": {"torchserve": {"ready_seconds": None}, "tfserving": {}}}
    (ready,) = [
        r
        for r in verdict(results(clear_pair()), unmeasured, None)[1]
        if r.criterion == "time to ready"
    ]
    assert ready.winner is None and "not measured" in ready.text


def test_every_rest_claim_names_the_encodings_it_compared():
    run = results(clear_pair())
    run["targets"][0]["encoding"], run["targets"][1]["encoding"] = "raw float32", "JSON (columnar)"
    _, rows = verdict(run, None, None)
    (throughput,) = [row for row in rows if row.criterion == "throughput"]
    assert throughput.scope == "mlp, REST (TorchServe raw float32, TF Serving JSON (columnar))"
    run["targets"][0]["encoding"] = "JSON (columnar)"
    (throughput,) = [row for row in verdict(run, None, None)[1] if row.criterion == "throughput"]
    assert throughput.scope == "mlp, REST (JSON (columnar), both)"


def aa_results(arm_a_rps, arm_b_rps):
    """An A/A run of torchserve-rest on a machine that lacked a calibration."""
    arms = []
    for arm, rps in (("A", arm_a_rps), ("B", arm_b_rps)):
        entry = target("mlp", "torchserve-rest", rps, interval(5, 4, 6))
        arms.append({**entry, "arm": arm, "encoding": "raw float32"})
    run = results(arms, implementations={"torchserve": "torchserve 0.12.0"})
    return {**run, "calibration": None, "aa": {"target": "torchserve-rest", "arms": ["A", "B"]}}


def test_an_aa_run_compares_its_arms_and_shows_the_rules_findings():
    reasons, rows = verdict(aa_results(interval(900, 880, 920), interval(905, 885, 925)), {}, None)
    assert reasons  # no calibration: a normal run would withhold, an A/A run still shows
    assert {row.criterion for row in rows} == {
        "throughput", "tail latency (p99)", "serving efficiency", "memory under load"
    }  # fmt: skip
    assert all("A/A of torchserve-rest" in row.scope for row in rows)
    assert not [row for row in rows if row.winner]


def test_arms_that_differ_clearly_are_a_named_false_positive():
    _, rows = verdict(aa_results(interval(900, 880, 920), interval(600, 590, 610)), {}, None)
    (throughput,) = [row for row in rows if row.criterion == "throughput"]
    assert throughput.winner == "A"
    assert throughput.text.startswith("arm A by 1.50x")


def test_knee_probes_near_the_ceiling_block_every_winner():
    run = results(clear_pair())
    run["knee"] = [{"model": "mlp", "target": "tfserving-rest", "probes": [],
                    "warnings": ["probe at 2000.0/s: 2000 req/s offered is above half the load "
                                 "generator's rest ceiling (3000 req/s)"]}]  # fmt: skip
    reasons, rows = verdict(run, None, None)
    assert any("mlp tfserving-rest (knee probes)" in reason for reason in reasons), reasons
    assert not [row for row in rows if row.winner]


def test_efficiency_ranks_only_where_its_interval_with_the_limit_allows():
    pair = clear_pair()
    pair[0] |= {"serving_efficiency": 0.8, "serving_efficiency_ci95": {"low": 0.6, "high": 1.0}}
    pair[1] |= {"serving_efficiency": 0.6, "serving_efficiency_ci95": {"low": 0.5, "high": 0.7}}
    _, rows = verdict(results(pair), None, None)
    (efficiency,) = [row for row in rows if row.criterion == "serving efficiency"]
    assert efficiency.winner is None and "intervals overlap" in efficiency.text
    pair[0]["serving_efficiency_ci95"] = {"low": 0.75, "high": 0.85}
    _, rows = verdict(results(pair), None, None)
    (efficiency,) = [row for row in rows if row.criterion == "serving efficiency"]
    assert efficiency.winner == "torchserve"


def test_efficiency_over_a_limit_without_an_interval_is_not_judged_as_one_measurement():
    # Windows with intervals on both sides, but the in-process limit's interval reached zero
    # (bench stored no ratio interval): 1.42x apart must not be called by the 25% margin.
    pair = clear_pair()
    pair[0] |= {"serving_efficiency": 0.71, "serving_efficiency_ci95": None}
    pair[1] |= {"serving_efficiency": 0.50, "serving_efficiency_ci95": None}
    _, rows = verdict(results(pair), None, None)
    (efficiency,) = [row for row in rows if row.criterion == "serving efficiency"]
    assert efficiency.winner is None and "intervals overlap" in efficiency.text, efficiency


def cold_starts(torchserve_s, tfserving_s):
    def server(values):
        mean = sum(values) / len(values)
        return {"starts": [{"ready_s": v} for v in values],
                "ready_s": {"median": sorted(values)[len(values) // 2],
                            "ci95": {"low": mean - 0.5, "high": mean + 0.5}}}  # fmt: skip

    return {"servers": {"torchserve": server(torchserve_s), "tfserving": server(tfserving_s)}}


def test_time_to_ready_is_compared_from_three_starts_alone():
    run = results(clear_pair()) | {"cold_starts": cold_starts([15, 15.2, 14.9], [4, 4.1, 3.9])}
    _, rows = verdict(run, None, None)
    (ready,) = [row for row in rows if row.criterion == "time to ready"]
    assert ready.winner == "tfserving" and "cold start alone" in ready.scope
    two = results(clear_pair()) | {"cold_starts": cold_starts([15, 15.2], [4, 4.1])}
    _, rows = verdict(two, None, None)
    (ready,) = [row for row in rows if row.criterion == "time to ready"]
    assert ready.winner is None and "servebench cold-start" in ready.text


def rollout_entry(target_name, failed, requests, all_new_s):
    entry = target("mlp", target_name, interval(50, 49, 51), interval(9, 8, 10))
    steps = [
        {"label": label, "errors": {"HTTP 503": failed // 2}, "all_new_s": all_new_s}
        for label in ("rollout", "rollback")
    ]
    entry["rollout"] = {"steps": steps, "answers": {"requests": requests}}
    return entry


def test_a_rollout_is_judged_on_its_errors_and_time_not_on_speed():
    run = results([rollout_entry("torchserve-rest", 60, 1000, 4.5),
                   rollout_entry("tfserving-rest", 0, 1000, 0.5)])  # fmt: skip
    run["scenario"] = "rollout"
    reasons, rows = verdict(run, None, None)
    assert not reasons
    by_criterion = {row.criterion: row for row in rows}
    assert set(by_criterion) == {
        "failed requests during rollout and rollback",
        "time until only the new version answers",
        "old-version answers after the switch",
    }
    errors = by_criterion["failed requests during rollout and rollback"]
    assert errors.winner == "tfserving" and "6.00% vs 0.00%" in errors.text
    assert by_criterion["time until only the new version answers"].winner == "tfserving"


def test_a_few_rollout_errors_in_one_run_each_name_no_winner():
    run = results([rollout_entry("torchserve-rest", 4, 1000, 1.0),
                   rollout_entry("tfserving-rest", 0, 1000, 1.1)])  # fmt: skip
    run["scenario"] = "rollout"
    _, rows = verdict(run, None, None)
    assert [row.winner for row in rows] == [None, None, None]  # 0.4 points; 10% in one run each


def rollout_rounds(target_name, failed_counts, all_new_s):
    """An entry with one run per failed count, 1000 requests each."""
    runs = [rollout_entry(target_name, failed, 1000, seconds)
            for failed, seconds in zip(failed_counts, all_new_s, strict=True)]  # fmt: skip
    return {**runs[0], "rounds": [{"rollout": run["rollout"]} for run in runs]}


def rollout_findings(torchserve: dict, tfserving: dict) -> dict:
    """The verdict's findings on a rollout run of the two entries, by criterion."""
    run = results([torchserve, tfserving])
    run["scenario"] = "rollout"
    _, rows = verdict(run, None, None)
    return {row.criterion: row for row in rows}


def test_rollout_runs_are_judged_on_their_medians_and_intervals():
    by_criterion = rollout_findings(
        rollout_rounds("torchserve-rest", [60, 50, 70], [4.5, 4.0, 5.0]),
        rollout_rounds("tfserving-rest", [0, 0, 2], [0.5, 0.6, 0.5]),
    )
    errors = by_criterion["failed requests during rollout and rollback"]
    assert errors.winner == "tfserving", errors
    assert "6.00% vs 0.00%" in errors.text and "3 runs each, medians" in errors.text
    seconds = by_criterion["time until only the new version answers"]
    assert seconds.winner == "tfserving" and "(3 runs each)" in seconds.text, seconds


def test_one_bad_rollout_run_of_three_names_no_winner():
    # Medians 1.6% vs 0%: past the error budget, but one run of 3 carries it; the intervals
    # of three runs overlap, so no winner.
    by_criterion = rollout_findings(
        rollout_rounds("torchserve-rest", [6, 30, 16], [1.0, 1.1, 1.0]),
        rollout_rounds("tfserving-rest", [0, 0, 0], [1.0, 1.05, 1.1]),
    )
    errors = by_criterion["failed requests during rollout and rollback"]
    assert errors.winner is None and "no significant difference" in errors.text, errors
    assert by_criterion["time until only the new version answers"].winner is None


def test_a_rollout_that_did_not_finish_in_one_run_of_three_loses_on_time():
    seconds = rollout_findings(
        rollout_rounds("torchserve-rest", [0, 0, 0], [1.0, None, 1.0]),
        rollout_rounds("tfserving-rest", [0, 0, 0], [3.0, 3.1, 3.0]),
    )["time until only the new version answers"]
    assert seconds.winner == "tfserving", seconds
    assert "TorchServe did not finish in 1 of 3 (3 runs each)" in seconds.text, seconds


def test_any_old_version_answer_after_the_switch_loses_to_none():
    torchserve = rollout_rounds("torchserve-rest", [0, 0, 0], [1.0, 1.0, 1.0])
    torchserve["rounds"][0]["rollout"]["steps"][0]["old_after_all_new"] = 1
    tfserving = rollout_rounds("tfserving-rest", [0, 0, 0], [1.0, 1.0, 1.0])
    stale = rollout_findings(torchserve, tfserving)["old-version answers after the switch"]
    assert stale.winner == "tfserving" and "1 vs 0 (3 runs each)" in stale.text, stale
    torchserve["rounds"][0]["rollout"]["steps"][0]["old_after_all_new"] = 0
    stale = rollout_findings(torchserve, tfserving)["old-version answers after the switch"]
    assert stale.winner is None and stale.text.startswith("neither"), stale


def test_an_emulated_rollout_names_no_winner():
    run = results([rollout_entry("torchserve-rest", 60, 1000, 4.5),
                   rollout_entry("tfserving-rest", 0, 1000, 0.5)],
                  implementations={"torchserve": "torchserve 0.12.0",
                                   "tfserving": "tfserving-emulator"})  # fmt: skip
    run["scenario"] = "rollout"
    reasons, rows = verdict(run, None, None)
    assert reasons and rows and all(row.winner is None for row in rows)


def test_overload_is_judged_on_recovery_and_what_shedding_kept():
    def overload(target_name, recovery_s, peak_p99, errors):
        entry = target("mlp", target_name, interval(50, 49, 51), interval(9, 8, 10))
        entry["recovery_s"] = recovery_s
        entry["phases"] = [
            {"offered_rps": 150, "errors": {}, "latency_ms": {"p99": 5.0}},
            {"offered_rps": 900, "errors": errors, "latency_ms": {"p99": peak_p99}},
        ]
        return entry

    run = results([overload("torchserve-rest", 1.0, 40.0, {"HTTP 503": 900}),
                   overload("tfserving-rest", None, 2500.0, {"timeout": 10})])  # fmt: skip
    run["scenario"] = "overload"
    _, rows = verdict(run, None, None)
    by_criterion = {row.criterion: row for row in rows}
    recovery = by_criterion["recovery after overload"]
    assert recovery.winner == "torchserve" and "never back to its normal p99" in recovery.text
    shedding = by_criterion["p99 of what was served at the overload peak"]
    assert shedding.winner == "torchserve" and "TorchServe 900 HTTP 503" in shedding.text
