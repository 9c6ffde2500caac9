"""Book: instruments, accounts, positions and collateral in columnar (sparse) form."""

from ccm.book.book import Book
from ccm.book.build import (
    BookColumns,
    CollateralColumns,
    InstrumentColumns,
    PositionColumns,
    book_from_arrays,
    build_book,
)
from ccm.book.instruments import Account, Instrument, InstrumentTable, Position

__all__ = [
    "Account",
    "Book",
    "BookColumns",
    "CollateralColumns",
    "Instrument",
    "InstrumentColumns",
    "InstrumentTable",
    "Position",
    "PositionColumns",
    "book_from_arrays",
    "build_book",
]
