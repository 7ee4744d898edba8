"""Benchmark: the suggested points definition's held-out AUC against LogisticRegressionCV.

    python bench/suggest_auc.py [--seeds 5] [--scale 1.0]

Two fixed generated shapes, five seeds each (the generator is written from
the issue's description, not tuned to the method):

* (a) B2B-like: 20,000 rows, ~8% won; planted effects on the title
  (seniority), company size and industry; country, timeline and source are
  noise.
* (b) 10,000 rows, ~38% won; 25 categorical custom fields (3–12 levels, some
  levels of only 6–9 rows), a visit count whose effect is non-monotone (the
  middle converts), and one interaction (two fields' levels together).

For each data set the same split as the app (``(id × 2654435761) % 1000 <
300`` held back) is scored two ways:

* suggested — ``suggest_from_examples`` (``inquiries/selectors/analysis.py``,
  the code behind "Suggest from outcomes": features, quantile bins, the
  penalised logistic regression, integer points) fitted on the training part,
  its rules scored by the app's own ``scoring.score`` on the held-back part;
* LogisticRegressionCV — scikit-learn (5 folds, 10 values of C, ROC AUC) on
  the same columns: categoricals and the title one-hot encoded, numbers
  standardised as they are (no binning), in its own virtual environment
  (``var/bench-sklearn``, created by this script with ``pip install
  scikit-learn``; scikit-learn is not a dependency of the app).

Reports each run's AUCs, and per shape the median gap (LR − suggested) with
its range. The examples are built in memory (no database): what is measured
is the method, not the reading of rows. Appends the figures to
``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")

import django  # noqa: E402

django.setup()

from inquiries import scoring  # noqa: E402
from inquiries.models import ActivityKind  # noqa: E402
from inquiries.selectors.analysis import (  # noqa: E402
    SPLIT_MULTIPLIER,
    Example,
    _auc,
    suggest_from_examples,
)

VENV = ROOT / "var" / "bench-sklearn"
AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
HEADING = "## Suggest from outcomes: held-out AUC vs LogisticRegressionCV"

TITLES = {
    "Chief Operating Officer": 1.3,
    "VP Operations": 1.2,
    "Vice President Supply Chain": 1.1,
    "Director of Operations": 0.9,
    "Head of Logistics": 0.7,
    "Operations Manager": 0.3,
    "Logistics Manager": 0.3,
    "Engineer": -0.2,
    "Analyst": -0.5,
    "Student": -1.5,
    "Owner": 0.4,
    "Consultant": -0.3,
}
INDUSTRIES = {
    "manufacturing": 0.8,
    "logistics": 0.7,
    "automotive": 0.5,
    "healthcare": 0.2,
    "retail": -0.3,
    "education": -0.8,
    "government": -0.6,
    "software": 0.0,
    "finance": -0.1,
    "energy": 0.3,
    "food": 0.1,
    "media": -0.5,
}


def _size_effect(size: int) -> float:
    if size < 50:
        return -0.7
    if size < 200:
        return 0.1
    if size < 1000:
        return 0.8
    if size < 5000:
        return 0.5
    return 0.0


def _calibrated(logits: list[float], rate: float) -> list[float]:
    """Shift the logits so the expected share of wins is ``rate`` (prevalence, not signal)."""
    low, high = -20.0, 20.0
    for _ in range(60):
        mid = (low + high) / 2
        mean = sum(1 / (1 + math.exp(-(x + mid))) for x in logits) / len(logits)
        low, high = (mid, high) if mean < rate else (low, mid)
    return [x + (low + high) / 2 for x in logits]


def shape_a(seed: int, rows: int) -> tuple[list[dict], list[bool], dict[str, str]]:
    rng = random.Random(seed)
    profiles, logits = [], []
    for _ in range(rows):
        title = rng.choice(list(TITLES))
        industry = rng.choice(list(INDUSTRIES))
        size = int(10 ** rng.uniform(0.7, 4.3))
        profiles.append(
            {
                "title": title,
                "industry": industry,
                "company_size": size,
                "country": rng.choice(["US", "DE", "GB", "FR", "NL"]),
                "timeline": rng.choice(["now", "0-3m", "3-6m", "6-12m", "12m+", "unknown"]),
                "source": rng.choice(["web_form", "webinar", "event", "chat", "email"]),
            }
        )
        logits.append(TITLES[title] + INDUSTRIES[industry] + _size_effect(size))
    logits = _calibrated(logits, 0.08)
    won = [rng.random() < 1 / (1 + math.exp(-x)) for x in logits]
    return profiles, won, {}


def shape_b(seed: int, rows: int) -> tuple[list[dict], list[bool], dict[str, str]]:
    rng = random.Random(seed)
    fields = []
    for n in range(25):
        levels = [f"c{n:02d}_l{k}" for k in range(rng.randint(3, 12))]
        # Some levels are rare: 6–9 rows each.
        rare = levels[-2:] if n % 3 == 0 else []
        effect = {lv: (rng.gauss(0, 0.6) if n < 10 else 0.0) for lv in levels}
        fields.append((f"c{n:02d}", levels, rare, effect))
    rare_rows: dict[int, tuple[int, str]] = {}
    for n, (_key, _levels, rare, _effect) in enumerate(fields):
        for level in rare:
            for row in rng.sample(range(rows), rng.randint(6, 9)):
                rare_rows.setdefault(row, (n, level))
    profiles, logits = [], []
    for i in range(rows):
        profile: dict = {}
        logit = 0.0
        for n, (key, levels, rare, effect) in enumerate(fields):
            common = [lv for lv in levels if lv not in rare]
            level = rare_rows[i][1] if rare_rows.get(i, (None,))[0] == n else rng.choice(common)
            profile[f"custom.{key}"] = level
            logit += effect[level]
        visits = min(40, int(rng.expovariate(1 / 6)))
        profile["custom.visits"] = visits
        logit += 0.9 if 4 <= visits <= 12 else (-0.3 if visits > 25 else 0.0)
        if profile["custom.c00"].endswith("_l0") and profile["custom.c01"].endswith("_l1"):
            logit += 1.2  # the interaction
        profiles.append(profile)
        logits.append(logit)
    logits = _calibrated(logits, 0.38)
    won = [rng.random() < 1 / (1 + math.exp(-x)) for x in logits]
    kinds = {f"c{n:02d}": "choice" for n in range(25)}
    kinds["visits"] = "number"
    return profiles, won, kinds


def held(pk: int) -> bool:
    return (pk * SPLIT_MULTIPLIER) % 1000 < 300


def suggested_auc(profiles: list[dict], won: list[bool], kinds: dict[str, str]) -> float:
    examples = [
        Example(profile, [], w, held(pk))
        for pk, (profile, w) in enumerate(zip(profiles, won, strict=True), start=1)
    ]
    suggestion = suggest_from_examples(examples, kinds, as_of=AS_OF)
    rules = scoring.parse_rules(
        fit_rules=suggestion.fit_rules,
        engagement_rules=suggestion.engagement_rules,
        qualifiers=[],
        threshold=suggestion.threshold,
        custom_fields=kinds,
        activity_kinds=ActivityKind.values,
    )
    test = [e for e in examples if e.held_back]
    scores = [scoring.score(e.profile, [], rules, as_of=AS_OF).total for e in test]
    auc = _auc(scores, [e.won for e in test])
    assert abs(auc - suggestion.auc) < 1e-9, (auc, suggestion.auc)
    return auc


SKLEARN = r"""
import json, sys
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
import pandas as pd

