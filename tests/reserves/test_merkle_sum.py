"""Merkle sum tree: the vectorised build against a tiny recursive reference written from the spec, proofs
for every customer, tampered proofs rejected, and the known attacks refused at build."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccm.errors import InputError
from ccm.reserves.merkle_sum import (
    InclusionProof,
    MerkleRoot,
    build_tree,
    proof_paths,
    prove,
    salts_from_rng,
    verify_proof,
)

ASSETS = ("BTC", "ETH", "USDT")


# --- plain reference implementation, from the module's specification ------------------------------------
def ref_leaf(cid: str, salt: bytes, balances) -> tuple[bytes, list[int]]:
    b = cid.encode()
    pre = b"ccm.por.leaf.v1\x00" + struct.pack(">H", len(b)) + b + salt + struct.pack(f">{len(balances)}q",
                                                                                     *balances)
    return hashlib.sha256(pre).digest(), list(balances)


def ref_parent(left, right) -> tuple[bytes, list[int]]:
    (lh, ls), (rh, rs) = left, right
    pre = (b"ccm.por.node.v1\x00" + lh + struct.pack(f">{len(ls)}q", *ls) + rh + struct.pack(f">{len(rs)}q", *rs))
    return hashlib.sha256(pre).digest(), [a + b for a, b in zip(ls, rs, strict=True)]


def ref_root(nodes: list, k: int):
    """Recursive: pad an odd level with the padding node, pair up, recurse until one node is left."""
    if len(nodes) == 1:
        return nodes[0]
    if len(nodes) % 2:
        nodes = nodes + [(hashlib.sha256(b"ccm.por.pad.v1\x00").digest(), [0] * k)]
    return ref_root([ref_parent(nodes[i], nodes[i + 1]) for i in range(0, len(nodes), 2)], k)


def ref_path(nodes: list, index: int, k: int) -> list:
    """Siblings (side, hash, sums) of leaf ``index``, recursively."""
    if len(nodes) == 1:
        return []
    if len(nodes) % 2:
        nodes = nodes + [(hashlib.sha256(b"ccm.por.pad.v1\x00").digest(), [0] * k)]
    sibling = nodes[index ^ 1]
    step = ("left" if index & 1 else "right", sibling[0], sibling[1])
    parents = [ref_parent(nodes[i], nodes[i + 1]) for i in range(0, len(nodes), 2)]
    return [step] + ref_path(parents, index // 2, k)


# --- fixtures ---------------------------------------------------------------------------------------------
def customers(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    ids = [f"c-{i}" for i in range(n)]
    balances = rng.integers(0, 10**10, size=(n, len(ASSETS)))
    balances[rng.random(balances.shape) < 0.3] = 0
    return ids, balances, salts_from_rng(n, rng)


@pytest.fixture(scope="module")
def small():
    ids, balances, salts = customers(13)
    return ids, balances, salts, build_tree(ids, ASSETS, balances, salts)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 13, 16, 33])
def test_root_matches_the_recursive_reference(n):
    ids, balances, salts = customers(n, seed=n)
    tree = build_tree(ids, ASSETS, balances, salts)
    leaves = [ref_leaf(c, salts[i].tobytes(), balances[i].tolist()) for i, c in enumerate(ids)]
    ref_hash, ref_sums = ref_root(leaves, len(ASSETS))
    assert tree.root.hash == ref_hash
    assert list(tree.root.sums) == ref_sums == [int(s) for s in balances.sum(axis=0)]
    assert tree.root.customers == n
    assert tree.depth == int(np.ceil(np.log2(n))) if n > 1 else tree.depth == 0


def test_every_customer_of_a_small_tree_has_a_valid_proof_equal_to_the_reference(small):
    ids, balances, salts, tree = small
    leaves = [ref_leaf(c, salts[i].tobytes(), balances[i].tolist()) for i, c in enumerate(ids)]
    for i in range(len(ids)):
        proof = prove(tree, i)
        assert verify_proof(proof, tree.root).valid
        expected = ref_path(leaves, i, len(ASSETS))
        assert list(zip(proof.sides, proof.sibling_hashes, [list(s) for s in proof.sibling_sums],
                        strict=True)) == expected
        assert proof.balances == tuple(balances[i].tolist())


def test_batch_paths_equal_single_proofs(small):
    _, _, _, tree = small
    hashes, sums = proof_paths(tree, np.arange(13))
    for i in (0, 6, 12):
        proof = prove(tree, i)
        assert [h.tobytes() for h in hashes[i]] == list(proof.sibling_hashes)
        assert [tuple(s) for s in sums[i].tolist()] == list(proof.sibling_sums)


def test_single_customer_tree_is_its_leaf():
    tree = build_tree(["only"], ASSETS, np.array([[1, 2, 3]]), salts_from_rng(1, np.random.default_rng(0)))
    assert tree.depth == 0
    assert verify_proof(prove(tree, 0), tree.root).valid


# --- tampering -------------------------------------------------------------------------------------------
def _bump(sums, level, asset, delta):
    changed = [list(s) for s in sums]
    changed[level][asset] += delta
    return tuple(tuple(s) for s in changed)


def tampered(proof: InclusionProof):
    yield "changed balance", replace(proof, balances=(proof.balances[0] + 1, *proof.balances[1:]))
    yield "balance lowered to zero", replace(proof, balances=(0,) * len(proof.balances))
    yield "changed sibling sum", replace(proof, sibling_sums=_bump(proof.sibling_sums, 1, 2, -1))
    flipped = bytes([proof.sibling_hashes[2][0] ^ 1]) + proof.sibling_hashes[2][1:]
    yield "changed sibling hash", replace(proof, sibling_hashes=(*proof.sibling_hashes[:2], flipped,
                                                                 *proof.sibling_hashes[3:]))
    yield "swapped sides", replace(proof, sides=tuple("left" if s == "right" else "right" for s in proof.sides))
    yield "moved leaf", replace(proof, leaf_index=proof.leaf_index ^ 1,
                                sides=tuple("left" if ((proof.leaf_index ^ 1) >> k) & 1 else "right"
                                            for k in range(len(proof.sides))))
    h, s = list(proof.sibling_hashes), list(proof.sibling_sums)
    h[0], h[1], s[0], s[1] = h[1], h[0], s[1], s[0]
    yield "swapped levels", replace(proof, sibling_hashes=tuple(h), sibling_sums=tuple(s))
    yield "changed customer id", replace(proof, customer_id=proof.customer_id + "x")
    yield "changed salt", replace(proof, salt=bytes(len(proof.salt)))
    yield "dropped a level", replace(proof, sides=proof.sides[:-1], sibling_hashes=proof.sibling_hashes[:-1],
                                     sibling_sums=proof.sibling_sums[:-1])
    yield "other assets", replace(proof, assets=("BTC", "ETH", "USDC"))


TAMPER_CASES = ("changed balance", "balance lowered to zero", "changed sibling sum", "changed sibling hash",
                "swapped sides", "moved leaf", "swapped levels", "changed customer id", "changed salt",
                "dropped a level", "other assets")


def test_every_tamper_case_is_listed(small):
    assert tuple(name for name, _ in tampered(prove(small[3], 5))) == TAMPER_CASES


@pytest.mark.parametrize("case", TAMPER_CASES)
def test_tampered_proofs_are_rejected(small, case):
    _, _, _, tree = small
    proof = dict(tampered(prove(tree, 5)))[case]
    result = verify_proof(proof, tree.root)
    assert not result.valid
    assert result.reason


def test_wrong_root_is_rejected(small):
    _, _, _, tree = small
    proof, root = prove(tree, 3), tree.root
    assert not verify_proof(proof, replace(root, hash=hashlib.sha256(b"other").digest())).valid
    lowered = replace(root, sums=(root.sums[0] - 1, *root.sums[1:]))
    assert "totals" in verify_proof(proof, lowered).reason
    assert not verify_proof(proof, replace(root, depth=root.depth + 1)).valid


def test_negative_sibling_sum_is_rejected_even_when_the_totals_add_up(small):
    """A custodian hiding liabilities: a negative sibling sum that cancels another customer's balance."""
    _, _, _, tree = small
    proof = prove(tree, 0)
    hidden = _bump(proof.sibling_sums, 0, 0, -(proof.sibling_sums[0][0] + 10**9))
    result = verify_proof(replace(proof, sibling_sums=hidden), tree.root)
    assert not result.valid and "negative" in result.reason
    result = verify_proof(replace(proof, balances=(-1, *proof.balances[1:])), tree.root)
    assert not result.valid and "negative" in result.reason


