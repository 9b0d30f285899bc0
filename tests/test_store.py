"""The model store: names, atomic versioned entries, hashes, metadata, management, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from _models import write_tiny_model

from mnist_widgets import store as store_module
from mnist_widgets._validators import Validators
from mnist_widgets.cli import main
from mnist_widgets.errors import CacheError
from mnist_widgets.sources import read_artifacts, write_artifacts
from mnist_widgets.store import ModelStore, parse_name


@pytest.fixture
def tiny(tmp_path):
    return read_artifacts(write_tiny_model(tmp_path / "model", shards=2))


@pytest.mark.parametrize(
    "bad", ["", "..", "a/b", "a\\b", "../x", ".hidden", "a b", "cache://", "é", "a..b", "x" * 129]
)
def test_unsafe_names_are_rejected_with_the_rule(bad):
    with pytest.raises(CacheError, match="invalid model store name") as info:
        parse_name(bad)
    assert "A-Z a-z 0-9" in str(info.value)


def test_names_may_carry_the_cache_scheme():
    assert parse_name("cache://mnist-v2.1_b") == "mnist-v2.1_b"


def test_root_comes_from_parameter_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_WIDGETS_CACHE", str(tmp_path / "env"))
    assert ModelStore().root == tmp_path / "env"
    assert ModelStore(tmp_path / "param").root == tmp_path / "param"
    monkeypatch.delenv("MNIST_WIDGETS_CACHE")
    assert ModelStore().root.parts[-2:] == ("mnist-widgets", "models")


def test_write_then_read_round_trips_bytes_and_records_metadata(tmp_path, tiny):
    store = ModelStore(tmp_path / "store")
    validators = {"model.json": Validators('"e1"'), "group1-shard2of2.bin": Validators(None, "d")}
    entry = store.write("tiny", tiny, source_url="http://h/model.json", validators=validators)
    back, loaded = store.load("cache://tiny")
    assert back.model_json == tiny.model_json
    assert back.weight_files == tiny.weight_files
    assert loaded.source_url == "http://h/model.json"
    assert loaded.etag == '"e1"'
    assert {rel: f.validators for rel, f in loaded.files.items()} == {
        "model.json": Validators('"e1"'),
        "group1-shard1of2.bin": Validators(),
        "group1-shard2of2.bin": Validators(None, "d"),
    }
    assert loaded.saved_at and loaded.last_used
    assert set(loaded.files) == {"model.json", "group1-shard1of2.bin", "group1-shard2of2.bin"}
    shard = tiny.weight_files["group1-shard1of2.bin"]
    assert loaded.files["group1-shard1of2.bin"].size == len(shard)
    assert loaded.size_bytes == tiny.total_bytes == entry.size_bytes
    assert str(entry) == "cache://tiny"


def test_a_corrupted_file_is_detected_by_hash_and_named(tmp_path, tiny):
    store = ModelStore(tmp_path / "store")
    entry = store.write("tiny", tiny)
    shard = entry.path / "group1-shard2of2.bin"
    data = bytearray(shard.read_bytes())
    data[0] ^= 0xFF  # same size, different content: only the hash can tell
    shard.write_bytes(bytes(data))
    with pytest.raises(CacheError, match=r"corrupt: group1-shard2of2.bin has SHA-256"):
        store.read("tiny")
    [result] = store.verify("tiny")
    assert not result.ok and "group1-shard2of2.bin" in result.problem


def test_a_deleted_file_makes_the_entry_unusable_not_half_loaded(tmp_path, tiny):
    store = ModelStore(tmp_path / "store")
    (store.write("tiny", tiny).path / "group1-shard1of2.bin").unlink()
    with pytest.raises(CacheError, match="incomplete"):
        store.read("tiny")
    assert not store.verify()[0].ok


def test_a_new_version_replaces_the_old_and_leaves_one_version_on_disk(tmp_path, tiny):
    store = ModelStore(tmp_path / "store")
    first = store.write("tiny", tiny)
    other = read_artifacts(write_tiny_model(tmp_path / "other", seed=7))
    second = store.write("tiny", other)
    assert store.read("tiny").weight_files == other.weight_files
    assert not first.path.exists()
    assert [p.name for p in (store.root / "tiny").iterdir() if p.name.startswith("v-")] == [
        second.path.name
    ]


def test_list_info_remove_clear(tmp_path, tiny):
    store = ModelStore(tmp_path / "store")
    assert store.list_models() == []
    store.write("b", tiny)
    store.write("a", tiny, source_url="http://x/model.json")
    assert [e.name for e in store.list_models()] == ["a", "b"]
    assert store.info("a").source_url == "http://x/model.json"
    removed = store.remove_model("cache://a")
    assert removed.name == "a" and not (store.root / "a").exists()
    with pytest.raises(CacheError, match=r"no model named .a.*mnist-widgets cache fetch"):
        store.info("a")
    with pytest.raises(CacheError):
        store.remove_model("a")
    assert store.clear() == 1
    assert store.list_models() == []


def test_module_functions_use_the_default_store(tiny, _isolated_model_store):
    assert write_artifacts(tiny, "cache://tiny") == "cache://tiny"  # io routes cache:// here
    assert read_artifacts("cache://tiny").weight_files == tiny.weight_files
    assert [e.name for e in store_module.list_models()] == ["tiny"]
    assert store_module.remove_model("tiny").name == "tiny"
    assert store_module.list_models() == []


def _dead_pid() -> str:
    """The pid of a process that has exited (a writer killed long ago)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return child.stdout.strip()


