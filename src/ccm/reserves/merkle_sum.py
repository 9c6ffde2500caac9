"""Proof of liabilities: a Merkle sum tree over customers' per-asset balances, inclusion proofs, verification.

Every node holds a SHA-256 hash and a vector of per-asset sums (non-negative integers in base units, e.g.
1e-8 of a coin). With ``k`` assets, big-endian signed 64-bit encoding ``be(·)`` and ``‖`` for concatenation::

    leaf   hash = H(LEAF_TAG ‖ u16(len(id)) ‖ id ‖ salt ‖ be(balances))     sums = balances
    parent hash = H(NODE_TAG ‖ left.hash ‖ be(left.sums) ‖ right.hash ‖ be(right.sums))
           sums = left.sums + right.sums
    padding (a level with an odd count gets one): hash = H(PAD_TAG), sums = 0

The root's sums are the total liabilities per asset. A customer receives their leaf data (id, salt, balances)
and, for each level, the sibling's hash and sums; they recompute the path to the published root.

Known attacks on such trees (reference/defi.md §3.2) and how this module closes them:

* negative balances understate liabilities: rejected at build; the verifier rejects any negative sum
  on the path and recomputes every parent sum as the sum of its children;
* a shared salt maps identical balances to one leaf: salts must be distinct (rejected at build), at least
  ``MIN_SALT_BYTES`` long;
* a leaf hash that omits the balance: the leaf hash binds id, salt and every balance;
* sibling sums the verifier cannot check: each sibling's sums are hashed into its parent, so the verifier
  recomputes them level by level up to the root hash;
* a leaf reused as an internal node (second preimage): leaves, nodes and padding use distinct tags;
* an asset named twice (two "BTC" columns): the real total in one column, the other published by name —
  refused at build and by the verifier.

Pure logic: hashing with :mod:`hashlib` (no I/O). Salts come from the caller (``os.urandom`` in the shells,
:func:`salts_from_rng` for tests and benchmarks), so a build is deterministic given its inputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ccm._typing import IntArray
from ccm.errors import InputError

LEAF_TAG = b"ccm.por.leaf.v1\x00"
NODE_TAG = b"ccm.por.node.v1\x00"
PAD_TAG = b"ccm.por.pad.v1\x00"
PAD_HASH = hashlib.sha256(PAD_TAG).digest()
HASH_BYTES = 32
MIN_SALT_BYTES = 16
MAX_ID_BYTES = 0xFFFF
#: Largest sum a node may hold (signed 64-bit encoding).
MAX_SUM = 2**63 - 1
#: Logical file name of liabilities errors; shells replace it with the real path (``InputError.relocated``).
LIABILITIES = "liabilities"


@dataclass(frozen=True, slots=True, kw_only=True)
class MerkleSumTree:
    """A built tree (private to the custodian: it holds every customer's salt and balances).

    Attributes
    ----------
    assets : tuple of the k asset names (the columns of every sums array).
    customer_ids : tuple of the n customer ids, in leaf order.
    salts : ndarray of uint8, shape (n, salt_bytes).
    hashes : per level from the leaves (level 0) to the root, ndarray of uint8 of shape (m_l, 32); every
        level but the root has an even count (padded).
    sums : per level, ndarray of int64 of shape (m_l, k), base units.
    """

    assets: tuple[str, ...]
    customer_ids: tuple[str, ...]
    salts: np.ndarray
    hashes: tuple[np.ndarray, ...]
    sums: tuple[IntArray, ...]

    @property
    def depth(self) -> int:
        """Number of levels above the leaves (= proof length)."""
        return len(self.hashes) - 1

    @property
    def root(self) -> MerkleRoot:
        return MerkleRoot(assets=self.assets, hash=self.hashes[-1][0].tobytes(),
                          sums=tuple(int(s) for s in self.sums[-1][0]), customers=len(self.customer_ids),
                          depth=self.depth)

    @property
    def balances(self) -> IntArray:
        """Customer balances in base units, int64 of shape (n, k)."""
        return self.sums[0][: len(self.customer_ids)]


@dataclass(frozen=True, slots=True, kw_only=True)
class MerkleRoot:
    """What the custodian publishes: the root hash and per-asset total liabilities (base units)."""

    assets: tuple[str, ...]
    hash: bytes
    sums: tuple[int, ...]
    customers: int
    depth: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InclusionProof:
    """One customer's proof: their leaf data and, per level from the bottom, the sibling's hash and sums.

    ``sides[l]`` is ``"left"`` or ``"right"``: where the sibling sits at level l (bit l of ``leaf_index``:
    1 → the sibling is on the left).
    """

    assets: tuple[str, ...]
    customer_id: str
    salt: bytes
    balances: tuple[int, ...]
    leaf_index: int
    sides: tuple[str, ...]
    sibling_hashes: tuple[bytes, ...]
    sibling_sums: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationResult:
    """``valid`` and, when not, the first reason found."""

    valid: bool
    reason: str | None = None


def salts_from_rng(n: int, rng: np.random.Generator, *, salt_bytes: int = MIN_SALT_BYTES) -> np.ndarray:
    """n random salts, uint8 of shape (n, salt_bytes) (for tests and benchmarks; use ``os.urandom`` in
    production so that salts cannot be guessed from a seed)."""
    return rng.integers(0, 256, size=(n, salt_bytes), dtype=np.uint8)


def _be(sums: IntArray) -> np.ndarray:
    """Big-endian bytes of int64 sums (m, k) → uint8 (m, 8k)."""
    return np.ascontiguousarray(sums, dtype=">i8").view(np.uint8).reshape(sums.shape[0], -1)


def _hash_rows(preimages: np.ndarray) -> np.ndarray:
    """SHA-256 of every row of a uint8 (m, L) array → uint8 (m, 32)."""
    m, width = preimages.shape
    buf = memoryview(np.ascontiguousarray(preimages)).cast("B")
    sha = hashlib.sha256
    digests = b"".join([sha(buf[i * width:(i + 1) * width]).digest() for i in range(m)])
    return np.frombuffer(digests, dtype=np.uint8).reshape(m, HASH_BYTES)


def _leaf_hashes(id_bytes: Sequence[bytes], fixed: np.ndarray) -> np.ndarray:
    """Leaf hashes from encoded ids and the fixed-width part (salt ‖ balances), uint8 (n, 32)."""
    width = fixed.shape[1]
    buf = memoryview(np.ascontiguousarray(fixed)).cast("B")
    sha = hashlib.sha256
    digests = b"".join([
        sha(b"".join((LEAF_TAG, len(b).to_bytes(2, "big"), b, buf[i * width:(i + 1) * width]))).digest()
        for i, b in enumerate(id_bytes)])
    return np.frombuffer(digests, dtype=np.uint8).reshape(len(id_bytes), HASH_BYTES)


def _pad(hashes: np.ndarray, sums: IntArray) -> tuple[np.ndarray, IntArray]:
    if hashes.shape[0] % 2 == 0:
        return hashes, sums
    pad_hash = np.frombuffer(PAD_HASH, dtype=np.uint8)[None, :]
    return np.concatenate([hashes, pad_hash]), np.concatenate([sums, np.zeros((1, sums.shape[1]), np.int64)])


def _check_assets(assets: tuple[str, ...]) -> None:
    """Asset names must be distinct: a repeated name makes every by-name reading of the sums ambiguous."""
    seen: set[str] = set()
    dup = next((a for a in assets if a in seen or seen.add(a)), None)
    if dup is not None:
        raise InputError(f"asset {dup!r} appears twice (each asset must be one column of sums)", file=LIABILITIES,
                         field="assets")


def _check_build_inputs(customer_ids: Sequence[str], balances: IntArray, salts: np.ndarray,
                        assets: tuple[str, ...]) -> list[bytes]:
    _check_assets(assets)
    n = len(customer_ids)
    if n == 0:
        raise InputError("no customers: a tree needs at least one", file=LIABILITIES)
    if balances.shape != (n, len(assets)):
        raise ValueError(f"balances has shape {balances.shape}, expected {(n, len(assets))}")
    if salts.ndim != 2 or salts.shape[0] != n or salts.dtype != np.uint8:
        raise ValueError(f"salts must be uint8 of shape ({n}, salt_bytes), got {salts.dtype} {salts.shape}")
    if salts.shape[1] < MIN_SALT_BYTES:
        raise ValueError(f"salts must have at least {MIN_SALT_BYTES} bytes, got {salts.shape[1]}")
    negative = np.argwhere(balances < 0)
    if negative.size:
        i, a = negative[0]
        raise InputError(f"negative balance {int(balances[i, a])} (a negative leaf would understate the total)",
                         file=LIABILITIES, record=f"customer {customer_ids[i]!r}", field=assets[a],
                         hint="net debts against the customer's other assets before building, or drop the row")
    totals = balances.sum(axis=0, dtype=np.float64)
    if np.any(totals > MAX_SUM / 2):  # float check with a margin: an int64 sum must not overflow
        a = int(np.argmax(totals))
        raise InputError(f"total liabilities of {assets[a]} exceed the 64-bit range in base units",
                         file=LIABILITIES, field=assets[a], hint="use fewer decimals")
    rows = np.ascontiguousarray(salts).view(f"V{salts.shape[1]}").ravel()
    unique, first, counts = np.unique(rows, return_index=True, return_counts=True)
    if unique.shape[0] != n:
        dup = int(first[np.argmax(counts > 1)])
        raise InputError("salt reused by another customer (identical balances would share one leaf)",
                         record=f"customer {customer_ids[dup]!r}", field="salt", hint="draw a fresh salt per customer")
    encoded = [str(c).encode("utf-8") for c in customer_ids]
    for c, b in zip(customer_ids, encoded, strict=True):
        if not b or len(b) > MAX_ID_BYTES:
            raise InputError(f"customer id must have 1 to {MAX_ID_BYTES} bytes", file=LIABILITIES,
                             record=f"customer {c!r}", field="customer_id")
    if len(set(customer_ids)) != n:
        seen: set[str] = set()
        dup_id = next(c for c in customer_ids if c in seen or seen.add(c))
        raise InputError("customer id appears twice", file=LIABILITIES, record=f"customer {dup_id!r}",
                         field="customer_id", hint="aggregate each customer's balances into one leaf")
    return encoded


def build_tree(customer_ids: Sequence[str], assets: Sequence[str], balances: IntArray,
               salts: np.ndarray) -> MerkleSumTree:
    """Build the Merkle sum tree, level by level (numpy for sums and preimages, one SHA-256 per node).

    Parameters
    ----------
    customer_ids : n distinct customer ids (leaf order).
    assets : the k asset names.
    balances : int64 array of shape (n, k), non-negative base units.
    salts : uint8 array of shape (n, salt_bytes ≥ 16), distinct rows.

    Raises
    ------
    InputError for negative balances, reused salts, duplicate or empty ids, totals beyond 64 bits.
    """
    assets = tuple(assets)
    balances = np.asarray(balances)
    if balances.dtype.kind not in "iu":
        raise ValueError(f"balances must be integers (base units), got {balances.dtype}")
    balances = balances.astype(np.int64)
    encoded = _check_build_inputs(customer_ids, balances, salts, assets)
    hashes = _leaf_hashes(encoded, np.concatenate([salts, _be(balances)], axis=1))
    sums = balances.copy()
    levels_h, levels_s = [], []
    while hashes.shape[0] > 1:
        hashes, sums = _pad(hashes, sums)
        levels_h.append(hashes)
        levels_s.append(sums)
        left_h, right_h, left_s, right_s = hashes[0::2], hashes[1::2], sums[0::2], sums[1::2]
        tag = np.broadcast_to(np.frombuffer(NODE_TAG, dtype=np.uint8), (left_h.shape[0], len(NODE_TAG)))
        hashes = _hash_rows(np.concatenate([tag, left_h, _be(left_s), right_h, _be(right_s)], axis=1))
        sums = left_s + right_s
    levels_h.append(hashes)
    levels_s.append(sums)
    return MerkleSumTree(assets=assets, customer_ids=tuple(str(c) for c in customer_ids),
                         salts=np.ascontiguousarray(salts), hashes=tuple(levels_h), sums=tuple(levels_s))


def proof_paths(tree: MerkleSumTree, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, IntArray]:
    """Sibling hashes and sums of many leaves at once.

    Returns
    -------
    (hashes, sums) : uint8 of shape (m, depth, 32) and int64 of shape (m, depth, k); the sibling at level l
    sits on the left when bit l of the leaf index is 1.
    """
    idx = np.asarray(indices, dtype=np.int64).copy()
    m, depth, k = idx.shape[0], tree.depth, len(tree.assets)
    out_h = np.empty((m, depth, HASH_BYTES), dtype=np.uint8)
    out_s = np.empty((m, depth, k), dtype=np.int64)
    for level in range(depth):
        sibling = idx ^ 1
        out_h[:, level] = tree.hashes[level][sibling]
        out_s[:, level] = tree.sums[level][sibling]
        idx >>= 1
    return out_h, out_s


def prove(tree: MerkleSumTree, index: int) -> InclusionProof:
    """The inclusion proof of the customer at leaf ``index``."""
    n = len(tree.customer_ids)
    if not 0 <= index < n:
        raise IndexError(f"leaf index {index} outside 0..{n - 1}")
    hashes, sums = proof_paths(tree, [index])
    return InclusionProof(
        assets=tree.assets, customer_id=tree.customer_ids[index], salt=tree.salts[index].tobytes(),
        balances=tuple(int(b) for b in tree.sums[0][index]), leaf_index=index,
        sides=tuple("left" if (index >> level) & 1 else "right" for level in range(tree.depth)),
        sibling_hashes=tuple(h.tobytes() for h in hashes[0]),
        sibling_sums=tuple(tuple(int(v) for v in s) for s in sums[0]),
    )


def _encode_sums(sums: Sequence[int]) -> bytes:
    return b"".join(int(s).to_bytes(8, "big", signed=True) for s in sums)


def leaf_hash(customer_id: str, salt: bytes, balances: Sequence[int]) -> bytes:
    """The leaf hash of one customer (as in the tree)."""
    b = customer_id.encode("utf-8")
    return hashlib.sha256(LEAF_TAG + len(b).to_bytes(2, "big") + b + salt + _encode_sums(balances)).digest()


def node_hash(left_hash: bytes, left_sums: Sequence[int], right_hash: bytes, right_sums: Sequence[int]) -> bytes:
    """The hash of a parent node from its children."""
    return hashlib.sha256(NODE_TAG + left_hash + _encode_sums(left_sums) + right_hash
                          + _encode_sums(right_sums)).digest()


def _check_sums(sums: Sequence[int], k: int, what: str) -> str | None:
    if len(sums) != k:
        return f"{what} has {len(sums)} sums, expected {k} (one per asset)"
    if any(s < 0 for s in sums):
        return f"{what} has a negative sum"
    if any(s > MAX_SUM for s in sums):
        return f"{what} has a sum beyond the 64-bit range"
    return None


def verify_proof(proof: InclusionProof, root: MerkleRoot) -> VerificationResult:
    """Recompute the path from the customer's leaf to the root.

    Checks, in order: same assets as the root, each named once; path length = root depth; leaf index inside the tree and
    consistent with the sides; non-negative balances and sibling sums; every parent's sums = the sum of its
    children's (recomputed, in exact integers); the final hash and sums equal the root's.
    """
    def invalid(reason: str) -> VerificationResult:
        return VerificationResult(valid=False, reason=reason)

    k = len(root.assets)
    if proof.assets != root.assets:
        return invalid(f"the proof's assets {list(proof.assets)} differ from the root's {list(root.assets)}")
    if len(set(root.assets)) != k:
        dup = next(a for a in root.assets if root.assets.count(a) > 1)
        return invalid(f"asset {dup!r} appears twice in the root (each asset must be one column of sums)")
    depth = len(proof.sibling_hashes)
    if depth != root.depth or len(proof.sibling_sums) != depth or len(proof.sides) != depth:
        return invalid(f"the path has {depth} levels, the root's tree has {root.depth}")
    if not 0 <= proof.leaf_index < max(root.customers, 1) or proof.leaf_index >> depth:
        return invalid(f"leaf index {proof.leaf_index} is outside the tree of {root.customers} customers")
    if len(proof.salt) < MIN_SALT_BYTES:
        return invalid(f"the salt has {len(proof.salt)} bytes, fewer than {MIN_SALT_BYTES}")
    problem = _check_sums(proof.balances, k, "the customer's leaf")
    if problem:
        return invalid(problem)
    try:
        id_length = len(proof.customer_id.encode("utf-8"))
    except UnicodeEncodeError:
        return invalid("the customer id is not valid Unicode text")
    if not 0 < id_length <= MAX_ID_BYTES:
        return invalid(f"the customer id must have 1 to {MAX_ID_BYTES} bytes")
    current_hash = leaf_hash(proof.customer_id, proof.salt, proof.balances)
    current_sums = [int(b) for b in proof.balances]
    for level in range(depth):
        side = "left" if (proof.leaf_index >> level) & 1 else "right"
        if proof.sides[level] != side:
            return invalid(f"level {level}: the sibling is given on the {proof.sides[level]}, but leaf index "
                           f"{proof.leaf_index} puts it on the {side}")
        sib_hash, sib_sums = proof.sibling_hashes[level], [int(s) for s in proof.sibling_sums[level]]
        if len(sib_hash) != HASH_BYTES:
            return invalid(f"level {level}: the sibling hash has {len(sib_hash)} bytes, expected {HASH_BYTES}")
        problem = _check_sums(sib_sums, k, f"level {level}: the sibling")
        if problem:
            return invalid(problem)
        if side == "left":
            current_hash = node_hash(sib_hash, sib_sums, current_hash, current_sums)
        else:
            current_hash = node_hash(current_hash, current_sums, sib_hash, sib_sums)
        current_sums = [a + b for a, b in zip(current_sums, sib_sums, strict=True)]
        problem = _check_sums(current_sums, k, f"level {level + 1}: the parent")
        if problem:
            return invalid(problem)
    if current_sums != [int(s) for s in root.sums]:
        return invalid("the recomputed per-asset totals differ from the root's sums")
    if current_hash != root.hash:
        return invalid("the recomputed root hash differs from the published root hash")
    return VerificationResult(valid=True)
