"""No deployed resource moves: every address a recorded commit synthesized is still synthesized, or a
`moved` block carries it to one that is, or a `removed` block forgets it without destroying it.

Fixtures (`python -m tools.addresses REF`): 39b07de, the commit before the constructs were renamed
after their plan groups, and 7eb3c21, which adds what later issues built (the cutover's state,
reverse replication, write rule, trust store, ...). Record the current commit again when a change
adds resources that are deployed somewhere, so they are held in place too."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.profiles import PROFILES
from tools.addresses import forgotten_addresses, managed_addresses, moved_blocks

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = {
    path.stem.removeprefix("addresses-"): json.loads(path.read_text())
    for path in sorted(FIXTURES.glob("addresses-*.json"))
}
RESTRUCTURE_BASE = "39b07de"


def test_the_fixtures_were_recorded_with_the_session_profiles():
    assert {RESTRUCTURE_BASE, "7eb3c21"} <= set(RECORDED)
    for ref, recorded in RECORDED.items():
        assert recorded["ref"] == ref
        assert {name: profile["environment"] for name, profile in recorded["profiles"].items()} == PROFILES


def unaccounted_addresses(before: set[str], now: dict) -> set[str]:
    """Addresses of `before` that `now` (a cdk.tf.json) neither synthesizes, moves nor forgets."""
    return before - set(managed_addresses(now)) - set(moved_blocks(now)) - forgotten_addresses(now)


def test_an_address_that_disappears_without_a_move_is_reported():
    old, new = "aws_ssm_parameter.cutover_state_1A2B3C4D", "aws_ssm_parameter.cutover_cutover_state_9C0D1E2F"
    kept = "aws_lb.load_balancer_alb_5E6F7A8B"
    resources: dict[str, dict] = {"aws_ssm_parameter": {new.split(".")[1]: {}}, "aws_lb": {kept.split(".")[1]: {}}}
    renamed: dict[str, Any] = {"resource": resources}
    assert unaccounted_addresses({old, kept}, renamed) == {old}
    assert unaccounted_addresses({old, kept}, {**renamed, "moved": [{"from": old, "to": new}]}) == set()
    forgotten = {"from": old, "lifecycle": {"destroy": False}}
    assert unaccounted_addresses({old, kept}, {**renamed, "removed": [forgotten]}) == set()
    destroyed = {"from": old, "lifecycle": {"destroy": True}}
    assert unaccounted_addresses({old, kept}, {**renamed, "removed": [destroyed]}) == {old}


@pytest.mark.parametrize("ref", sorted(RECORDED))
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_recorded_address_is_kept_or_moved(synth_all, ref, profile):
    before = set(RECORDED[ref]["profiles"][profile]["addresses"])
    now = synth_all[profile].json
    addresses, moves = set(managed_addresses(now)), moved_blocks(now)
    assert unaccounted_addresses(before, now) == set(), f"addresses of {ref} that disappear without a moved block"
    assert {moves[address] for address in before - addresses if address in moves} <= addresses


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_moved_and_removed_blocks_name_recorded_addresses_only(synth_all, profile):
    ever = set().union(*(recorded["profiles"][profile]["addresses"] for recorded in RECORDED.values()))
    now = synth_all[profile].json
    addresses, moves, forgotten = set(managed_addresses(now)), moved_blocks(now), forgotten_addresses(now)
    assert not forgotten & addresses, "a removed block for an address still in the configuration"
    assert not set(moves) & addresses, "a moved block from an address still in the configuration"
    assert set(moves) <= ever, "a moved block from an address this profile never had"
    assert set(moves.values()) <= addresses and len(set(moves.values())) == len(moves)


def test_the_restructure_moved_only_the_load_balancer(synth_all):
    moves = moved_blocks(synth_all["https"].json)
    assert len(moves) == 17
    assert all(old.split(".")[1].startswith("compute_") for old in moves)
    assert all(new.split(".")[1].startswith("load_balancer_") for new in moves.values())


def test_only_the_account_wide_dms_roles_are_forgotten_and_never_destroyed(synth_all):
    # Issue 9 #2: the stack no longer owns dms-vpc-role / dms-cloudwatch-logs-role; a stack that created them
    # lets go of them (they stay in the account for every other stack) instead of deleting them.
    dev = synth_all["dev"].json
    before = set(RECORDED[RESTRUCTURE_BASE]["profiles"]["dev"]["addresses"])
    forgotten = forgotten_addresses(dev)
    assert forgotten and forgotten <= before
    assert {address.split(".")[1].split("_")[1] for address in forgotten} == {"dms"}
    assert all(block["lifecycle"] == {"destroy": False} for block in dev["removed"])
