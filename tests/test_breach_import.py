"""``flask breach import`` and ``flask breach list`` through the real command line, and the datasets campaign files
declare (core.breach.importer, core.breach.datasets, plugins/breach_check)."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from core.breach import categories
from core.breach.datasets import all_datasets, datasets_of
from core.breach.importer import BreachImportError, import_dump
from core.breach.index_file import IndexFileError, current_index, index_path, open_index
from core.breach.numbers import digest_key, number_digest
from tests.conftest import BREACH_KEY, CampaignFolder, campaign_data, run_campaigns_command

DATASET = "facebook-2021"  # facebookleak's, in the shipped campaigns
KEY = digest_key(BREACH_KEY)
HEADER = "phone,name,gender,date_of_birth,location,email"
FLAG = {category.key: category.flag for category in categories.CATALOGUE}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


def breach_dir(app: Flask) -> Path:
    return app.extensions["claimsite"].settings.resolved_breach_dir()


def run(app: Flask, *args: str, env: dict[str, str] | None = None) -> Result:
    return app.test_cli_runner().invoke(args=["breach", *args], env=env)


def import_file(app: Flask, dump: Path, *options: str, env: dict[str, str] | None = None) -> Result:
    return run(app, "import", DATASET, str(dump), "--jobs", "1", *options, env=env)


def write_dump(folder: Path, rows: list[str], header: str = HEADER, name: str = "dump.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def lookup(app: Flask, number: str) -> int | None:
    index = current_index(breach_dir(app), DATASET)
    assert index is not None
    return index.lookup(number_digest(KEY, number))


def test_an_import_answers_found_and_not_found_with_the_categories(app: Flask, tmp_path: Path) -> None:
    dump = write_dump(
        tmp_path,
        [
            "+31 6 12345601,Anna de Vries,female,1990-01-02,Utrecht,anna@example.org",
            "0031612345602,Bram,male,,,",
            "31612345603,,,,Zwolle,",
            "06-12345604,Cees,,,,",
        ],
    )
    result = import_file(app, dump)
    assert result.exit_code == 0, result.output
    assert "4 numbers from 4 rows" in result.output and "1 sorted run(s)" in result.output
    assert "could not be read" not in result.output
    everything = FLAG["phone"] | FLAG["name"] | FLAG["gender"] | FLAG["date_of_birth"] | FLAG["location"]
    assert lookup(app, "+31612345601") == everything | FLAG["email"]
    assert lookup(app, "+31612345602") == FLAG["phone"] | FLAG["name"] | FLAG["gender"]
    assert lookup(app, "+31612345603") == FLAG["phone"] | FLAG["location"]
    assert lookup(app, "+31612345604") == FLAG["phone"] | FLAG["name"]
    assert lookup(app, "+31612345605") is None
    listed = run(app, "list")
    assert listed.exit_code == 0, listed.output
    assert f"{DATASET}: 4 numbers (533,000,000 announced)" in listed.output and "ANOTHER" not in listed.output


def test_duplicates_are_one_record_with_every_category_they_had(app: Flask, tmp_path: Path) -> None:
    dump = write_dump(
        tmp_path,
        ["+31612345601,Anna,,,,", "0031 6 1234 5601,,female,,,", "0612345601,,,,,a@example.org", "+31612345602,,,,,"],
    )
    result = import_file(app, dump)
    assert result.exit_code == 0, result.output
    assert "2 numbers from 4 rows" in result.output
    assert lookup(app, "+31612345601") == FLAG["phone"] | FLAG["name"] | FLAG["gender"] | FLAG["email"]


def test_unreadable_rows_are_counted_by_line_never_quoted(app: Flask, tmp_path: Path) -> None:
    rows = [
        "+31612345601,Anna,,,,",
        "not-a-number-Zebedeus,Zebedeus Geheim,,,,",  # line 3
        ",Nobody Numberless,,,,",  # line 4: no number
        "+31612345602,too,few",  # line 5: wrong number of cells
        "+31612345603,,,,,",
        "+31 6 1234,Korte Nummerman,,,,",  # line 7: too short
        "+31612345604,too,many,cells,here,and,more",  # line 8
        "",  # a blank line is no row
        "\x00+31612345699,Nul,,,,",  # line 10: a NUL byte
    ]
    result = import_file(app, write_dump(tmp_path, rows))
    assert result.exit_code == 0, result.output
    assert "6 row(s) could not be read" in result.output and "line 3, 4, 5, 7, 8, 10" in result.output
    for secret in ("Zebedeus", "Geheim", "Nobody", "Korte", "612345699", "6 1234", "too", "Nul"):
        assert secret not in result.output
    assert lookup(app, "+31612345601") is not None and lookup(app, "+31612345603") is not None


def test_unknown_columns_are_refused_unless_left_out(app: Flask, tmp_path: Path) -> None:
    dump = write_dump(tmp_path, ["+31612345601,Anna,42,blue"], header="phone,name,shoe_size,Favourite Colour")
    refused = import_file(app, dump)
    assert refused.exit_code != 0
    assert "unknown column(s) 'shoe_size', 'favourite colour'" in refused.output
    assert "the known ones are name, gender, date_of_birth" in refused.output and "--ignore-column" in refused.output
    assert not index_path(breach_dir(app), DATASET).exists()
    taken = import_file(app, dump, "--ignore-column", "shoe_size", "--ignore-column", "favourite colour")
    assert taken.exit_code == 0, taken.output
    assert "columns left out: shoe_size, favourite colour" in taken.output
    assert lookup(app, "+31612345601") == FLAG["phone"] | FLAG["name"]


def test_a_dump_without_phone_column_or_of_an_unknown_dataset_is_refused(app: Flask, tmp_path: Path) -> None:
    no_phone = import_file(app, write_dump(tmp_path, ["Anna"], header="name"))
    assert no_phone.exit_code != 0 and "no 'phone' column" in no_phone.output
    # a dump without its header row: the first record is taken for the header, and is not quoted back
    headless = import_file(app, write_dump(tmp_path, [], header="+31612345601,Anna Zonderkop,Anna Zonderkop"))
    assert headless.exit_code != 0 and "no 'phone' column" in headless.output
    assert "612345601" not in headless.output and "Zonderkop" not in headless.output
    assert import_file(app, write_dump(tmp_path, ["+31612345601,,,,,"], name="good.csv")).exit_code == 0
    before = index_path(breach_dir(app), DATASET).read_bytes()
    nothing = import_file(app, write_dump(tmp_path, ["612345601xyz,,,,,", "", "nope,,,,,"], name="bad.csv"))
    assert nothing.exit_code != 0 and "none of the 2 rows has a readable phone number" in nothing.output
    assert index_path(breach_dir(app), DATASET).read_bytes() == before  # the index there stays
    region = import_file(app, write_dump(tmp_path, ["+31612345601,,,,,"], name="r.csv"), "--default-region", "XX")
    assert region.exit_code != 0 and "'XX' is no country phonenumbers knows" in region.output
    unknown = run(app, "import", "myspace-2008", str(write_dump(tmp_path, ["+31612345601"], header="phone")))
    assert unknown.exit_code != 0
    assert "no campaign declares dataset 'myspace-2008'; known: facebook-2021" in unknown.output


def random_rows(count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        number = f"316{rng.randrange(10_000_000, 59_999_999)}"
        written = ("+" + number, "00" + number, number, "0" + number[2:])[n % 4]
        rows.append(written + "".join("," + ("x" if rng.random() < 0.5 else "") for _ in range(5)))
    return rows


def e164_of(row: str) -> str:
    """The E.164 form of a row of :func:`random_rows` (written as +316..., 00316..., 316... or 06...)."""
    return "+31" + row.split(",")[0][-9:]


def test_a_tiny_memory_sorts_in_many_runs_and_gives_the_same_index(app: Flask, tmp_path: Path) -> None:
    dump = write_dump(tmp_path, random_rows(10_000))
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    small = import_file(app, dump, "--memory", "16K", env=env)
    assert small.exit_code == 0, small.output
    runs = int(small.output.split(" sorted run(s)")[0].rsplit(", ", 1)[1])
    assert runs >= 20  # 16 KiB sorts about 330 records at a time
    path = index_path(breach_dir(app), DATASET)
    from_runs = path.read_bytes()
    whole = import_file(app, dump, "--memory", "256M", env=env)
    assert whole.exit_code == 0 and "1 sorted run(s)" in whole.output
    assert path.read_bytes() == from_runs  # byte for byte: same records, same header
    index = open_index(path)
    assert index.records == len({e164_of(row) for row in random_rows(10_000)})
    assert sorted(p.name for p in breach_dir(app).iterdir()) == [f".{DATASET}.lock", f"{DATASET}.idx"]


def test_a_reimport_gives_a_byte_identical_index_and_the_same_answers(app: Flask, tmp_path: Path) -> None:
    dump = write_dump(tmp_path, random_rows(2_000, seed=9))
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    assert import_file(app, dump, env=env).exit_code == 0
    path = index_path(breach_dir(app), DATASET)
    first = path.read_bytes()
    numbers = [e164_of(row) for row in random_rows(50, seed=9)] + ["+31600000000", "+31699999999"]
    answers = [lookup(app, number) for number in numbers]
    assert answers[0] is not None and answers[-1] is None
    assert import_file(app, dump, env=env).exit_code == 0
    assert path.read_bytes() == first
    assert [lookup(app, number) for number in numbers] == answers
    # without SOURCE_DATE_EPOCH only the import date in the header differs: the records and version do not
    assert import_file(app, dump).exit_code == 0
    again = path.read_bytes()
    assert again != first and again[4096:] == first[4096:]
    assert open_index(path).version == hashlib.sha256(first[4096:]).hexdigest()[:16]


def test_two_parsing_processes_give_the_same_index(app: Flask, tmp_path: Path) -> None:
    dump = write_dump(tmp_path, random_rows(5_000, seed=3))
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    assert import_file(app, dump, env=env).exit_code == 0
    one = index_path(breach_dir(app), DATASET).read_bytes()
    two = run(app, "import", DATASET, str(dump), "--jobs", "2", "--memory", "64K", env=env)
    assert two.exit_code == 0, two.output
    assert index_path(breach_dir(app), DATASET).read_bytes() == one


def test_readers_see_the_old_or_the_new_index_never_half_of_one(tmp_path: Path) -> None:
    folder = tmp_path / "breach"
    old_dump = write_dump(tmp_path, ["+31612345601,Anna,,,,"], name="old.csv")
    import_dump(old_dump, dataset_id="leak", folder=folder, key=KEY, default_region="NL")
    path = index_path(folder, "leak")
    old_version = open_index(path).version
    held = current_index(folder, "leak")
    assert held is not None
    new_dump = write_dump(tmp_path, random_rows(20_000, seed=1), name="new.csv")
    seen: set[str] = set()
    problems: list[str] = []
    done = threading.Event()

    def read_all_the_time() -> None:
        while not done.is_set():
            try:
                index = open_index(path)
                seen.add(index.version)
                index.lookup(number_digest(KEY, "+31612345601"))
            except (IndexFileError, ValueError) as exc:
                problems.append(str(exc))

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    checks_during: list[bool] = []

    def during(read: int, rows: int) -> None:
        # while parsing: the held index still answers, and the path still opens as the old index
        checks_during.append(held.lookup(number_digest(KEY, "+31612345601")) is not None)
        checks_during.append(open_index(path).version == old_version)

    try:
        result = import_dump(
            new_dump,
            dataset_id="leak",
            folder=folder,
            key=KEY,
            default_region="NL",
            memory_bytes=64 * 1024,
            progress=during,
        )
    finally:
        done.set()
        reader.join()
    assert problems == [] and checks_during and all(checks_during)
    assert seen <= {old_version, result.version} and result.version in seen | {open_index(path).version}
    assert held.lookup(number_digest(KEY, "+31612345601")) is not None  # the old handle after the import
    assert current_index(folder, "leak").version == result.version  # type: ignore[union-attr]
    assert sorted(p.name for p in folder.iterdir()) == [".leak.lock", "leak.idx"]  # no run or temporary file left


def test_an_interrupted_import_leaves_the_old_index_and_no_scratch_files(tmp_path: Path) -> None:
    folder = tmp_path / "breach"
    import_dump(
        write_dump(tmp_path, ["+31612345601,Anna,,,,"], name="old.csv"),
        dataset_id="leak",
        folder=folder,
        key=KEY,
        default_region="NL",
    )
    before = index_path(folder, "leak").read_bytes()
    runs_seen: list[int] = []

    def interrupt(read: int, rows: int) -> None:
        runs_seen.append(len(list(folder.glob(".leak.run-*"))))
        if runs_seen[-1] >= 3:
            raise KeyboardInterrupt  # Ctrl-C

    big = write_dump(tmp_path, random_rows(30_000, seed=2), name="big.csv")
    # blocks of 1 MiB: make them small so that the callback runs between runs
    import core.breach.importer as importer

    block = importer.BLOCK_BYTES
    importer.BLOCK_BYTES = 16 * 1024
    try:
        with pytest.raises(KeyboardInterrupt):
            import_dump(
                big,
                dataset_id="leak",
                folder=folder,
                key=KEY,
                default_region="NL",
                memory_bytes=16 * 1024,
                progress=interrupt,
            )
    finally:
        importer.BLOCK_BYTES = block
    assert max(runs_seen) >= 3  # there were run files to remove
    assert sorted(p.name for p in folder.iterdir()) == [".leak.lock", "leak.idx"]
    assert index_path(folder, "leak").read_bytes() == before
    # a refused dump leaves everything as it was too
    with pytest.raises(BreachImportError):
        import_dump(
            write_dump(tmp_path, ["x"], header="phone,shoe_size", name="bad.csv"),
            dataset_id="leak",
            folder=folder,
            key=KEY,
            default_region="NL",
        )
    assert sorted(p.name for p in folder.iterdir()) == [".leak.lock", "leak.idx"]


def test_nothing_on_disk_holds_an_imported_number_or_value(app: Flask, tmp_path: Path) -> None:
    people = [
        ("+31 6 12345671", "31612345671", "Wilhelmina Lekvrij", "wilhelmina@example.org", "Appingedam"),
        ("0031612345672", "31612345672", "Hendrik Geheimhouder", "hendrik@example.net", "Oudeschild"),
        ("31612345673", "31612345673", "Grietje Onvindbaar", "grietje@example.com", "Zierikzee"),
    ]
    rows = [f"{written},{name},,,{place},{email}" for written, _e164, name, email, place in people]
    dump = write_dump(tmp_path / "dumps", rows)
    result = import_file(app, dump, "--memory", "16K")
    assert result.exit_code == 0, result.output
    dump.unlink()  # the dump itself is the operator's; everything the app keeps is searched
    instance = app.extensions["claimsite"].settings.instance_dir
    everything = b"".join(path.read_bytes() for path in instance.rglob("*") if path.is_file())
    assert index_path(breach_dir(app), DATASET).read_bytes() in everything  # the index is among what was read
    for _written, digits, name, email, place in people:
        national = "0" + digits[2:]
        for needle in (digits, "+" + digits, national, digits[2:], digits[2:4] + " " + digits[4:], name, email, place):
            for encoded in (needle.encode("utf-8"), needle.encode("utf-16-le")):
                assert encoded not in everything, needle
            assert needle not in result.output


def campaign_with_datasets(folder: CampaignFolder, datasets: Any) -> Path:
    data = campaign_data()
    data["plugins"]["breach_check"] = {"datasets": datasets}
    return folder.write("democlaim", data)


DECLARED = {
    "id": "demo-2024",
    "name": {"nl": "Demolek", "en": "Demo leak"},
    "breach_date": "2024-05-01",
    "records": 1000,
    "description": {"nl": "Een lek.", "en": "A leak."},
    "categories": ["phone", "name"],
    "default_region": "BE",
}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"categories": ["phone", "shoe_size"]}, "unknown categories shoe_size; the known ones are: name, gender"),
        ({"default_region": "XX"}, "'XX' is not a country code phonenumbers knows"),
        ({"id": "Demo 2024"}, "datasets[0].id"),
        ({"records": 0}, "datasets[0].records"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_dataset_mistakes_are_reported_with_file_line_and_field(
    campaign_folder: CampaignFolder, change: dict[str, Any], said: str
) -> None:
    campaign_with_datasets(campaign_folder, [{**DECLARED, **change}])
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code != 0
    assert said in result.output and "democlaim.yaml, line" in result.output, result.output
    assert "plugins.breach_check.datasets" in result.output and "1 error(s)" in result.output


def test_the_same_dataset_twice_in_one_file_is_refused(campaign_folder: CampaignFolder) -> None:
    campaign_with_datasets(campaign_folder, [DECLARED, DECLARED])
    result = run_campaigns_command("check", campaigns_dir=campaign_folder.path)
    assert result.exit_code != 0 and "dataset id demo-2024 is used twice" in result.output


def test_core_finds_the_datasets_campaigns_declare(
    make_app: Callable[..., Flask], campaign_folder: CampaignFolder, tmp_path: Path
) -> None:
    campaign_with_datasets(campaign_folder, [DECLARED])
    campaign_folder.write("otherclaim", campaign_data(slug="otherclaim", hosts=["otherclaim.example"]))
    app = make_app(campaigns_dir=campaign_folder.path)
    with app.app_context():
        declared = all_datasets()
        campaigns = app.extensions["claimsite"].registry.snapshot.campaigns
        assert list(declared) == ["demo-2024"] and declared["demo-2024"].default_region == "BE"
        assert [d.id for d in datasets_of(campaigns["democlaim"])] == ["demo-2024"]
        assert datasets_of(campaigns["otherclaim"]) == []
    # the import reads the dataset's own region: 0470... is a Belgian number here
    dump = write_dump(tmp_path, ["0470 12 34 56,Anna"], header="phone,name")
    result = app.test_cli_runner().invoke(args=["breach", "import", "demo-2024", str(dump), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    index = current_index(app.extensions["claimsite"].settings.resolved_breach_dir(), "demo-2024")
    assert index is not None and index.lookup(number_digest(KEY, "+32470123456")) == FLAG["phone"] | FLAG["name"]


def test_facebookleak_declares_the_april_2021_leak(shipped_app: Flask) -> None:
    with shipped_app.app_context():
        dataset = all_datasets()[DATASET]
    assert dataset.records == 533_000_000 and dataset.default_region == "NL"
    assert dataset.breach_date.isoformat() == "2021-04-03" and "5,4 miljoen" in dataset.description["nl"]
    assert set(dataset.categories) == set(categories.KEYS)


def test_list_says_what_is_not_imported_or_made_with_another_key(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = make_app()
    listed = run(app, "list")
    assert listed.exit_code == 0 and f"{DATASET}: not imported yet" in listed.output
    other = make_app(breach_key="another-breach-key-of-forty-characters-xx", instance_dir=tmp_path / "other")
    dump = write_dump(tmp_path, ["+31612345601,Anna,,,,"])
    assert import_file(other, dump).exit_code == 0
    moved = make_app(breach_dir=breach_dir(other), instance_dir=tmp_path / "third")
    assert "MADE WITH ANOTHER CLAIMSITE_BREACH_KEY" in run(moved, "list").output