def test_a_lowered_root_with_consistent_sibling_sums_still_fails_on_the_hash(small):
    """Sibling sums are hashed into the parent: lowering a sibling's sum and the published total together is
    caught by the hash, not only by the sums."""
    _, _, _, tree = small
    proof, root = prove(tree, 4), tree.root
    lowered = _bump(proof.sibling_sums, proof_level := 2, 1, -5)
    assert proof_level < tree.depth
    fake_root = replace(root, sums=(root.sums[0], root.sums[1] - 5, root.sums[2]))
    result = verify_proof(replace(proof, sibling_sums=lowered), fake_root)
    assert not result.valid and "hash" in result.reason


def test_sums_beyond_64_bits_are_rejected(small):
    _, _, _, tree = small
    proof = prove(tree, 1)
    huge = _bump(proof.sibling_sums, 0, 0, 2**63)
    assert not verify_proof(replace(proof, sibling_sums=huge), tree.root).valid


def test_malformed_customer_ids_are_invalid_not_errors(small):
    _, _, _, tree = small
    proof = prove(tree, 2)
    for bad in ("\ud800", "", "x" * 70_000):
        result = verify_proof(replace(proof, customer_id=bad), tree.root)
        assert not result.valid and "customer id" in result.reason


def test_forged_root_without_the_tree_is_rejected():
    root = MerkleRoot(assets=ASSETS, hash=bytes(32), sums=(0, 0, 0), customers=1, depth=0)
    proof = InclusionProof(assets=ASSETS, customer_id="x", salt=bytes(16), balances=(0, 0, 0), leaf_index=0,
                           sides=(), sibling_hashes=(), sibling_sums=())
    assert not verify_proof(proof, root).valid


