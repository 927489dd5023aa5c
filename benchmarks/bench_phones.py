"""Benchmark parse_phones on 1,000,000 seeded, realistically messy phone strings.

Run: .venv/bin/python benchmarks/bench_phones.py [--rows N] [--runs K]
Prints the median wall time of K runs and the share of rows that needed phonenumbers itself.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import phonenumbers
import polars as pl

try:
    from pipeline.normalize.phones import parse_phones, slow_path_share
except ModuleNotFoundError:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pipeline.normalize.phones import parse_phones, slow_path_share

# (region, weight) - about 60% North America, the rest spread over 14 other countries.
REGION_WEIGHTS = {
    "US": 52,
    "CA": 8,
    "GB": 6,
    "DE": 5,
    "FR": 4,
    "NL": 2,
    "ES": 2,
    "IT": 3,
    "AU": 3,
    "IN": 4,
    "BR": 3,
    "MX": 2,
    "JP": 2,
    "CH": 2,
    "SE": 1,
    "IE": 1,
}
US_AREA_CODES = (
    "201 202 203 205 206 207 208 209 210 212 213 214 215 216 217 218 219 224 225 228 229 231 234"
    " 239 240 248 251 252 253 254 256 260 262 267 269 270 276 281 301 302 303 304 305 307 308 309"
    " 310 312 313 314 315 316 317 318 319 320 321 323 325 330 334 336 337 339 347 351 352 360 361"
    " 386 401 402 404 405 406 407 408 409 410 412 413 414 415 417 419 423 424 425 430 432 434 435"
    " 440 443 469 470 475 478 479 480 484 501 502 503 504 505 507 508 509 510 512 513 515 516 517"
    " 518 520 530 540 541 551 559 561 562 563 567 570 571 573 574 575 580 585 586 601 602 603 605"
    " 606 607 608 609 610 612 614 615 616 617 618 619 620 623 626 630 631 636 641 646 650 651 660"
    " 661 662 678 682 701 702 703 704 706 707 708 712 713 714 715 716 717 718 719 720 724 727 731"
    " 732 734 740 754 757 760 763 765 770 772 773 774 775 781 785 786 801 802 803 804 805 806 808"
    " 810 812 813 814 815 816 817 818 828 830 831 832 843 845 847 848 850 856 857 858 859 860 862"
    " 863 864 865 870 872 878 901 903 904 906 907 908 909 910 912 913 914 915 916 917 918 919 920"
    " 925 928 931 936 937 940 941 949 951 952 954 956 970 971 972 973 978 979 980 985 989"
).split()
CA_AREA_CODES = "204 226 236 250 289 306 343 403 416 418 438 450 506 514 519 587 604 613 647 705"
CA_AREA_CODES = CA_AREA_CODES.split() + "709 778 780 807 819 867 873 902 905".split()
GARBAGE = ["n/a", "-", "0000", "123", "", "   ", "none", "TBD", "x", "?", "000-000-0000", "N/A"]
DASHES = ["-", "‐", "–", "—", "."]


def _nanp(rnd: random.Random, area_codes: list[str]) -> tuple[str, str, str]:
    return rnd.choice(area_codes), f"{rnd.randint(200, 999)}", f"{rnd.randint(0, 9999):04d}"


def _format_nanp(rnd: random.Random, parts: tuple[str, str, str]) -> str:
    a, b, c = parts
    sep = rnd.choice(DASHES)
    style = rnd.randrange(200)
    if style == 0:
        return f"{float(a + b + c):.9E}".replace("E+0", "E")  # Excel-mangled: 4.155550134E9
    style %= 8
    if style == 0:
        return f"({a}) {b}-{c}"
    if style == 1:
        return f"{a}{sep}{b}{sep}{c}"
    if style == 2:
        return f"{a}{b}{c}"
    if style == 3:
        return f"+1 {a} {b} {c}"
    if style == 4:
        return f"1-{a}-{b}-{c}"
    if style == 5:
        return f"+1 ({a}) {b}-{c}"
    if style == 6:
        return f"  {a}.{b}.{c} "
    return f"tel: +1-{a}-{b}-{c}"


def _templates() -> dict[str, list[tuple[str, str, str]]]:
    """(country code, trunk prefix, example national number) per region, from phonenumbers."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    kinds = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
    for region in REGION_WEIGHTS:
        trunk = phonenumbers.ndd_prefix_for_region(region, True) or ""
        out[region] = []
        for kind in kinds:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                nsn = phonenumbers.national_significant_number(example)
                out[region].append((str(example.country_code), trunk, nsn))
    return out


