"""The shown start of a secret: what a person compares with the secret they hold."""

from __future__ import annotations

import pytest

from leadflow.lib import tokens


@pytest.mark.parametrize(
    "random_part", ["AbCd" + "x" * 39, "sw_s" + "y" * 39, "ab_cd_ef" + "z" * 35]
)
def test_the_shown_prefix_is_the_start_of_the_secret(random_part):
    secret = f"lfu_12_{random_part}"

    assert tokens.display_prefix(secret) == secret[: len("lfu_12_") + 4]


def test_the_shown_prefix_fits_its_column_for_a_large_tenant_id():
    prefix = tokens.display_prefix(tokens.generate(tokens.USER_TOKEN_KIND, 123_456_789_012))

    assert len(prefix) <= 16
    assert prefix.startswith("lfu_1234567_")
