"""Model instances for rows a set-based path already has, without ``Model.__init__``.

``Model.__init__`` passes over every field of the model (defaults, descriptors,
signals): about 15–25 µs an instance, seconds for the 10,000 rows routing
returns. A path that read or wrote the rows itself and only needs instances to
hand on makes them with :func:`loaded`: the values in ``__dict__``, marked as
stored, every field not given deferred (read from the database on first
access, as for an ``.only()`` row). The models it is used for have no
``pre_init``/``post_init`` receivers (no file or image fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState

M = TypeVar("M", bound=Model)


def loaded(
    model: type[M], names: Sequence[str], values: Sequence[Any], *, db: str | None = None
) -> M:
    """A stored ``model`` instance with the attributes ``names`` (attnames) set to ``values``.

    ``db``: the connection's alias, when the caller makes many (``connection.alias`` goes
    through a thread-local proxy: ~3 µs a read, as much as the rest of this function).
    """
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = ModelState()
    state.adding = False
    state.db = connection.alias if db is None else db
    instance._state = state
    return instance
