"""No module writes a ``stage`` field except the stage modules: every move goes through the mover.

The rule, checked on the source of every module of ``inquiries/``,
``leads/``, ``nurture/``, ``reporting/`` and ``leadflow/`` with ``ast``:

* **Forbidden** outside ``leadflow/lib/stages.py`` and an app's
  ``stages.py``: assigning ``x.stage = …`` (also ``+=`` and annotated),
  ``setattr(x, "stage", …)``, ``.update(stage=…)`` (also
  ``.update(**{"stage": …})``), ``bulk_update(…, ["stage", …])``,
  ``update_or_create(defaults={"stage": …})``, ``update_fields=[…, "stage"]``,
  and raw SQL text whose ``UPDATE … SET`` list assigns ``stage``.
* **Allowed**: reading a stage anywhere (filters, comparisons), and creating
  a record already in a stage — ``Model(stage=…)``,
  ``objects.create(stage=…)``, ``bulk_create`` or an ``INSERT`` (an import's
  new rows, the lead made by the hand-over). Creation is not a move: the
  record has no earlier stage, so there is no history row to write.

A stage written from a computed column list or ``**values`` is beyond a
syntax check; the rule stands for it all the same (the import's merge
``UPDATE`` leaves ``stage`` out of its columns for that reason).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("inquiries", "leads", "nurture", "reporting", "leadflow")
FIELD = "stage"

_SET_LIST = re.compile(
    r"\bUPDATE\b.*?\bSET\b(?P<sets>.*?)(?:\bWHERE\b|\bFROM\b|\bRETURNING\b|$)",
    re.IGNORECASE | re.DOTALL,
)
# An assignment opens the SET list or follows a comma; ``CASE WHEN l.stage = …`` only reads it.
_ASSIGNS_STAGE = re.compile(r'(?:^|,)\s*(?:"?\w+"?\.)?"?stage"?\s*=', re.IGNORECASE)


def is_stage_module(relative: str) -> bool:
    return relative == "leadflow/lib/stages.py" or relative.endswith("/stages.py")


def _names_stage(node: ast.AST | None) -> bool:
    """A literal list, tuple or set of field names that contains ``"stage"``."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return any(isinstance(e, ast.Constant) and e.value == FIELD for e in node.elts)
    return False


def _dict_has_stage(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Dict) and any(
        isinstance(k, ast.Constant) and k.value == FIELD for k in node.keys
    )


def _sql_text(node: ast.AST) -> str | None:
    """The text of a string literal; an f-string's literal parts with its holes as ``?``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "?" for part in node.values
        )
    return None


def sql_assigns_stage(text: str) -> bool:
    """Whether an ``UPDATE`` in the text assigns ``stage`` in its ``SET`` list."""
    return any(_ASSIGNS_STAGE.search(m.group("sets")) for m in _SET_LIST.finditer(text))


def _call_writes_stage(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    keywords = {k.arg: k.value for k in call.keywords}
    if name == "setattr" and len(call.args) >= 2:
        target = call.args[1]
        if isinstance(target, ast.Constant) and target.value == FIELD:
            return 'setattr(…, "stage", …)'
    if name == "update":
        if FIELD in keywords:
            return ".update(stage=…)"
        if any(k.arg is None and _dict_has_stage(k.value) for k in call.keywords):
            return '.update(**{"stage": …})'
    if name == "bulk_update":
        fields = call.args[1] if len(call.args) >= 2 else keywords.get("fields")
        if _names_stage(fields):
            return 'bulk_update(…, ["stage", …])'
    if name == "update_or_create" and _dict_has_stage(keywords.get("defaults")):
        return 'update_or_create(defaults={"stage": …})'
    if _names_stage(keywords.get("update_fields")):
        return 'update_fields=[…, "stage"]'
    return None


def forbidden_writes(source: str) -> list[tuple[int, str]]:
    """(line, what) of every write of a ``stage`` field the rule forbids in this source."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute) and part.attr == FIELD:
                        found.append((node.lineno, "x.stage = …"))
        elif isinstance(node, ast.Call):
            what = _call_writes_stage(node)
            if what:
                found.append((node.lineno, what))
        else:
            text = _sql_text(node)
            if text and sql_assigns_stage(text):
                found.append((node.lineno, "UPDATE … SET stage = …"))
    return found


