"""Proof-of-reserves files: the published root, the custodian's private tree, and customers' proofs.

A ``ccm por build`` directory holds

* ``root.json`` — public: root hash, per-asset total liabilities (base units and decimal strings), the number
  of customers and the tree depth;
* ``tree.npz`` — private (it holds every customer's salt and balances): every level's hashes and sums, the
  customer ids and salts, from which ``ccm por prove`` answers without rebuilding.

A proof (``ccm por prove``) is one JSON document per customer with their leaf data and the sibling hash and
sums at every level; ``ccm por verify`` checks it against ``root.json``. Hashes and salts are lowercase hex.
"""

from __future__ import annotations

import json
import zipfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from ccm.errors import InputError
from ccm.io.files import read_document, require_file, require_mapping, write_atomic, write_text_atomic
from ccm.io.liabilities import MAX_DECIMALS, format_units
from ccm.reserves.merkle_sum import HASH_BYTES, MAX_SUM, InclusionProof, MerkleRoot, MerkleSumTree

ROOT_FORMAT = "ccm-por-root/1"
PROOF_FORMAT = "ccm-por-proof/1"
ROOT_FILE = "root.json"
TREE_FILE = "tree.npz"


def root_document(root: MerkleRoot, decimals: int) -> dict[str, Any]:
    """The public root as a JSON-ready dict."""
    return {
        "format": ROOT_FORMAT,
        "hash_algorithm": "sha256",
        "root_hash": root.hash.hex(),
        "assets": list(root.assets),
        "decimals": decimals,
        "liabilities": {a: format_units(s, decimals) for a, s in zip(root.assets, root.sums, strict=True)},
        "sums_units": [int(s) for s in root.sums],
        "customers": root.customers,
        "depth": root.depth,
    }


def proof_document(proof: InclusionProof, decimals: int) -> dict[str, Any]:
    """One customer's inclusion proof as a JSON-ready dict."""
    return {
        "format": PROOF_FORMAT,
        "assets": list(proof.assets),
        "decimals": decimals,
        "customer_id": proof.customer_id,
        "salt": proof.salt.hex(),
        "balances": {a: format_units(b, decimals) for a, b in zip(proof.assets, proof.balances, strict=True)},
        "balances_units": list(proof.balances),
        "leaf_index": proof.leaf_index,
        "path": [{"side": side, "hash": h.hex(), "sums_units": list(s)}
                 for side, h, s in zip(proof.sides, proof.sibling_hashes, proof.sibling_sums, strict=True)],
    }


