"""``ccm config show``: the effective risk configuration, with the source of every value."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
import yaml

from ccm.cli.output import exit_on_error, write_text

config_app = typer.Typer(
    help="The risk configuration: a user file is merged over the packaged default (mappings key by key, lists "
    "and scalars replace, null removes). [bold]ccm config show[/bold] prints what results and where each value "
    "came from.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

COMMENT_COLUMN = 56  # where the source comments start in the YAML listing


class ShowFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


def _flow(value: Any) -> str:
    """``value`` as one line of YAML (flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _line(text: str, comment: str) -> str:
    return f"{text:<{COMMENT_COLUMN - 2}}  # {comment}"


def yaml_listing(effective: Mapping[str, Any], sources: Mapping[str, Any]) -> list[str]:
    """The lines of ``effective`` as block YAML, each value followed by ``# <source>``."""
    lines: list[str] = []

    def walk(data: Mapping[str, Any], indent: int, path: str) -> None:
        pad = " " * indent
        for key, value in data.items():
            name = _flow(key) if not isinstance(key, str) or _flow(key) != key else key
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, Mapping) and value:
                lines.append(f"{pad}{name}:")
                walk(value, indent + 2, where)
            elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
                lines.append(_line(f"{pad}{name}:", str(sources[where])))
                lines.extend(f"{pad}  - {_flow(v)}" for v in value)
            elif where in sources:
                lines.append(_line(f"{pad}{name}: {_flow(value)}", str(sources[where])))
            else:
                lines.append(f"{pad}{name}: {_flow(value)}")

    walk(effective, 0, "")
    return lines


def show_yaml(traced, haircuts: Mapping[str, Any], notes: list[str]) -> str:
    head = ["# Effective ccm risk configuration"
            + (f": {traced.user_file} merged over the packaged default" if traced.user_file else
               ": the packaged default"),
            "# (complete: `inherit_default: false`, so this listing read back as --config gives the same numbers).",
            "# Each value's comment names its source: your file and line, a preset, the packaged default, or the",
            "# built-in default of a setting no file gives.", "#",
            "# Haircut before the size add-on and the tiers, max(static, z·σ·√(liquidation_days/365)):"]
    for asset, h in haircuts.items():
        head.append(f"#   {asset:<8} {100 * h['haircut']:6.2f} %  = the {h['binding']} haircut (static "
                    f"{100 * h['static_haircut']:.2f} %, volatility {100 * h['volatility_haircut']:.2f} %)")
    for note in notes:
        head.extend(textwrap.wrap(note, width=114, initial_indent="# note: ", subsequent_indent="#   "))
    head.append("# The alert rules (alerts:) are read from your file alone, over the engine's defaults.")
    return "\n".join(head + yaml_listing(traced.effective, traced.sources)) + "\n"


@config_app.command("show")
def show(
    config: Path | None = typer.Option(None, "--config", "-c", help="Your risk configuration (YAML or JSON); "
                                       "without it, the packaged default."),
    preset: str | None = typer.Option(None, "--preset", help="A DeFi protocol preset merged under --config: "
                                      "aave-v3 | compound-v3 | maker | liquity-v1."),
    fmt: ShowFormat = typer.Option(ShowFormat.YAML, "--format", "-f", help="yaml: the configuration with a "
                                   "source comment on every value; json: {config, sources, effective_haircuts} (an "
                                   "open-ended tier's up_to_usd is null)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout (atomically)."),
) -> None:
    """Print the effective risk configuration and the source of every value (file and line).

    Example: [bold]ccm config show --config my-risk.yaml[/bold] — then look for `your file` in the comments:
    everything else still comes from the packaged default (e.g. the BTC volatility haircut).
    """
    from ccm.io.config import load_config_traced
    from ccm.io.haircut_report import effective_haircuts, haircut_notes

    with exit_on_error():
        traced = load_config_traced(config, preset=preset)
        assets = [a for a in traced.config.assets if a != "default"]
        haircuts = effective_haircuts(traced, assets)
        if fmt is ShowFormat.JSON:
            doc = {"config": traced.effective, "sources": {k: v.as_dict() for k, v in traced.sources.items()},
                   "effective_haircuts": haircuts}
            text = json.dumps(_finite(doc), indent=1, allow_nan=False)
        else:
            text = show_yaml(traced, haircuts, haircut_notes(traced, assets))
        write_text(text, out)


def _finite(value: Any) -> Any:
    """JSON has no infinity: an open-ended tier's ``up_to_usd: .inf`` becomes null."""
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
