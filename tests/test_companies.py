"""The company catalogue of the data-request campaigns: files explained by file, line and field as campaign files
are, datenanfragen.de's records imported as they are (tests/company_records/ holds four of them, CC0 1.0, copied
unchanged), our own fields kept by an update, and ``flask companies`` with no app, database or secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from core.campaigns import CampaignConfigError
from core.campaigns.companies import OUR_FIELDS, company_warnings, load_companies, read_companies
from core.campaigns.countries import country_of_address
from core.cli.companies import companies_cli
from tests.conftest import REPO

RECORDS = Path(__file__).parent / "company_records"
FLASK = Path(sys.executable).parent / "flask"

AUTHORITIES = """\
nl-ap:
  name: {nl: Autoriteit Persoonsgegevens, en: Dutch Data Protection Authority}
  country: NL
  address: |-
    Postbus 93374
    2509 AJ Den Haag
    Netherlands
  web: https://autoriteitpersoonsgegevens.nl
"""

ACME = """\
slug: acme
name: Acme B.V.
address: |-
  Kerkstraat 1
  1000 AA Amsterdam
  Nederland
email: privacy@acme.example
request-language: nl
country: NL
supervisory-authority: nl-ap
identifiers:
  - id: account-email
    type: email
    label: {nl: E-mailadres van je account, en: Email address of your account}
    required: true
