"""Files ↔ domain objects: books (JSON/YAML/CSV/Parquet), market snapshots (JSON) and risk configs (YAML).

This is the boundary layer: it may use pydantic, PyYAML and pyarrow; the numerical core does not. Every
problem with an input file raises :class:`ccm.errors.InputError` naming the file, the record and the field;
writers replace their target atomically, so an error never leaves a half-written file.
"""

from ccm.io.book import (
    book_to_dict,
    load_book,
    load_book_columns,
    write_book_csv,
    write_book_json,
    write_book_parquet,
)
from ccm.io.config import config_to_dict, deep_merge, load_config, write_config_yaml
from ccm.io.market import load_market, market_from_dict, market_to_dict, write_market_json

__all__ = [
    "book_to_dict",
    "config_to_dict",
    "deep_merge",
    "load_book",
    "load_book_columns",
    "load_config",
    "load_market",
    "market_from_dict",
    "market_to_dict",
    "write_book_csv",
    "write_book_json",
    "write_book_parquet",
    "write_config_yaml",
    "write_market_json",
]