# --- build-time guards -----------------------------------------------------------------------------------
def test_negative_balance_is_rejected_at_build():
    ids, balances, salts = customers(5)
    balances[3, 1] = -1
    with pytest.raises(InputError, match="negative") as err:
        build_tree(ids, ASSETS, balances, salts)
    assert err.value.record == "customer 'c-3'" and err.value.field == "ETH"


def test_reused_salt_is_rejected_at_build():
    ids, balances, salts = customers(6)
    salts[4] = salts[1]
    with pytest.raises(InputError, match="salt reused"):
        build_tree(ids, ASSETS, balances, salts)


def test_duplicate_customer_and_short_salts_are_rejected():
    ids, balances, salts = customers(4)
    with pytest.raises(InputError, match="twice"):
        build_tree(["a", "b", "a", "c"], ASSETS, balances, salts)
    with pytest.raises(ValueError, match="16 bytes"):
        build_tree(ids, ASSETS, balances, salts[:, :8])
    with pytest.raises(ValueError, match="integers"):
        build_tree(ids, ASSETS, balances.astype(float), salts)


def test_leaf_binds_the_balances_and_salts_hide_equal_balances():
    """Two customers with identical balances get different leaves (distinct salts), and the same customer with
    another balance gets another root."""
    rng = np.random.default_rng(3)
    salts = salts_from_rng(2, rng)
    same = np.array([[5, 5, 5], [5, 5, 5]])
    tree = build_tree(["a", "b"], ASSETS, same, salts)
    assert not np.array_equal(tree.hashes[0][0], tree.hashes[0][1])
    other = build_tree(["a", "b"], ASSETS, np.array([[5, 5, 6], [5, 5, 5]]), salts)
    assert other.root.hash != tree.root.hash
    again = build_tree(["a", "b"], ASSETS, same, salts)
    assert again.root.hash == tree.root.hash  # deterministic given the inputs


# --- property: any small tree --------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_any_tree_matches_the_reference_and_every_proof_verifies(n, k, seed):
    rng = np.random.default_rng(seed)
    ids = [f"id-{rng.integers(10**9)}-{i}" for i in range(n)]
    balances = rng.integers(0, 2**40, size=(n, k))
    salts = salts_from_rng(n, rng)
    assets = tuple(f"A{j}" for j in range(k))
    tree = build_tree(ids, assets, balances, salts)
    leaves = [ref_leaf(c, salts[i].tobytes(), balances[i].tolist()) for i, c in enumerate(ids)]
    assert tree.root.hash == ref_root(leaves, k)[0]
    assert list(tree.root.sums) == [int(s) for s in balances.sum(axis=0)]
    assert all(verify_proof(prove(tree, i), tree.root).valid for i in range(n))


# --- review: ambiguous asset columns ---------------------------------------------------------------------
def test_duplicate_asset_names_are_refused_at_build_and_at_verification():
    """A root with two 'BTC' columns lets a custodian park the real BTC total in one column and publish the
    other: anything keyed by asset name (a backing ratio, the customer's display) then reads the wrong one."""
    ids, balances, salts = customers(3)
    with pytest.raises(InputError, match="twice") as err:
        build_tree(ids, ("BTC", "BTC", "USDT"), balances, salts)
    assert err.value.field == "assets"
    tree = build_tree(ids, ("BTC", "BTX", "USDT"), balances, salts)
    proof, root = prove(tree, 1), tree.root
    assert verify_proof(proof, root).valid
    # the same tree relabelled: hashes and sums still recompute, only the asset names are ambiguous
    dup = ("BTC", "BTC", "USDT")
    result = verify_proof(replace(proof, assets=dup), replace(root, assets=dup))
    assert not result.valid and "twice" in result.reason
