"""The inquiry's stages and the moves allowed between them (``leadflow/lib/stages.py``).

Where a person is, from first inquiry to hand-over: scoring moves people
between the MQL queue and nurture; a qualifier disqualifies; booking an
appointment makes the person a lead; a lead postponed or lost "not now"
goes back to nurture, to be booked again when ready; a buyer who did not show
up goes back to the qualifier's queue (MQL) to be reached again; a
disqualified person can be requalified.
"""

from __future__ import annotations

from inquiries.models import Inquiry, Stage
from leadflow.lib import stages

MACHINE = "inquiry"
# Scoring moves only people in these stages (not leads, not the disqualified).
SCORED = ("inquiry", "mql", "nurture")
TRANSITIONS = {
    "inquiry": ("mql", "nurture", "lead", "disqualified"),
    "mql": ("nurture", "lead", "disqualified"),
    "nurture": ("mql", "lead", "disqualified"),
    "lead": ("nurture", "mql"),
    "disqualified": ("inquiry", "mql", "nurture"),
}


def declare() -> stages.Machine:
    assert set(TRANSITIONS) == set(Stage.values), "every stage has its row in the table"
    return stages.declare(MACHINE, Inquiry, TRANSITIONS)