"""


def record(name: str) -> dict[str, Any]:
    return json.loads((RECORDS / f"{name}.json").read_text())


def write(campaigns: Path, relative: str, text: str) -> Path:
    path = campaigns / "_shared" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def company_file(campaigns: Path, slug: str) -> Path:
    return campaigns / "_shared" / "companies" / f"{slug}.yaml"


def companies(*args: str, campaigns: Path) -> Result:
    """``flask companies ARGS`` in this process; the group reads its folder from CLAIMSITE_CAMPAIGNS_DIR only."""
    return CliRunner().invoke(companies_cli, list(args), env={"CLAIMSITE_CAMPAIGNS_DIR": str(campaigns)})


def problems(campaigns: Path) -> list[str]:
    with pytest.raises(CampaignConfigError) as caught:
        load_companies(campaigns)
    return [str(problem) for problem in caught.value.problems]


def warned(campaigns: Path) -> dict[str, set[str]]:
    """The fields each company file is warned about, by slug."""
    out: dict[str, set[str]] = {}
    for problem in company_warnings(load_companies(campaigns)):
        out.setdefault(Path(problem.file).stem, set()).add(problem.field)
    return out


def test_the_four_reference_records_import_as_they_are_with_the_warnings_for_what_they_lack(tmp_path: Path) -> None:
    result = companies("import", *(str(p) for p in sorted(RECORDS.glob("*.json"))), campaigns=tmp_path)
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[-1] == "4 written, 0 updated, 0 refused (exist; --update replaces them), 0 not valid"
    )

    for name in ("facebook", "palantir", "tiktok", "zoom"):
        written = yaml.safe_load(company_file(tmp_path, name).read_text())
        assert {k: v for k, v in written.items() if k not in OUR_FIELDS} == record(name)  # every fact, unchanged
        assert list(written)[: len(record(name))] == list(record(name))  # in the record's order, ours after
    catalogue = load_companies(tmp_path)
    assert {slug: c.country for slug, c in catalogue.companies.items()} == {
        "facebook": "IE",  # the address's last line: Ireland
        "palantir": "US",  # United States of America
        "tiktok": "IE",
        "zoom": "US",
    }
    assert {slug: c.channel for slug, c in catalogue.companies.items()} == {
        "facebook": "letter",  # no medium suggested, no e-mail address, no web form field
        "palantir": "email",
        "tiktok": "webform",
        "zoom": "letter",
    }
    lacking = {"supervisory-authority", "identifiers"}
    expected = {
        "facebook": lacking | {"email", "request-language"},  # no e-mail address and no web form
        "palantir": lacking,  # the only one that names its request language
        "tiktok": lacking | {"request-language"},
        "zoom": lacking | {"request-language"},
    }
    assert warned(tmp_path) == expected
    # The import says the same, per file written.
    said = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(said) == sum(len(fields) for fields in expected.values())
    facebook = str(company_file(tmp_path, "facebook"))
    assert f"warning: {facebook}: email: no e-mail address and no web form" in result.stderr


def test_a_json_list_is_imported_record_by_record_and_a_refused_record_is_skipped(tmp_path: Path) -> None:
    broken = {**record("zoom"), "slug": "zoom-nl", "email": "privacy at zoom.us", "relevant-countries": ["nl"]}
    dump = tmp_path / "companies.json"
    dump.write_text(json.dumps([record("tiktok"), broken, record("palantir"), "not a record"]))
    campaigns = tmp_path / "campaigns"

    result = companies("import", str(dump), campaigns=campaigns)

    assert result.exit_code == 1
    assert sorted(p.name for p in (campaigns / "_shared" / "companies").iterdir()) == ["palantir.yaml", "tiktok.yaml"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {dump}, record 2: email: expected an e-mail address, got 'privacy at zoom.us'",
        f"error: {dump}, record 4: expected a company record ({{...}}), got str",
    ]
    assert "2 written, 0 updated, 0 refused (exist; --update replaces them), 2 not valid" in result.stdout
    assert sorted(load_companies(campaigns).companies) == ["palantir", "tiktok"]


def test_a_file_that_is_no_json_is_named_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "slug": "x",\n  "name": "X"\n  "quality": "verified"\n}\n')
    result = companies("import", str(bad), str(RECORDS / "zoom.json"), campaigns=tmp_path / "campaigns")
    assert result.exit_code == 1
    assert f"error: {bad}, line 4: is not valid JSON: Expecting ',' delimiter" in result.stderr
    assert company_file(tmp_path / "campaigns", "zoom").is_file()  # the next file is still imported


def test_an_existing_file_is_refused_and_update_replaces_their_fields_and_keeps_ours(tmp_path: Path) -> None:
    write(tmp_path, "authorities.yaml", AUTHORITIES)
    tiktok = tmp_path / "tiktok.json"
    tiktok.write_text(json.dumps(record("tiktok")))
    assert companies("import", str(tiktok), campaigns=tmp_path).exit_code == 0
    path = company_file(tmp_path, "tiktok")
    ours = {
        "country": "IE",
        "supervisory-authority": "nl-ap",
        "identifiers": [{"id": "username", "type": "text", "label": {"nl": "Gebruikersnaam"}, "required": True}],
        "short-name": "TikTok",
        "trade-names": ["TikTok Technology"],
    }
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, **ours}, sort_keys=False))
    before = path.read_text()

    again = companies("import", str(tiktok), campaigns=tmp_path)
    assert again.exit_code == 1 and path.read_text() == before
    assert f"{path} exists already: pass --update" in again.stderr

    changed = {**record("tiktok"), "webform": "https://www.tiktok.com/legal/report/DPO", "request-language": "en"}
    del changed["comments"]
    tiktok.write_text(json.dumps(changed))
    updated = companies("import", "--update", str(tiktok), campaigns=tmp_path)
    assert updated.exit_code == 0, updated.output
    assert f"updated {path}" in updated.stdout
    data = yaml.safe_load(path.read_text())
    assert {k: v for k, v in data.items() if k not in OUR_FIELDS} == changed  # theirs: the record's, comments gone
    assert {k: data[k] for k in OUR_FIELDS} == ours  # ours: kept, in their order, last
    assert list(data)[-len(OUR_FIELDS) :] == list(OUR_FIELDS)
    assert warned(tmp_path) == {}


def test_update_keeps_no_fields_of_a_file_it_cannot_read(tmp_path: Path) -> None:
    path = write(tmp_path, "companies/zoom.yaml", "slug: zoom\nname: [unclosed\n")
    result = companies("import", "--update", str(RECORDS / "zoom.json"), campaigns=tmp_path)
    assert result.exit_code == 1
    assert f"not imported: {path} cannot be read" in result.stderr
    assert path.read_text() == "slug: zoom\nname: [unclosed\n"


def test_a_wrong_value_is_named_by_file_line_and_field(tmp_path: Path) -> None:
    write(tmp_path, "authorities.yaml", AUTHORITIES)
    text = ACME.replace("    required: true\n", "    required: maybe\n").replace("country: NL", "country: NO")
    path = write(tmp_path, "companies/acme.yaml", text + "needs-id-document: sometimes\n")
    assert problems(tmp_path) == [
        f"{path}, line 16: needs-id-document: input should be a valid boolean, unable to interpret input, got "
        "'sometimes'",
        f"{path}, line 9: country: YAML reads an unquoted no/NO (Norway) as false: write it in quotes, 'NO' or 'no'",
        f"{path}, line 15: identifiers[0].required: input should be a valid boolean, unable to interpret input, got "
        "'maybe'",
    ]  # in the order of the fields


def test_an_unknown_field_is_an_error_that_lists_the_allowed_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "companies/acme.yaml", ACME.replace("email:", "e-mail:"))
    write(tmp_path, "authorities.yaml", AUTHORITIES)
    (message,) = problems(tmp_path)
    assert message.startswith(f"{path}, line 7: e-mail: unknown key 'e-mail'; did you mean 'email'? Allowed here: ")
    assert "relevant-countries" in message and "supervisory-authority" in message  # named as files write them


def test_the_slug_must_be_the_file_name_and_identifiers_have_ids_of_their_own(tmp_path: Path) -> None:
    write(tmp_path, "authorities.yaml", AUTHORITIES)
    second = "  - id: account-email\n    type: phone\n    label: {nl: Telefoon}\n"
    path = write(tmp_path, "companies/acme-nl.yaml", ACME + second)
    assert problems(tmp_path) == [
        f"{path}, line 1: slug: the slug 'acme' must match the file name 'acme-nl.yaml' (acme.yaml)",
        f"{path}, line 16: identifiers[1].id: the id 'account-email' is given to another identifier already; give "
        "each its own",
    ]


def test_an_unknown_authority_is_an_error_and_every_file_s_problems_come_at_once(tmp_path: Path) -> None:
    write(tmp_path, "authorities.yaml", AUTHORITIES)
    acme = write(tmp_path, "companies/acme.yaml", ACME.replace("nl-ap", "nl-pa"))
    other = write(tmp_path, "companies/other.yaml", "slug: other\nname: Other\nname: Other Ltd.\n")
    write(tmp_path, "companies/fine.yaml", ACME.replace("slug: acme", "slug: fine"))
    assert problems(tmp_path) == [
        f"{acme}, line 10: supervisory-authority: unknown authority 'nl-pa'; did you mean 'nl-ap'? Known in "
        "campaigns/_shared/authorities.yaml: nl-ap",
        f"{other}, line 3: name: this key is written twice; keep one",
    ]
    catalogue, errors = read_companies(tmp_path)  # what check reports: the files that load, and the others' errors
    assert list(catalogue.companies) == ["fine"] and len(errors) == 2


def test_the_authorities_file_is_explained_like_a_company_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "authorities.yaml",
        AUTHORITIES + "de-bfdi:\n  name: {de: BfDI}\n  country: DEU\n  address: Bonn\n  website: https://bfdi.de\n",
    )
    write(tmp_path, "companies/acme.yaml", ACME)
    assert problems(tmp_path) == [
        f"{path}, line 11: de-bfdi.country: expected a two-letter ISO 3166 country code in capitals, such as 'NL' or "
        "'IE', got 'DEU'",
        f"{path}, line 9: de-bfdi.web: this field is required but missing",
        f"{path}, line 13: de-bfdi.website: unknown key 'website'; did you mean 'web'? Allowed here: address, "
        "complaint_form, country, email, name, web",
    ]  # and acme's authority is not called unknown: the file that would know it is broken


def test_check_fails_on_errors_passes_with_warnings_and_strict_fails_on_them(tmp_path: Path) -> None:
    write(tmp_path, "authorities.yaml", AUTHORITIES)
    write(tmp_path, "companies/acme.yaml", ACME)
    lacking = write(tmp_path, "companies/lacking.yaml", "slug: lacking\nname: Lacking Ltd.\ncountry: GB\n")
    stray = write(tmp_path, "companies/other.json", "{}")

    plain = companies("check", campaigns=tmp_path)
    assert plain.exit_code == 0, plain.output
    warnings = [line for line in plain.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings[0] == (
        f"warning: {stray}: is not read: company files are <slug>.yaml (a datenanfragen.de JSON record becomes one "
        "with: flask companies import FILE)"
    )
    assert {line.split(": ")[2] for line in warnings[1:]} == {
        "email",
        "address",
        "supervisory-authority",
        "identifiers",
        "request-language",
    }
    assert all(line.startswith(f"warning: {lacking}: ") for line in warnings[1:])
    assert plain.stdout.splitlines()[-1] == "2 company file(s) valid, 1 authorities, 0 error(s), 6 warning(s)"

    strict = companies("check", "--strict", campaigns=tmp_path)
    assert strict.exit_code == 1 and strict.stderr == plain.stderr

    write(tmp_path, "companies/acme.yaml", ACME.replace("request-language: nl", "request-language: Dutch"))
    broken = companies("check", campaigns=tmp_path)
    assert broken.exit_code == 1
    assert (
        f"error: {company_file(tmp_path, 'acme')}, line 8: request-language: expected a two-letter lowercase language "
        "code such as 'nl' or 'en', got 'Dutch'" in broken.stderr.splitlines()
    )


def test_list_shows_each_company_s_country_channel_and_warnings(tmp_path: Path) -> None:
    write(tmp_path, "authorities.yaml", AUTHORITIES)
    write(tmp_path, "companies/acme.yaml", ACME)
    write(tmp_path, "companies/lacking.yaml", "slug: lacking\nname: Lacking Ltd.\nsuggested-transport-medium: fax\n")
    write(tmp_path, "companies/broken.yaml", "slug: broken\n")
    result = companies("list", campaigns=tmp_path)
    assert result.exit_code == 0
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["SLUG", "NAME", "COUNTRY", "CHANNEL", "WARNINGS"],
        ["acme", "Acme", "B.V.", "NL", "email", "0"],
        ["lacking", "Lacking", "Ltd.", "-", "fax", "7"],  # ... and a fax suggested with no fax number
    ]
    assert "1 file(s) with errors left out; see: flask companies check" in result.stderr


def test_the_country_is_read_from_the_address_s_last_line_or_left_empty() -> None:
    assert country_of_address("10 Earlsfort Terrace\nDublin\nD02 T380\nIreland") == "IE"
    assert country_of_address("100 Hamilton Ave\nPalo Alto\nCA 94301\nUnited States of America") == "US"
    assert country_of_address("Kerkstraat 1\n1000 AA Amsterdam\nNederland") == "NL"  # the native name
    assert country_of_address("Hauptstr. 1\n10115 Berlin\nDeutschland\n") == "DE"
    assert country_of_address("1 Main Street\nAtlantis") is None
    assert country_of_address(None) is None


def test_an_import_leaves_a_country_it_cannot_read_empty_and_warns(tmp_path: Path) -> None:
    unknown = tmp_path / "atlantis.json"
    unknown.write_text(json.dumps({**record("palantir"), "slug": "atlantis", "address": "1 Main Street\nAtlantis"}))
    result = companies("import", str(unknown), campaigns=tmp_path)
    assert result.exit_code == 0
    assert "country" not in yaml.safe_load(company_file(tmp_path, "atlantis").read_text())
    assert f"warning: {company_file(tmp_path, 'atlantis')}: country: no country: add 'country'" in result.stderr


def test_the_shipped_catalogue_loads_with_the_reference_facts() -> None:
    catalogue = load_companies(REPO / "campaigns")
    assert sorted(catalogue.authorities) == ["ie-dpc", "nl-ap"]
    assert sorted(catalogue.companies) == ["meta", "palantir", "tiktok", "zoom"]
    # The only warnings: Palantir and Zoom are US entities with no supervisory authority given.
    assert warned(REPO / "campaigns") == {"palantir": {"supervisory-authority"}, "zoom": {"supervisory-authority"}}
    shipped = {
        slug: {k: v for k, v in yaml.safe_load(company_file(REPO / "campaigns", slug).read_text()).items()}
        for slug in catalogue.companies
    }
    theirs = {slug: {k: v for k, v in data.items() if k not in OUR_FIELDS} for slug, data in shipped.items()}
    assert theirs["palantir"] == record("palantir")
    assert theirs["tiktok"] == {**record("tiktok"), "request-language": "en"}
    assert theirs["zoom"] == {**record("zoom"), "request-language": "en"}
    facebook = record("facebook")
    assert theirs["meta"] == {
        **facebook,
        "slug": "meta",
        "webform": "https://www.facebook.com/help/contact/540977946302970",  # the DPO's form, from the comment
        "request-language": "en",
    }
    assert facebook["comments"] == [
        "Facebook's Data Protection Officer can be contacted via this form: "
        "https://www.facebook.com/help/contact/540977946302970"
    ]
    meta, tiktok = catalogue.companies["meta"], catalogue.companies["tiktok"]
    assert meta.name == "Facebook Ireland Ltd." and meta.trade_names == ["Meta Platforms Ireland Limited"]
    assert meta.supervisory_authority == tiktok.supervisory_authority == "ie-dpc"
    assert catalogue.companies["palantir"].email == "privacy@palantir.com" and tiktok.email is None
    for company in catalogue.companies.values():
        assert any(identifier.required for identifier in company.identifiers), company.slug
        for identifier in company.identifiers:
            assert set(identifier.label) == {"nl", "en"}, (company.slug, identifier.id)


def test_flask_companies_runs_in_the_project_with_no_environment() -> None:
    """Found through the flask.commands entry point, before Flask would load wsgi.py's app (which refuses to start
    without secrets); it reads the shipped catalogue and writes nothing."""
    before = {p: p.stat().st_mtime_ns for p in (REPO / "campaigns" / "_shared").rglob("*")}
    result = subprocess.run(
        [str(FLASK), "companies", "check"],
        cwd=REPO,
        env={"PATH": os.environ["PATH"], "FLASK_APP": "wsgi"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "4 company file(s) valid, 2 authorities, 0 error(s), 2 warning(s)"
    assert "Traceback" not in result.stderr
    assert before == {p: p.stat().st_mtime_ns for p in (REPO / "campaigns" / "_shared").rglob("*")}