def test_leftovers_of_killed_writers_are_cleaned_up(tmp_path, tiny):
    store = ModelStore(tmp_path / "store")
    store.write("tiny", tiny)
    dead = _dead_pid()
    stale_tmp = store.root / ".tmp" / f"{dead}-0123456789ab"
    live_tmp = store.root / ".tmp" / "1-0123456789ab"  # pid 1 is alive: a writer still at work
    orphan = store.root / "tiny" / "v-1-0badc0de"  # renamed in, never published, an hour old
    for path in (stale_tmp, live_tmp, orphan):
        path.mkdir(parents=True)
        (path / "model.json").write_text("{}")
    hour_ago = time.time() - 3700
    os.utime(orphan, (hour_ago, hour_ago))
    removed = store.cleanup()
    assert set(removed) == {stale_tmp, orphan}
    assert live_tmp.exists()
    assert store.read("tiny").weight_files == tiny.weight_files


def test_an_unwritable_store_raises_a_cache_error_naming_the_cause(tmp_path, tiny):
    # tests run as root, so chmod cannot make a directory read-only; a store whose parent is a
    # regular file cannot be created by anyone, which is what we need here.
    (tmp_path / "file").write_text("not a directory")
    store = ModelStore(tmp_path / "file" / "store")
    with pytest.raises(CacheError, match=r"cannot write model .tiny.*Not a directory"):
        store.write("tiny", tiny)
    assert store.list_models() == []
    with pytest.raises(CacheError, match="no model named"):
        store.read("tiny")


_WRITER = textwrap.dedent(
    """
    import sys
    from mnist_widgets.sources import read_artifacts
    from mnist_widgets.store import ModelStore
    store = ModelStore(sys.argv[1])
    versions = [read_artifacts(p) for p in sys.argv[2:]]
    print("ready", flush=True)
    i = 0
    while True:
        store.write("big", versions[i % len(versions)])
        i += 1
    """
)


def test_kill_9_during_writes_never_exposes_a_partial_entry(tmp_path):
    # A child rewrites one entry in a loop, alternating two ~0.5 MB models; we kill -9 it at
    # arbitrary moments. Every time, the entry must read back as one complete version.
    models = [
        write_tiny_model(tmp_path / f"m{seed}", seed=seed, inputs=512, units=256, shards=3)
        for seed in (1, 2)
    ]
    expected = [read_artifacts(m).weight_files for m in models]
    root = tmp_path / "store"
    for delay in (0.05, 0.2, 0.35, 0.5):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), *map(str, models)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = ModelStore(root)
        if store.exists("big"):
            assert store.read("big").weight_files in expected
            assert all(r.ok for r in store.verify())
        store.cleanup()
        assert not list((root / ".tmp").glob(f"{proc.pid}-*"))
    assert ModelStore(root).read("big").weight_files in expected