def scanned_modules() -> list[tuple[str, Path]]:
    modules = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if not is_stage_module(relative):
                modules.append((relative, path))
    return modules


def violations() -> dict[str, list[tuple[int, str]]]:
    found = {}
    for relative, path in scanned_modules():
        writes = forbidden_writes(path.read_text(encoding="utf-8"))
        if writes:
            found[relative] = writes
    return found


def test_no_module_writes_a_stage_outside_the_stage_modules():
    assert violations() == {}, "move stages with leadflow.lib.stages.move / move_many"


def test_the_scan_sees_the_apps():
    scanned = {relative for relative, _path in scanned_modules()}
    assert "inquiries/services/scoring.py" in scanned
    assert "nurture/services/enrollment.py" in scanned
    assert "leads/services/closing.py" in scanned
    assert "inquiries/stages.py" not in scanned
    assert "leadflow/lib/stages.py" not in scanned


@pytest.mark.parametrize(
    ("snippet", "what"),
    [
        ("inquiry.stage = Stage.MQL", "x.stage = …"),
        ("self.inquiry.stage: str = 'mql'", "x.stage = …"),
        ("a.stage, b = 'mql', 1", "x.stage = …"),
        ("setattr(inquiry, 'stage', 'mql')", 'setattr(…, "stage", …)'),
        ("Inquiry.objects.filter(pk=1).update(stage='mql')", ".update(stage=…)"),
        ("qs.update(**{'stage': 'mql'})", '.update(**{"stage": …})'),
        ("Inquiry.objects.bulk_update(rows, ['score', 'stage'])", 'bulk_update(…, ["stage", …])'),
        ("Inquiry.objects.bulk_update(rows, fields=('stage',))", 'bulk_update(…, ["stage", …])'),
        (
            "Inquiry.objects.update_or_create(pk=1, defaults={'stage': 'mql'})",
            'update_or_create(defaults={"stage": …})',
        ),
        ("inquiry.save(update_fields=['stage', 'updated_at'])", 'update_fields=[…, "stage"]'),
        ("cur.execute('UPDATE inquiries_inquiry SET stage = %s WHERE id = %s')", "UPDATE … SET"),
        ("sql = 'update t set score = 1, stage=%s where id = 1'", "UPDATE … SET"),
        ('sql = f"UPDATE {table} SET \\"stage\\" = %s WHERE id = ANY(%s)"', "UPDATE … SET"),
        (
            "sql = f'UPDATE {table} AS t SET score = s.score, stage = s.stage FROM s'",
            "UPDATE … SET",
        ),
        (
            "sql = 'UPDATE leads_lead AS l SET l.stage = %s WHERE id = 1'",
            "UPDATE … SET",
        ),
    ],
)
def test_a_forbidden_stage_write_is_found(snippet, what):
    found = forbidden_writes(snippet)
    assert len(found) == 1
    assert found[0][1].startswith(what)


@pytest.mark.parametrize(
    "snippet",
    [
        "Inquiry.objects.create(stage='nurture')",
        "Inquiry(tenant=t, stage='nurture')",
        "Lead.objects.bulk_create([Lead(stage='awaiting_acceptance')])",
        "if inquiry.stage == Stage.LEAD: pass",
        "Inquiry.objects.filter(stage='mql').update(score=1)",
        "stage = 'mql'",
        "inquiry.save(update_fields=['score'])",
        "cur.execute('INSERT INTO inquiries_inquiry (id, stage) SELECT id, stage FROM s')",
        "cur.execute('UPDATE inquiries_inquiry SET score = 1 WHERE stage = %s')",
        "cur.execute('SELECT id FROM inquiries_inquiry WHERE stage = %s')",
        "cur.execute('UPDATE leads_lead AS l SET due = CASE WHEN l.stage = %s THEN 1 END')",
        "rows.append((inquiry.pk, inquiry.stage))",
    ],
)
def test_reading_a_stage_or_creating_a_record_in_one_is_allowed(snippet):
    assert forbidden_writes(snippet) == []
