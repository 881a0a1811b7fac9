"""Benchmark ``rules.evaluate`` on a full submission: every section answered, three trials.

Run: ``.venv/bin/python bench/rules.py [--number N] [--repeat R] [--profile]``. Prints the
median microseconds per call over ``repeat`` runs of ``number`` calls, and the machine.
The goal is under 50 µs per call; ``--profile`` prints the cProfile top functions.

``--compare CHECKOUT`` times another checkout's ``evaluate()`` side by side with this
one's: ``repeat`` rounds, each running one fresh process per checkout in turn (the order
alternating), so a noisy machine slows both alike; prints each side's median and best and
the ratio of the medians.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import statistics
import subprocess
import sys
import timeit
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules import DEFAULT_RULESET, evaluate  # noqa: E402

RECEIVED = date(2026, 11, 21)
GOAL_MICROSECONDS = 50.0


def full_submission() -> tuple[dict[str, Any], dict[str, Any]]:
    """A submission with every section of the questionnaire answered and three trials."""
    respondent = {
        "given_name": "Ada", "family_name": "Byron", "date_of_birth": "1958-04-12",
        "sex_at_birth": "female", "email": "ada@example.org", "phone": "+1 555 0100",
        "external_id": "form-4711",
    }
    answers = {
        "phq9": {"q1": 2, "q2": 3, "q3": 2, "q4": 2, "q5": 1, "q6": 2, "q7": 1, "q8": 1,
                 "q9": 1, "difficulty": 2},
        "gad7": {"q1": 2, "q2": 2, "q3": 1, "q4": 2, "q5": 1, "q6": 1, "q7": 0},
        "asq": {"q1": "yes", "q2": "no", "q3": "no", "q4": "no", "q5": "no"},
        "cssrs": {"q1": "yes", "q2": "no", "q3": "no", "q4": "no", "q5": "no", "q6": "yes",
                  "q6_recent": "no"},
        "mdq": {"q1": ["yes"] * 8 + ["no"] * 5, "q2": "yes", "q3": "moderate"},
        "pcl5": {f"q{n}": 2 for n in range(1, 21)},
        "audit_c": {"q1": 2, "q2": 1, "q3": 1},
        "dast10": {**{f"q{n}": "no" for n in range(1, 11)}, "q1": "yes", "q2": "yes"},
        "treatment_history": {"antidepressant_trials": [
            {"medication": "sertraline", "weeks": 10, "adequate_dose": "yes",
             "taken_as_prescribed": "yes", "response": "none"},
            {"medication": "bupropion", "weeks": 8, "adequate_dose": "unsure",
             "taken_as_prescribed": "yes", "response": "partial"},
            {"medication": "venlafaxine", "weeks": 4, "adequate_dose": "yes",
             "taken_as_prescribed": "yes", "response": "stopped_side_effects"},
        ]},
        "medical_history": {
            "aneurysm_or_avm": "no", "intracerebral_hemorrhage": "no",
            "ketamine_hypersensitivity": "no", "uncontrolled_hypertension": "unsure",
            "recent_cardiovascular_event": "no", "heart_failure_or_unstable_angina": "no",
            "psychosis": "no", "mania_or_hypomania": "yes", "substance_use_disorder": "no",
            "ketamine_misuse": "no", "elevated_intracranial_pressure": "no",
            "seizure_disorder": "no", "glaucoma": "no", "untreated_hyperthyroidism": "no",
            "severe_liver_disease": "no", "bladder_or_interstitial_cystitis": "no",
            "dementia_or_cognitive_impairment": "no",
        },
        "medications": {"benzodiazepine": "yes", "maoi": "no", "stimulant": "no",
                        "opioid": "no", "lamotrigine": "unsure"},
        "reproductive": {"pregnant": "no", "breastfeeding": "not_applicable"},
        "vitals": {"systolic_bp": 146, "diastolic_bp": 88},
    }
    return respondent, answers


def compare(other: Path, number: int, rounds: int) -> None:
    """This checkout against ``other``, one fresh process each per round, alternating."""
    sides = {"this": Path(__file__).resolve(), "other": other.resolve() / "bench" / "rules.py"}
    timings: dict[str, list[float]] = {name: [] for name in sides}
    for round_number in range(rounds):
        order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
        for name in order:
            done = subprocess.run(
                [sys.executable, str(sides[name]), "--number", str(number), "--repeat", "3",
                 "--json"], stdout=subprocess.PIPE, check=True, text=True)
            timings[name].append(json.loads(done.stdout)["best_us"])
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, path in sides.items():
        print(f"{name:>5} ({path.parents[1]}): median {medians[name]:.1f} µs/call, best "
              f"{min(timings[name]):.1f} µs/call over {rounds} processes")
    print(f"this / other = {medians['this'] / medians['other']:.2f}")


def main() -> None:
    """Time ``evaluate()`` and print the median per call with the machine it ran on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000, help="calls per run")
    parser.add_argument("--repeat", type=int, default=7, help="runs")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    parser.add_argument("--compare", type=Path, metavar="CHECKOUT",
                        help="time another checkout side by side (repeat = rounds)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare is not None:
        compare(args.compare, args.number, args.repeat)
        return

    respondent, answers = full_submission()

    def call() -> None:
        evaluate(respondent, answers, RECEIVED, DEFAULT_RULESET)

    call()  # warm up imports and caches
    runs = timeit.repeat(call, number=args.number, repeat=args.repeat)
    median_us = statistics.median(runs) / args.number * 1e6
    best_us = min(runs) / args.number * 1e6
    if args.json:
        print(json.dumps({"median_us": median_us, "best_us": best_us}))
        return
    print(f"evaluate(): median {median_us:.1f} µs/call, best {best_us:.1f} µs/call "
          f"({args.repeat} runs x {args.number} calls; goal < {GOAL_MICROSECONDS:.0f} µs)")
    print(f"machine: {platform.platform()}; {platform.processor() or platform.machine()}; "
          f"{platform.python_implementation()} {platform.python_version()}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [call() for _ in range(args.number)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