def test_cli_cache_list_info_verify_rm_clear(tmp_path, tiny, capsys):
    root = str(tmp_path / "store")
    store = ModelStore(root)
    entry = store.write("tiny", tiny, source_url="http://127.0.0.1:1/tiny/model.json")
    assert main(["cache", "--cache-dir", root, "list"]) == 0
    table = capsys.readouterr().out
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "SOURCE", "SIZE", "SAVED", "LAST", "USED"]
    assert row.split()[:2] == ["tiny", "http://127.0.0.1:1/tiny/model.json"]
    assert main(["cache", "--cache-dir", root, "info", "tiny"]) == 0
    info = capsys.readouterr().out
    assert entry.files["model.json"].sha256 in info
    assert main(["cache", "--cache-dir", root, "verify"]) == 0
    assert capsys.readouterr().out.strip() == "ok  tiny"
    (entry.path / "group1-shard1of2.bin").write_bytes(b"\0" * 8)
    assert main(["cache", "--cache-dir", root, "verify", "tiny"]) == 1
    assert "CORRUPT  tiny" in capsys.readouterr().out
    assert main(["cache", "--cache-dir", root, "clear"]) == 1  # no --yes, no terminal
    assert "pass --yes" in capsys.readouterr().err
    assert main(["cache", "--cache-dir", root, "rm", "tiny"]) == 0
    assert "removed cache://tiny" in capsys.readouterr().out
    assert main(["cache", "--cache-dir", root, "rm", "tiny"]) == 1
    assert "no model named 'tiny'" in capsys.readouterr().err
    store.write("again", tiny)
    assert main(["cache", "--cache-dir", root, "clear", "--yes"]) == 0
    assert store.list_models() == []


_RACER = textwrap.dedent(
    """
    import sys
    from mnist_widgets.sources import read_artifacts
    from mnist_widgets.store import ModelStore
    store, model = ModelStore(sys.argv[1]), read_artifacts(sys.argv[2])
    for _ in range(15):
        store.write("shared", model)  # no lock: atomic publishing alone keeps the entry whole
        store.read("shared")
    """
)


