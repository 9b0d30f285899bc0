"""``mnist-widgets cache list | info | verify | rm | clear | fetch``: manage the local model store.

Like TF.js's ``tf.io.listModels`` / ``removeModel`` and ``huggingface-cli scan-cache``. The store is
``$MNIST_WIDGETS_CACHE`` or the user cache directory; ``--cache-dir`` picks another one.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import TYPE_CHECKING, TypeGuard

from ..errors import MnistWidgetsError
from ._text import size
from ._types import positive_float

if TYPE_CHECKING:
    from ..store import BrokenEntry, CacheEntry, ModelStore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="list, inspect, verify, fetch or remove models in the local model store",
        description="Manage the local model store (cache://NAME entries).",
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=None,
        help="model store directory (default: $MNIST_WIDGETS_CACHE or the user cache dir)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="table of stored models").set_defaults(func=_list)
    info = actions.add_parser("info", help="metadata of one model (source, ETag, hashes)")
    info.add_argument("name", metavar="NAME")
    info.set_defaults(func=_info)
    verify = actions.add_parser("verify", help="check stored files against their SHA-256")
    verify.add_argument("name", metavar="NAME", nargs="?", default=None)
    verify.set_defaults(func=_verify)
    rm = actions.add_parser("rm", help="remove one model")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(func=_rm)
    clear = actions.add_parser("clear", help="remove every model")
    clear.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    clear.set_defaults(func=_clear)
    fetch = actions.add_parser(
        "fetch",
        help="download a model into the store (for later offline use)",
        description="Download URL (a model.json) into the store without loading TensorFlow.",
    )
    fetch.add_argument("url", metavar="URL")
    fetch.add_argument("--name", default=None, help="entry name (default: derived from the URL)")
    fetch.add_argument(
        "--strategy",
        default="network-first",
        help="caching strategy (default network-first: refresh if the server's copy changed)",
    )
    fetch.add_argument(
        "--timeout", type=positive_float, default=10.0, help="seconds, > 0 (default 10)"
    )
    fetch.set_defaults(func=_fetch)


def _store(args: argparse.Namespace) -> ModelStore:
    from ..store import ModelStore  # deferred: the store (and NumPy) only when run, not --help

    return ModelStore(args.cache_dir)


def _when(stamp: str | None) -> str:
    return (stamp or "-").replace("T", " ").replace("+00:00", "Z")


def _broken(entry: CacheEntry | BrokenEntry) -> TypeGuard[BrokenEntry]:
    """A ``store.BrokenEntry`` (told apart without importing the store for ``--help``)."""
    return not hasattr(entry, "metadata")


def _usable(entry: CacheEntry | BrokenEntry) -> TypeGuard[CacheEntry]:
    return not _broken(entry)


def _row(entry: CacheEntry | BrokenEntry) -> tuple[str, ...]:
    if not _usable(entry):  # listed, with what is wrong
        return (entry.name, "BROKEN", "-", "-", "-")
    e = entry
    return (e.name, e.source_url or "-", size(e.size_bytes), _when(e.saved_at), _when(e.last_used))


def format_table(entries: list[CacheEntry | BrokenEntry]) -> str:
    """The ``cache list`` table: name, source, size, saved, last used (broken entries marked)."""
    header = ("NAME", "SOURCE", "SIZE", "SAVED", "LAST USED")
    rows = [_row(e) for e in entries]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    entries = store.entries()
    if not entries:
        print(f"no models in {store.root}")
        return 0
    print(format_table(entries))
    good = [e for e in entries if _usable(e)]
    total = sum(e.size_bytes for e in good)
    print(f"\n{len(good)} model(s), {size(total)} in {store.root}")
    broken = [e for e in entries if _broken(e)]
    for entry in broken:
        print(f"broken: {entry.name}: {entry.problem}", file=sys.stderr)
    return 1 if broken else 0


def _info(args: argparse.Namespace) -> int:
    entry = _store(args).info(args.name)
    print(f"name:          {entry.name}  ({entry.url})")
    print(f"source:        {entry.source_url or '-'}")
    print(f"etag:          {entry.etag or '-'}")
    print(f"last-modified: {entry.last_modified or '-'}")
    print(f"saved:         {_when(entry.saved_at)}")
    print(f"last used:     {_when(entry.last_used)}")
    print(f"size:          {size(entry.size_bytes)} ({entry.size_bytes:,} bytes)")
    print(f"path:          {entry.path}")
    print("files:")
    for rel, meta in entry.files.items():
        print(f"  {rel}  {meta.size:,} bytes  sha256 {meta.sha256}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    store = _store(args)
    results = store.verify(args.name)  # hashes, metadata, and that it decodes into a model
    if not results:
        print(f"no models in {store.root}")
        return 0
    for result in results:
        print(
            f"{'ok' if result.ok else 'CORRUPT'}  {result.name}"
            + (f": {result.problem}" if result.problem else "")
        )
    bad = [r.name for r in results if not r.ok]
    if bad:
        print(
            f"{len(bad)} corrupt ({', '.join(bad)}): re-downloaded on the next load with the "
            "network allowed, or remove them with `mnist-widgets cache rm NAME`",
            file=sys.stderr,
        )
        return 1
    return 0


def _rm(args: argparse.Namespace) -> int:
    entry = _store(args).remove_model(args.name)
    what = f" ({size(entry.size_bytes)})" if _usable(entry) else " (broken)"
    print(f"removed {entry.url}{what}")
    return 0


def _clear(args: argparse.Namespace) -> int:
    store = _store(args)
    if not args.yes:
        if not sys.stdin.isatty():
            msg = f"refusing to clear {store.root} without confirmation; pass --yes"
            raise MnistWidgetsError(msg)
        answer = input(f"Remove every model in {store.root}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 0
    count = store.clear()
    print(f"removed {count} model(s) from {store.root}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from ..engines import graph_deriver  # deferred: numpy and the engines, for a fetch only
    from ..loader import STRATEGIES, NetworkOptions, fetch_artifacts  # deferred: urllib3, store

    if args.strategy not in STRATEGIES:
        msg = f"unknown --strategy {args.strategy!r}; expected one of {', '.join(STRATEGIES)}"
        raise MnistWidgetsError(msg)
    options = NetworkOptions(timeout=args.timeout)  # ConfigError (one line) for -1, nan, inf
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fetch_artifacts(
            args.url,
            cache=args.name,
            strategy=args.strategy,
            store=_store(args),
            options=options,
            derive=graph_deriver(),  # ready for offline use: later loads build no graph
        )
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    where = result.cache_url or "not stored"
    print(f"{args.url} -> {where} (from the {result.source})")
    return 0 if result.entry is not None else 1
