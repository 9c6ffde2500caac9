"""One exception tree for ccm.

Every error caused by the user's input is an :class:`InputError` that names where the problem is
(file, record, field) and, where possible, how to fix it. The CLI prints it and exits 2; the API
answers 422.
"""

from __future__ import annotations


class CcmError(Exception):
    """Base class of every error ccm raises on purpose."""


class InputError(CcmError):
    """Bad input: names the file, the record and the field, and says how to fix it.

    Parameters
    ----------
    message : what is wrong, in one sentence.
    file : the file (or logical source, e.g. ``"market"``) the value came from.
    record : the record inside it, e.g. ``"accounts[3] (id=acc-7)"`` or ``"row 17"``.
    field : the field inside the record, e.g. ``"positions[2].quantity"``.
    hint : how to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        record: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.record = record
        self.field = field
        self.hint = hint
        super().__init__(self.__str__())

    def located(self, *, file: str | None = None) -> InputError:
        """Return a copy that names ``file`` when the error did not know it yet."""
        if self.file is not None or file is None:
            return self
        return InputError(self.message, file=file, record=self.record, field=self.field, hint=self.hint)

    def relocated(self, files: dict[str, str]) -> InputError:
        """Return a copy whose logical file name (e.g. ``"market"``) is replaced by its real path."""
        if self.file not in files:
            return self
        return InputError(self.message, file=files[self.file], record=self.record, field=self.field,
                          hint=self.hint)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "file": self.file,
            "record": self.record,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                self.file,
                f"record {self.record}" if self.record else None,
                f"field '{self.field}'" if self.field else None,
            )
            if part
        )
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class ModelError(CcmError):
    """A margin or pricing model was asked for something it cannot compute."""


#: Optional packages by top-level module name → the ``ccm[extra]`` that installs them.
OPTIONAL_EXTRAS = {
    "fastapi": "service", "starlette": "service", "uvicorn": "service", "multipart": "service",
    "sqlalchemy": "service", "alembic": "service", "psycopg": "service",
    "dask": "dist", "distributed": "dist",
    "arch": "ml",
}


class MissingExtraError(CcmError):
    """An optional dependency is not installed: says which ``ccm[extra]`` provides it."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.extra = OPTIONAL_EXTRAS.get(module.split(".")[0], "all")
        super().__init__(f"this needs the optional package {module.split('.')[0]!r}, which is not installed "
                         f"(pip install 'ccm[{self.extra}]')")

    @classmethod
    def from_import_error(cls, error: ImportError) -> MissingExtraError | None:
        """The error to report for ``error`` when it is a missing optional package, else None."""
        name = getattr(error, "name", None) or ""
        return cls(name) if isinstance(error, ModuleNotFoundError) and name.split(".")[0] in OPTIONAL_EXTRAS else None
