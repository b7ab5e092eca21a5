"""``ocdr`` entry point: ``ocdr <group> <command> [-e spec.yaml] [--print-spec] [key=value ...]``.

Every option of every command is a spec key (TAO style). The defaults come from the
command's dataclass; ``-e`` merges a YAML file; trailing ``key=value`` words override both.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from ocdr.cli.registry import COMMANDS, Command
from ocdr.config import describe_spec, load_spec, save_spec, spec_to_yaml
from ocdr.errors import OcdrError

# Importing these modules registers their commands.
from ocdr.cli import data as _data  # noqa: F401
from ocdr.cli import ocrnet as _ocrnet  # noqa: F401
from ocdr.cli import demo as _demo  # noqa: F401
from ocdr.cli import ocdnet as _ocdnet  # noqa: F401
from ocdr.cli import pipeline as _pipeline  # noqa: F401
from ocdr.cli import pretrained as _pretrained  # noqa: F401
from ocdr.cli import serve as _serve  # noqa: F401
from ocdr.cli import export as _export  # noqa: F401

__all__ = ["main", "build_parser"]


def _epilog(cmd: Command) -> str:
    rows = describe_spec(cmd.spec)
    width = min(max((len(k) for k, _, _ in rows), default=10), 34)
    keys = "\n".join(f"  {k:<{width}}  {help_} (default: {d})" for k, d, help_ in rows)
    return f"{cmd.description}\n\nexample:\n  {cmd.example}\n\nspec keys (set in -e spec.yaml or as key=value):\n{keys}"


def _add_command(sub: argparse._SubParsersAction, cmd: Command) -> None:
    p = sub.add_parser(
        cmd.name,
        help=cmd.summary,
        description=cmd.summary,
        epilog=_epilog(cmd),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-e", "--experiment_spec", "--spec", dest="spec_file", metavar="SPEC.yaml",
                   help="YAML experiment spec; keys not given keep their defaults")
    p.add_argument("--print-spec", action="store_true", help="print the resolved spec as YAML and exit")
    if "skip_bad" in {f for f in cmd.spec.__dataclass_fields__}:
        p.add_argument("--skip-bad", action="store_true",
                       help="skip bad records (reported and counted) instead of stopping at the first")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. train.num_epochs=3")
    p.set_defaults(command=cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocdr",
        description="ocdr: build your own OCR (detector + recognizer), TAO-style commands.",
        epilog="example:\n  ocdr data synth output_dir=data/synth num_pages=50\n\n"
               "Run 'ocdr <group> <command> --help' for a command's spec keys.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    groups = parser.add_subparsers(dest="group", metavar="<group>")
    by_group: dict[str, list[Command]] = {}
    for cmd in COMMANDS.values():
        by_group.setdefault(cmd.group, []).append(cmd)
    for group in sorted(by_group):
        cmds = by_group[group]
        if group == "":
            for cmd in cmds:
                _add_command(groups, cmd)
            continue
        gp = groups.add_parser(group, help=f"{group} commands: " + ", ".join(c.name for c in cmds),
                               description=f"ocdr {group} commands")
        sub = gp.add_subparsers(dest="name", metavar="<command>")
        for cmd in cmds:
            _add_command(sub, cmd)
        gp.set_defaults(group_parser=gp)
    return parser


def _sections(cmd: Command) -> set[str] | None:
    """The spec sections a TAO-style command reads (``ocdr ocrnet evaluate`` reads model and evaluate): a
    ``??`` left in another section of a one-file-for-every-task spec belongs to another command."""
    if cmd.name not in getattr(cmd.spec, "__dataclass_fields__", {}):
        # a flat spec that reads its own section of TAO's file (ocrnet dataset_convert), or no TAO layout at all
        return {cmd.name} if getattr(cmd.spec, "tao_layout", None) else None
    return {"model", "postprocess", cmd.name, *(("dataset",) if cmd.name == "train" else ())}


def run_command(cmd: Command, spec_file: str | None, overrides: list[str], print_spec: bool = False,
                skip_bad: bool = False):
    if skip_bad:
        overrides = [*overrides, "skip_bad=true"]
    if cmd.positional:
        overrides = [o if "=" in o else f"{cmd.positional}={o}" for o in overrides]
    spec = load_spec(cmd.spec, spec_file, overrides, validate=not print_spec, sections=_sections(cmd))
    if print_spec:
        sys.stdout.write(spec_to_yaml(spec))
        return None
    result = cmd.runner()(spec)
    out = getattr(spec, cmd.output_key, None) if cmd.output_key else None
    if out:
        slug = "_".join(p for p in (cmd.group, cmd.name) if p)
        save_spec(spec, out, f"{slug}_spec.yaml")
    return result


_OWN_OPTIONS = {"-e", "--experiment_spec", "--spec", "--print-spec", "--skip-bad", "-h", "--help", "-v", "--verbose"}


def options_as_overrides(argv: list[str]) -> list[str]:
    """``--key value`` and ``--key=value`` (any spec key, dotted ones too) become ``key=value``; a ``--flag``
    with no value becomes ``flag=true``. So ``ocdr serve --port 8080`` and ``ocdr serve port=8080`` agree."""
    out, i = [], 0
    while i < len(argv):
        tok = argv[i]
        name = tok.split("=", 1)[0]
        if tok.startswith("--") and len(tok) > 2 and name not in _OWN_OPTIONS:
            if "=" in tok:
                out.append(tok[2:])
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                out.append(f"{tok[2:]}={argv[i + 1]}")
                i += 1
            else:
                out.append(f"{tok[2:]}=true")
        else:
            out.append(tok)
            if tok in ("-e", "--experiment_spec", "--spec") and i + 1 < len(argv):
                out.append(argv[i + 1])
                i += 1
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(options_as_overrides(sys.argv[1:] if argv is None else list(argv)))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    cmd = getattr(args, "command", None)
    if cmd is None:
        (getattr(args, "group_parser", None) or parser).print_help()
        return 2
    try:
        result = run_command(cmd, args.spec_file, args.overrides, args.print_spec, getattr(args, "skip_bad", False))
    except OcdrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if isinstance(result, dict):
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