def _other(rnd: random.Random, template: tuple[str, str, str]) -> str:
    cc, trunk, nsn = template
    keep = max(2, len(nsn) - 5)
    nsn = nsn[:keep] + "".join(str(rnd.randrange(10)) for _ in range(len(nsn) - keep))
    head, tail = nsn[: len(nsn) // 2], nsn[len(nsn) // 2 :]
    style = rnd.randrange(6)
    if style == 0:
        return f"{trunk}{head} {tail}"
    if style == 1:
        return f"+{cc} {head} {tail}"
    if style == 2:
        return f"00{cc} {head}-{tail}"
    if style == 3:
        return f"+{cc} ({trunk or '0'}){head} {tail}" if trunk else f"+{cc}{nsn}"
    if style == 4:
        return f"{trunk}{nsn}"
    return f"+{cc}.{head}.{tail}"


def generate(rows: int, seed: int = 20240601) -> tuple[pl.Series, pl.Series]:
    rnd = random.Random(seed)
    templates = _templates()
    regions = list(REGION_WEIGHTS)
    weights = list(REGION_WEIGHTS.values())
    raw: list[str | None] = []
    country: list[str | None] = []
    for region in rnd.choices(regions, weights, k=rows):
        roll = rnd.random()
        if roll < 0.05:
            raw.append(rnd.choice([*GARBAGE, None]))
            country.append(region if rnd.random() < 0.7 else None)
            continue
        if region in ("US", "CA"):
            text = _format_nanp(rnd, _nanp(rnd, US_AREA_CODES if region == "US" else CA_AREA_CODES))
        else:
            text = _other(rnd, rnd.choice(templates[region]))
        if roll > 0.97:
            marker = rnd.choice([" x", " ext. ", " ext ", "#", " extension "])
            text += f"{marker}{rnd.randint(1, 9999)}"
        raw.append(text)
        # Some rows lack a country (default US applies); a few carry a wrong one.
        pick = rnd.random()
        country.append(None if pick < 0.1 else rnd.choice(regions) if pick < 0.12 else region)
    return pl.Series("phone", raw, dtype=pl.String), pl.Series("country", country, dtype=pl.String)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    raw, country = generate(args.rows)
    print(f"generated {len(raw):,} rows in {time.perf_counter() - t0:.1f} s")
    distinct = pl.DataFrame([raw, country]).n_unique()
    print(f"distinct (phone, country) pairs: {distinct:,}")

    start = time.perf_counter()
    parse_phones(raw.head(1000), country.head(1000))  # builds the cached regex tables
    print(f"first call (1,000 rows, builds regex tables): {time.perf_counter() - start:.3f} s")
    timings, cpu = [], []
    for _ in range(args.runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = parse_phones(raw, country)
        timings.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(f"parse_phones runs (s): {', '.join(f'{t:.3f}' for t in timings)}")
    print(f"median: {statistics.median(timings):.3f} s wall for {len(raw):,} rows")
    # Wall time depends on what else the machine runs; CPU time (all threads) much less so.
    print(f"median CPU time: {statistics.median(cpu):.3f} s on {os.cpu_count()} cores")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"slow-path share: {slow_path_share(raw, country):.4%}")
    print(
        f"valid: {result['phone_valid'].mean():.1%}, with extension: "
        f"{result['phone_extension'].is_not_null().mean():.1%}"
    )


if __name__ == "__main__":
    main()