data = json.load(open(sys.argv[1]))
frame = pd.DataFrame(data["profiles"])
numeric = [c for c in frame.columns if c in ("company_size", "custom.visits")]
categorical = [c for c in frame.columns if c not in numeric]
frame[categorical] = frame[categorical].astype(str)
y = np.array(data["won"])
held = np.array(data["held"])
model = make_pipeline(
    ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ("num", StandardScaler(), numeric),
    ]),
    LogisticRegressionCV(Cs=10, cv=5, scoring="roc_auc", max_iter=5000),
)
model.fit(frame[~held], y[~held])
print(roc_auc_score(y[held], model.predict_proba(frame[held])[:, 1]))
"""


def ensure_sklearn() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "scikit-learn", "pandas"], check=True
        )
    return python


def logistic_auc(python: Path, profiles: list[dict], won: list[bool]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data.json"
        flags = [held(pk) for pk in range(1, len(profiles) + 1)]
        data.write_text(json.dumps({"profiles": profiles, "won": won, "held": flags}))
        script = Path(folder) / "fit.py"
        script.write_text(SKLEARN)
        out = subprocess.run(
            [str(python), str(script), str(data)], check=True, capture_output=True, text=True
        )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="share of the full row counts")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    python = ensure_sklearn()
    lines = []
    for name, make, rows in (("a", shape_a, 20_000), ("b", shape_b, 10_000)):
        count = int(rows * args.scale)
        gaps = []
        for seed in range(1, args.seeds + 1):
            profiles, won, kinds = make(seed, count)
            ours = suggested_auc(profiles, won, kinds)
            theirs = logistic_auc(python, profiles, won)
            gaps.append(theirs - ours)
            line = (
                f"({name}) seed {seed}: {count} rows, {sum(won) / len(won):.1%} won — "
                f"suggested {ours:.4f}, LogisticRegressionCV {theirs:.4f}, gap {theirs - ours:+.4f}"
            )
            print(line, flush=True)
            lines.append(f"- {line}")
        summary = (
            f"**({name}) median gap {statistics.median(gaps):+.4f}** "
            f"(range {min(gaps):+.4f} … {max(gaps):+.4f}; goal ≤ 0.01)"
        )
        print(summary)
        lines.append(f"- {summary}")
    if not args.no_record:
        sys.path.insert(0, str(Path(__file__).parent))
        from common import record, today

        meminfo = Path("/proc/meminfo").read_text().splitlines()
        memory = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
        size = "" if args.scale == 1 else f" --scale {args.scale} (reduced size)"
        record(
            HEADING,
            "`python bench/suggest_auc.py` (see its docstring): the suggested points "
            "definition vs scikit-learn's LogisticRegressionCV on the same columns, held-out "
            "ROC AUC on the app's fixed split, two generated shapes, five seeds each.",
            f"{today()}, {os.cpu_count()} CPUs, {memory / 1024 / 1024:.0f} GiB, Python "
            f"{sys.version.split()[0]}: `python bench/suggest_auc.py{size}`, "
            f"{args.seeds} seeds per shape.\n\n" + "\n".join(lines),
        )


if __name__ == "__main__":
    main()
