"""The lead's stages and the moves allowed between them (``leadflow/lib/stages.py``).

A lead is born awaiting its rep's acceptance (not a move: no history row).
The rep accepts it (SAL), qualifies it (SQL), and it ends won, lost or
postponed; a closed lead stays closed — the person is booked again as a new
lead. The full lifecycle (acceptance, weekly updates) extends this table.
"""

from __future__ import annotations

from leadflow.lib import stages

MACHINE = "lead"
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "awaiting_acceptance": ("accepted", "lost", "postponed"),
    "accepted": ("sql", "won", "lost", "postponed"),
    "sql": ("won", "lost", "postponed"),
    "won": (),
    "lost": (),
    "postponed": (),
}


def declare() -> stages.Machine:
    from leads.models import Lead, LeadStage

    assert set(TRANSITIONS) == set(LeadStage.values), "every stage has its row in the table"
    return stages.declare(MACHINE, Lead, TRANSITIONS)