def write_tree(directory: str | Path, tree: MerkleSumTree, decimals: int) -> None:
    """Write ``root.json`` and ``tree.npz`` into ``directory`` (created if missing), both atomically."""
    directory = Path(directory)
    arrays: dict[str, np.ndarray] = {"assets": np.array(tree.assets, dtype=str),
                                     "customer_ids": np.array(tree.customer_ids, dtype=str),
                                     "salts": tree.salts, "decimals": np.array(decimals)}
    for level, (h, s) in enumerate(zip(tree.hashes, tree.sums, strict=True)):
        arrays[f"hashes_{level}"] = h
        arrays[f"sums_{level}"] = s

    def write_npz(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez(handle, **arrays)

    root_text = json.dumps(root_document(tree.root, decimals), indent=1) + "\n"
    write_atomic({directory / TREE_FILE: write_npz,
                  directory / ROOT_FILE: lambda tmp: tmp.write_text(root_text, encoding="utf-8")})


def write_proof(path: str | Path, proof: InclusionProof, decimals: int) -> None:
    write_text_atomic(Path(path), json.dumps(proof_document(proof, decimals), indent=1) + "\n")


def load_tree(directory: str | Path) -> tuple[MerkleSumTree, int]:
    """Read a ``ccm por build`` directory back: (tree, decimals)."""
    directory = Path(directory)
    path = directory / TREE_FILE
    if not directory.is_dir():
        raise InputError("not a directory", file=str(directory), hint="pass the --out directory of ccm por build")
    require_file(path, what="proof-of-reserves tree")
    try:
        with np.load(path, allow_pickle=False) as data:
            levels = sum(1 for name in data.files if name.startswith("hashes_"))
            tree = MerkleSumTree(
                assets=tuple(str(a) for a in data["assets"]),
                customer_ids=tuple(str(c) for c in data["customer_ids"]),
                salts=data["salts"], hashes=tuple(data[f"hashes_{k}"] for k in range(levels)),
                sums=tuple(data[f"sums_{k}"] for k in range(levels)),
            )
            decimals = int(data["decimals"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise InputError(f"cannot read the tree: {err}", file=str(path),
                         hint="rebuild it with ccm por build") from None
    problem = _tree_shape_problem(tree)
    if problem:
        raise InputError(f"the tree is damaged: {problem}", file=str(path), hint="rebuild it with ccm por build")
    root, root_decimals = read_root(directory / ROOT_FILE)
    if root.hash != tree.root.hash or root_decimals != decimals:
        raise InputError("root.json does not match tree.npz (different root hash or decimals)",
                         file=str(directory / ROOT_FILE), hint="rebuild the directory with ccm por build")
    return tree, decimals


def _tree_shape_problem(tree: MerkleSumTree) -> str | None:
    """Why the arrays of a loaded tree cannot be the levels of one Merkle sum tree, or None: n customers and
    salts, every level but the root padded to an even count and half as long above, 32-byte hashes, k sums."""
    n, k = len(tree.customer_ids), len(tree.assets)
    if n < 1 or tree.salts.dtype != np.uint8 or tree.salts.ndim != 2 or tree.salts.shape[0] != n:
        return f"{n} customer ids but salts of shape {tree.salts.shape}"
    if not tree.hashes or len(tree.hashes) != len(tree.sums):
        return f"{len(tree.hashes)} levels of hashes and {len(tree.sums)} of sums"
    count = n
    for level, (h, s) in enumerate(zip(tree.hashes, tree.sums, strict=True)):
        expected = count + count % 2 if level < len(tree.hashes) - 1 else 1
        fits = h.shape == (expected, HASH_BYTES) and h.dtype == np.uint8 and s.shape == (expected, k)
        if count > expected or not fits or s.dtype != np.int64:
            return (f"level {level} has hashes {h.shape} and sums {s.shape}, expected ({expected}, {HASH_BYTES}) "
                    f"and ({expected}, {k})")
        count = expected // 2
    return None


def _int(value: Any, *, file: str, record: str, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"{value!r} is not an integer", file=file, record=record, field=field)
    return value


def _hex(value: Any, *, file: str, record: str, field: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except (TypeError, ValueError):
        raise InputError(f"{value!r} is not a hex string", file=file, record=record, field=field) from None


def _ints(value: Any, *, file: str, record: str, field: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise InputError(f"expected a list of integers, got {type(value).__name__}", file=file, record=record,
                         field=field)
    return tuple(_int(v, file=file, record=record, field=f"{field}[{k}]") for k, v in enumerate(value))


def _strings(value: Any, *, file: str, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError("expected a list of asset names", file=file, field=field)
    dup = next((v for k, v in enumerate(value) if v in value[:k]), None)
    if dup is not None:  # two columns of one name: by-name readers would take either total
        raise InputError(f"asset {dup!r} appears twice", file=file, field=field,
                         hint="each asset must be one column of sums")
    return tuple(value)


class ReadableMismatch(InputError):
    """A file's human-readable amounts disagree with its committed base units. ``ccm por verify`` reports it
    as an invalid proof (exit 1, a forgery shows another figure than the one verified); elsewhere it is bad
    input (exit 2)."""


def _check_readable(data: Any, name: str, assets: tuple[str, ...], units: tuple[int, ...], decimals: int, *,
                    file: str) -> None:
    """The human-readable amounts (``liabilities`` of a root, ``balances`` of a proof), when present, must state
    the committed base units: a reader of the file must not see another figure than the one verified."""
    if name not in data:
        return
    readable = data[name]
    if not isinstance(readable, dict) or set(readable) != set(assets):
        raise InputError(f"expected one amount per asset {list(assets)}", file=file, field=name)
    for asset, unit in zip(assets, units, strict=True):
        committed = Decimal(int(unit)).scaleb(-decimals)
        try:
            shown = Decimal(str(readable[asset]))
        except InvalidOperation:
            shown = None
        if shown != committed:
            raise ReadableMismatch(f"{asset} reads {readable[asset]!r} but the committed amount is "
                             f"{format_units(unit, decimals)}", file=file, record=name, field=asset,
                             hint="the readable figures must equal the *_units ones; regenerate the file")


def _field(data: Any, name: str, *, file: str, record: str | None = None) -> Any:
    if name not in data:
        raise InputError(f"missing field {name!r}", file=file, record=record, field=name)
    return data[name]


def _decimals(data: Any, *, file: str) -> int:
    decimals = _int(_field(data, "decimals", file=file), file=file, record=None, field="decimals")
    if not 0 <= decimals <= MAX_DECIMALS:
        raise InputError(f"decimals must be between 0 and {MAX_DECIMALS}", file=file, field="decimals")
    return decimals


def _check_format(data: Any, expected: str, *, file: str) -> None:
    if data.get("format") != expected:
        raise InputError(f"format is {data.get('format')!r}, expected {expected!r}", file=file, field="format",
                         hint="is this the right file? (root.json from ccm por build, a proof from ccm por prove)")


def read_root(path: str | Path) -> tuple[MerkleRoot, int]:
    """Read a published ``root.json``: (root, decimals)."""
    file = str(path)
    data = require_mapping(read_document(Path(path), what="proof-of-reserves root"), file=file, what="root")
    _check_format(data, ROOT_FORMAT, file=file)
    assets = _strings(_field(data, "assets", file=file), file=file, field="assets")
    sums = _ints(_field(data, "sums_units", file=file), file=file, record="root", field="sums_units")
    if len(sums) != len(assets):
        raise InputError(f"{len(sums)} sums for {len(assets)} assets", file=file, field="sums_units")
    root = MerkleRoot(
        assets=assets,
        hash=_hex(_field(data, "root_hash", file=file), file=file, record="root", field="root_hash"),
        sums=sums,
        customers=_int(_field(data, "customers", file=file), file=file, record="root", field="customers"),
        depth=_int(_field(data, "depth", file=file), file=file, record="root", field="depth"),
    )
    _check_root_shape(root, file=file)
    decimals = _decimals(data, file=file)
    _check_readable(data, "liabilities", root.assets, root.sums, decimals, file=file)
    return root, decimals


def _check_root_shape(root: MerkleRoot, *, file: str) -> None:
    """What ``ccm por build`` always publishes: ≥ 1 customer, depth ⌈log2 customers⌉, a 32-byte hash, per-asset
    sums in 0 … 2^63 − 1 (a negative total would read as a negative liability)."""
    if root.customers < 1:
        raise InputError(f"customers must be ≥ 1, got {root.customers}", file=file, record="root", field="customers")
    if root.depth != (root.customers - 1).bit_length():
        raise InputError(f"depth {root.depth} does not fit {root.customers} customers (a tree of them has depth "
                         f"{(root.customers - 1).bit_length()})", file=file, record="root", field="depth")
    if len(root.hash) != HASH_BYTES:
        raise InputError(f"the root hash has {len(root.hash)} bytes, expected {HASH_BYTES}", file=file, record="root",
                         field="root_hash")
    for asset, total in zip(root.assets, root.sums, strict=True):
        if not 0 <= total <= MAX_SUM:
            raise InputError(f"the {asset} total {total} is outside 0 … 2^63 − 1", file=file, record="root",
                             field="sums_units")


def read_proof(path: str | Path, *, check_readable: bool = True) -> tuple[InclusionProof, int]:
    """Read one customer's proof JSON: (proof, decimals). Malformed files raise InputError, readable balances
    that differ from ``balances_units`` :class:`ReadableMismatch` (unless ``check_readable`` is False); a
    well-formed but wrong proof is for :func:`ccm.reserves.merkle_sum.verify_proof` to reject."""
    file = str(path)
    data = require_mapping(read_document(Path(path), what="inclusion proof"), file=file, what="proof")
    _check_format(data, PROOF_FORMAT, file=file)
    path_steps = _field(data, "path", file=file)
    if not isinstance(path_steps, list):
        raise InputError("expected a list of steps", file=file, field="path")
    sides, hashes, sums = [], [], []
    for level, step in enumerate(path_steps):
        record = f"path[{level}]"
        if not isinstance(step, dict):
            raise InputError("expected an object with side, hash, sums_units", file=file, record=record)
        side = _field(step, "side", file=file, record=record)
        if side not in ("left", "right"):
            raise InputError(f"{side!r} is not left or right", file=file, record=record, field="side")
        sides.append(side)
        hashes.append(_hex(_field(step, "hash", file=file, record=record), file=file, record=record, field="hash"))
        sums.append(_ints(_field(step, "sums_units", file=file, record=record), file=file, record=record,
                          field="sums_units"))
    customer_id = _field(data, "customer_id", file=file)
    if not isinstance(customer_id, str):
        raise InputError("the customer id must be a string", file=file, field="customer_id")
    proof = InclusionProof(
        assets=_strings(_field(data, "assets", file=file), file=file, field="assets"),
        customer_id=customer_id,
        salt=_hex(_field(data, "salt", file=file), file=file, record="leaf", field="salt"),
        balances=_ints(_field(data, "balances_units", file=file), file=file, record="leaf", field="balances_units"),
        leaf_index=_int(_field(data, "leaf_index", file=file), file=file, record="leaf", field="leaf_index"),
        sides=tuple(sides), sibling_hashes=tuple(hashes), sibling_sums=tuple(sums),
    )
    decimals = _decimals(data, file=file)
    if check_readable and len(proof.balances) == len(proof.assets):  # else verify_proof reports the count
        _check_readable(data, "balances", proof.assets, proof.balances, decimals, file=file)
    return proof, decimals
