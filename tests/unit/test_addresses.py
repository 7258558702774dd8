"""No deployed resource moves: every address the pre-restructure commit synthesized is still
synthesized, or a `moved` block carries it to one that is, or a `removed` block forgets it without
destroying it (fixture: `python -m tools.addresses`)."""

import json
from pathlib import Path

import pytest

from tests.unit.profiles import PROFILES
from tools.addresses import forgotten_addresses, managed_addresses, moved_blocks

FIXTURE = Path(__file__).parent / "fixtures" / "addresses-39b07de.json"
RECORDED = json.loads(FIXTURE.read_text())


def test_the_fixture_was_recorded_with_the_session_profiles():
    assert RECORDED["ref"] == "39b07de"
    assert {name: profile["environment"] for name, profile in RECORDED["profiles"].items()} == PROFILES


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_earlier_address_is_kept_or_moved(synth_all, profile):
    before = set(RECORDED["profiles"][profile]["addresses"])
    now = synth_all[profile].json
    addresses, moves, forgotten = set(managed_addresses(now)), moved_blocks(now), forgotten_addresses(now)
    gone = before - addresses - forgotten
    assert gone - set(moves) == set(), "addresses that disappear without a moved block"
    assert {moves[address] for address in gone} <= addresses
    assert not forgotten & addresses, "a removed block for an address still in the configuration"
    assert set(moves) <= before, "a moved block from an address this profile never had"
    assert len(set(moves.values())) == len(moves)


def test_the_restructure_moved_only_the_load_balancer(synth_all):
    moves = moved_blocks(synth_all["https"].json)
    assert len(moves) == 17
    assert all(old.split(".")[1].startswith("compute_") for old in moves)
    assert all(new.split(".")[1].startswith("load_balancer_") for new in moves.values())


def test_only_the_account_wide_dms_roles_are_forgotten_and_never_destroyed(synth_all):
    # Issue 9 #2: the stack no longer owns dms-vpc-role / dms-cloudwatch-logs-role; a stack that created them
    # lets go of them (they stay in the account for every other stack) instead of deleting them.
    dev = synth_all["dev"].json
    before = set(RECORDED["profiles"]["dev"]["addresses"])
    forgotten = forgotten_addresses(dev)
    assert forgotten and forgotten <= before
    assert {address.split(".")[1].split("_")[1] for address in forgotten} == {"dms"}
    assert all(block["lifecycle"] == {"destroy": False} for block in dev["removed"])