def test_concurrent_writers_without_a_lock_leave_one_complete_version(tmp_path):
    models = [write_tiny_model(tmp_path / f"m{seed}", seed=seed, shards=2) for seed in range(4)]
    root = tmp_path / "store"
    procs = [
        subprocess.Popen([sys.executable, "-c", _RACER, str(root), str(m)], stderr=subprocess.PIPE)
        for m in models
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    store = ModelStore(root)
    assert store.read("shared").weight_files in [read_artifacts(m).weight_files for m in models]
    assert [(r.name, r.ok) for r in store.verify()] == [("shared", True)]


# -- issue 10.2: the store deletes only what it can prove it made ------------------------------


def test_a_store_is_marked_and_a_non_empty_folder_that_is_not_one_is_refused(tmp_path, tiny):
    folder = tmp_path / "documents"
    (folder / ".tmp").mkdir(parents=True)
    (folder / ".tmp" / "draft.txt").write_text("mine")
    (folder / "releases" / "v-2.3").mkdir(parents=True)
    (folder / "releases" / "v-2.3" / "notes").write_text("mine too")
    store = ModelStore(folder)
    with pytest.raises(CacheError, match="not a mnist-widgets store"):
        store.write("tiny", tiny)
    with pytest.raises(CacheError, match="not a mnist-widgets model store"):
        store.clear()
    assert store.cleanup() == [] and store.list_models() == []
    assert (folder / ".tmp" / "draft.txt").read_text() == "mine"
    assert (folder / "releases" / "v-2.3" / "notes").read_text() == "mine too"
    fresh = ModelStore(tmp_path / "new")
    fresh.write("tiny", tiny)
    assert (fresh.root / ".mnist-widgets-store").is_file()


def test_a_store_whose_marker_is_gone_is_not_adopted_and_nothing_is_deleted(tmp_path, tiny):
    store = ModelStore(tmp_path / "store")
    entry = store.write("tiny", tiny)
    (store.root / ".mnist-widgets-store").unlink()  # no marker: not provably ours any more
    assert store.list_models() == [] and not store.exists("tiny")
    with pytest.raises(CacheError, match="not a mnist-widgets store"):
        store.write("again", tiny)
    with pytest.raises(CacheError, match="not a mnist-widgets model store"):
        store.clear()
    assert store.cleanup(everything=True) == []
    assert (entry.path / "model.json").is_file()


def test_ownership_is_checked_once_per_public_call_not_per_entry(tmp_path, tiny, monkeypatch):
    store = ModelStore(tmp_path / "store")
    for name in ("a", "b", "c", "d"):
        store.write(name, tiny)
    checks: list[str] = []
    real = ModelStore.is_store
    monkeypatch.setattr(ModelStore, "is_store", lambda self: checks.append("x") or real(self))
    for call in (store.list_models, store.entries, store.verify, store.names, store.cleanup):
        checks.clear()
        assert call() or call == store.cleanup
        assert len(checks) == 1, call.__name__
    checks.clear()
    assert store.clear() == 4 and len(checks) == 1


def test_symlinks_in_the_store_are_never_followed_out(tmp_path, tiny):
    outside = tmp_path / "outside"
    (outside / "v-1700000000000000000-0badc0de").mkdir(parents=True)
    (outside / "CURRENT").write_text("v-1700000000000000000-0badc0de")
    (outside / "precious.txt").write_text("keep me")
    store = ModelStore(tmp_path / "store")
    store.write("tiny", tiny)
    (store.root / "linked").symlink_to(outside, target_is_directory=True)
    (store.root / ".tmp" / "999999-0123456789ab").symlink_to(outside, target_is_directory=True)
    assert [e.name for e in store.list_models()] == ["tiny"]
    with pytest.raises(CacheError, match="no model named 'linked'"):
        store.remove_model("linked")
    store.cleanup(everything=True)
    assert store.clear() == 1
    assert (outside / "precious.txt").read_text() == "keep me"
    assert (outside / "v-1700000000000000000-0badc0de").is_dir()


def test_removing_an_entry_keeps_files_the_store_did_not_make(tmp_path, tiny):
    store = ModelStore(tmp_path / "store")
    entry = store.write("tiny", tiny)
    (entry.path.parent / "my-notes.txt").write_text("notes")
    (entry.path.parent / "v-2.3").mkdir()
    store.remove_model("tiny")
    assert not store.exists("tiny")
    assert sorted(p.name for p in entry.path.parent.iterdir()) == ["my-notes.txt", "v-2.3"]


def test_clean_up_does_not_run_on_every_write(tmp_path, tiny):
    store = ModelStore(tmp_path / "store")
    store.write("tiny", tiny)
    dead = _dead_pid()
    leftover = store.root / ".tmp" / f"{dead}-0123456789ab"
    leftover.mkdir()
    store.write("tiny", tiny)  # within ten minutes of the last clean-up: not again
    assert leftover.exists()
    assert store.cleanup() == [leftover]


def test_a_symlinked_file_in_a_version_is_corrupt_not_read(tmp_path, tiny):
    store = ModelStore(tmp_path / "store")
    entry = store.write("tiny", tiny)
    secret = tmp_path / "secret.bin"
    shard = entry.path / "group1-shard1of2.bin"
    secret.write_bytes(shard.read_bytes())
    shard.unlink()
    shard.symlink_to(secret)
    with pytest.raises(CacheError, match="symbolic link"):
        store.read("tiny")


def test_file_records_are_read_by_attribute_only(tmp_path, tiny):
    record = ModelStore(tmp_path / "store").write("tiny", tiny).files["model.json"]
    assert record.size == len(tiny.model_json_bytes())
    with pytest.raises(TypeError):
        record["size"]  # no dict-era indexing: one way to read a record
