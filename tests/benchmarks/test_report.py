"""benchmarks.report: the three 3DOS comparisons and the reference text block."""

import json

import pytest

from benchmarks.report import COMPARISONS, compare_unknown_sets, format_report

from ..helpers.data import FIXTURES

FIXTURE = FIXTURES / "ood_metrics" / "ood_metrics_3dos.json"
CASES = json.loads(FIXTURE.read_text())["cases"]
KEYS = ("auroc", "fpr95", "aupr_in", "aupr_out")


@pytest.mark.parametrize("index", range(len(CASES)))
def test_three_comparisons_match_fixture(index):
    case = CASES[index]
    got = compare_unknown_sets(case["known"], case["unknown_1"], case["unknown_2"])
    assert list(got) == list(COMPARISONS)
    for comparison, expected in case["expected"].items():
        for key in KEYS:
            assert got[comparison][key] == pytest.approx(expected[key], abs=1e-12, rel=0)


COMPARISON_VALUES = {
    "known_vs_unknown_1": {"auroc": 0.75, "fpr95": 0.5, "aupr_in": 0.87654321, "aupr_out": 1.0},
    "known_vs_unknown_2": {"auroc": 0.1, "fpr95": 0.0, "aupr_in": 0.33333333333333337, "aupr_out": 0.99996},
    "known_vs_unknown_1_and_2": {"auroc": 0.5, "fpr95": 0.25, "aupr_in": 0.125, "aupr_out": 2 / 3},
}

EXPECTED_BLOCK = """\
Computing OOD metrics with 1-NN distance normality score...
AUROC - Src label: 1, Tar label: 0
Src Test - Clf Acc: 0.8, Clf Bal Acc: 0.7916666666666666
SRC->TAR1:      AUROC: 0.7500, FPR95: 0.5000, AUPR_IN: 0.8765, AUPR_OUT: 1.0000
SRC->TAR2:      AUROC: 0.1000, FPR95: 0.0000, AUPR_IN: 0.3333, AUPR_OUT: 1.0000
SRC->TAR1+TAR2: AUROC: 0.5000, FPR95: 0.2500, AUPR_IN: 0.1250, AUPR_OUT: 0.6667
to spreadsheet: 0.75,0.5,0.87654321,1.0,0.1,0.0,0.33333333333333337,0.99996,0.5,0.25,0.125,0.6666666666666666"""


def test_block_matches_reference_format():
    closed = {"accuracy": 0.8, "balanced_accuracy": 19 / 24}
    assert format_report("1-NN distance", COMPARISON_VALUES, closed) == EXPECTED_BLOCK


def test_without_closed_set_the_accuracy_line_is_left_out():
    lines = EXPECTED_BLOCK.splitlines()
    assert format_report("1-NN distance", COMPARISON_VALUES) == "\n".join(lines[:2] + lines[3:])


def test_spreadsheet_line_round_trips_fixture_values():
    case = CASES[0]
    block = format_report("MSP", compare_unknown_sets(case["known"], case["unknown_1"], case["unknown_2"]))
    line = block.splitlines()[-1]
    assert line.startswith("to spreadsheet: ")
    values = [float(v) for v in line.removeprefix("to spreadsheet: ").split(",")]
    expected = [case["expected"][comparison][key] for comparison in COMPARISONS for key in KEYS]
    assert values == pytest.approx(expected, abs=1e-12, rel=0)


def test_missing_metric_is_named():
    broken = {key: dict(value) for key, value in COMPARISON_VALUES.items()}
    del broken["known_vs_unknown_2"]["fpr95"]
    del broken["known_vs_unknown_1_and_2"]
    with pytest.raises(ValueError, match=r"known_vs_unknown_2\.fpr95, known_vs_unknown_1_and_2\.auroc"):
        format_report("MSP", broken)
