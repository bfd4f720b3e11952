#!/usr/bin/env python3
"""Generate crates/ichnaea-geocode/src/mcc_table.rs: mobile country code -> GENC regions.

Source: the `countries.json` table of the PyPI package `mobile-codes` (pinned below),
updated with the MCC assignments of the copy the reference vendors (`CORRECTIONS`), then
processed the way the reference's `regions_for_mcc` does (`api.md` §10.3):

* the countries of every MCC (an MCC may name several countries, a country several MCCs);
* `PS` (Palestine) is mapped to the GENC code `XW`;
* only valid regions are kept: the GENC codes of `api.md` Appendix A.1, read from
  crates/ichnaea-core/src/locate/region_radius.rs (so the table is never duplicated);
* MCCs left without a region are dropped.

The output is sorted (by MCC, then by region code) and carries no timestamp, so re-running
the script on the same inputs reproduces the committed file byte for byte.

Usage:
    scripts/gen-mcc-regions.py                # pip-download the pinned sdist, write the table
    scripts/gen-mcc-regions.py --source PATH  # use a downloaded sdist (.tar.gz) or unpacked dir
    scripts/gen-mcc-regions.py --check        # exit 1 if the committed table is out of date
"""

import argparse
import email.parser
import json
import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "mobile-codes"
VERSION = "0.7"

ROOT = pathlib.Path(__file__).resolve().parent.parent
REGIONS_RS = ROOT / "crates/ichnaea-core/src/locate/region_radius.rs"
OUTPUT = ROOT / "crates/ichnaea-geocode/src/mcc_table.rs"

# mobile-codes 0.7 (2014) predates several ITU assignments. The reference does not use the
# PyPI release but a vendored, regenerated copy of the same table (mobile_codes/json/
# countries.json in the ichnaea repository). These are the countries whose MCC lists differ
# in that copy; each value replaces the package's list for that ISO code. Together they
# yield exactly the multi-region MCCs listed in api.md §10.3 (which the crate's tests check).
CORRECTIONS = {
    "AE": ["424", "430", "431"],
    "AS": ["311", "544"],
    "BE": ["206", "270"],
    "BL": ["340"],
    "BV": [],  # 242 is Norway's only
    "CC": ["505"],
    "CX": ["505"],
    "FO": ["274", "288"],
    "GF": ["340", "742"],
    "IO": ["995"],
    "LC": ["338", "358"],
    "LI": ["228", "295"],
    "MC": ["208", "212"],
    "MD": ["255", "259"],
    "MP": ["310"],
    "NR": ["536", "542"],
    "PR": ["310", "313", "330"],
    "SH": ["658"],
    "SM": ["222", "292"],
    "TF": ["647"],
    "TK": ["554"],
    "US": ["310", "311", "312", "313", "314", "315", "316"],
    "VA": ["222"],  # 225 is no longer assigned
    "VI": ["310", "311"],
    "WF": ["543"],
    "XK": ["221"],  # Kosovo is missing from mobile-codes 0.7
    "YT": ["647"],
}

# GENC differs from ISO 3166 here (api.md §10.3).
ISO_TO_GENC = {"PS": "XW"}


def valid_regions():
    text = REGIONS_RS.read_text(encoding="utf-8")
    codes = set(re.findall(r'code: "([A-Z]{2})"', text))
    if len(codes) != 247:
        sys.exit(f"expected 247 region codes in {REGIONS_RS}, found {len(codes)}")
    return codes


def download(directory):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         "--quiet", "-d", str(directory), f"{PACKAGE}=={VERSION}"],
        check=True,
    )
    found = sorted(pathlib.Path(directory).glob("mobile-codes-*.tar.gz"))
    if len(found) != 1:
        sys.exit(f"expected one {PACKAGE} sdist in {directory}, found {found}")
    return found[0]


def read_source(path):
    """Return (version, countries) from an sdist tarball or an unpacked sdist directory."""
    path = pathlib.Path(path)
    if path.is_dir():
        pkg_info = (path / "PKG-INFO").read_text(encoding="utf-8")
        countries = (path / "mobile_codes/json/countries.json").read_text(encoding="utf-8")
    else:
        with tarfile.open(path) as tar:
            names = {pathlib.PurePosixPath(n).relative_to(pathlib.PurePosixPath(n).parts[0]):
                     n for n in tar.getnames() if len(pathlib.PurePosixPath(n).parts) > 1}

            def member(rel):
                name = names.get(pathlib.PurePosixPath(rel))
                if name is None:
                    sys.exit(f"{path} has no {rel}")
                return tar.extractfile(name).read().decode("utf-8")

            pkg_info = member("PKG-INFO")
            countries = member("mobile_codes/json/countries.json")
    meta = email.parser.Parser().parsestr(pkg_info)
    if meta["Name"] != PACKAGE or meta["Version"] != VERSION:
        sys.exit(f"expected {PACKAGE} {VERSION}, got {meta['Name']} {meta['Version']}")
    return meta["Version"], json.loads(countries)


def build(countries, valid):
    mccs_by_country = {}
    for _name, alpha2, _alpha3, _numeric, mcc in countries:
        if mcc is None:
            mcc = []
        elif isinstance(mcc, str):
            mcc = [mcc]
        mccs_by_country[alpha2] = list(mcc)
    for alpha2, mccs in CORRECTIONS.items():
        mccs_by_country[alpha2] = list(mccs)

    table = {}
    for alpha2, mccs in mccs_by_country.items():
        region = ISO_TO_GENC.get(alpha2, alpha2)
        if region not in valid:
            continue
        for mcc in mccs:
            # The reference looks MCCs up as strings, so only three-digit codes match.
            if not re.fullmatch(r"[0-9]{3}", mcc):
                sys.exit(f"unexpected MCC {mcc!r} for {alpha2}")
            table.setdefault(int(mcc), set()).add(region)
    return {mcc: sorted(regions) for mcc, regions in sorted(table.items())}


def render(version, table):
    lines = [
        "//! MCC -> GENC regions, generated by scripts/gen-mcc-regions.py. Do not edit.",
        "//!",
        f"//! Source: the PyPI package `{PACKAGE}` {version} (`mobile_codes/json/countries.json`),",
        "//! with the MCC corrections of the reference's vendored copy listed in the script;",
        "//! `PS` mapped to `XW`; filtered to the regions of `api.md` Appendix A.1.",
        "",
        "/// `(mcc, regions)`, sorted by MCC; the regions of each MCC are sorted and non-empty.",
        "pub(crate) static MCC_REGIONS: &[(u16, &[&str])] = &[",
    ]
    for mcc, regions in table.items():
        codes = ", ".join(f'"{r}"' for r in regions)
        lines.append(f"    ({mcc}, &[{codes}]),")
    lines.append("];")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="mobile-codes sdist (.tar.gz) or unpacked directory")
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed file instead of writing it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        source = args.source or download(tmp)
        version, countries = read_source(source)
    text = render(version, build(countries, valid_regions()))

    if args.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUTPUT.relative_to(ROOT)} is out of date; run {sys.argv[0]}")
        print(f"{OUTPUT.relative_to(ROOT)} is up to date")
        return
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
