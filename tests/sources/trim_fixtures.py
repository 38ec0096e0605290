"""Copy trimmed slices of the real captures into tests/sources/fixtures/ (run by hand).

    python tests/sources/trim_fixtures.py [SHARED_FIXTURES_DIR]

Slices are cut from the raw bytes (items kept byte for byte, in their original order) so
the tests read the real markup, just less of it. Tests never read the shared folder.
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "fixtures"
DEFAULT_SHARED = HERE.parents[1].parent / "shared" / "fixtures"


def trim_rss(shared: Path) -> None:
    src = shared / "arxiv_rss" / "arxiv_rss_new_allarchives_2024-11-28.xml"
    text = src.read_text(encoding="utf-8")
    items = re.findall(r"    <item>.*?</item>\n", text, flags=re.S)
    chosen: list[int] = []

    def pick(pred: object, limit: int) -> None:
        count = 0
        for i, item in enumerate(items):
            if count >= limit:
                return
            if i not in chosen and pred(item):  # type: ignore[operator]
                chosen.append(i)
                count += 1

    pick(lambda s: ">new<" in s and "\\" not in s, 12)
    pick(lambda s: ">new<" in s and "dc:creator" in s and "\\" in s.split("<dc:creator>")[1], 6)
    pick(lambda s: ">new<" in s and "$" in s, 4)
    pick(lambda s: ">cross<" in s, 9)
    pick(lambda s: ">replace<" in s and "arxiv:DOI" in s, 4)
    pick(lambda s: ">replace<" in s and "(" in s.split("<dc:creator>")[1], 2)
    pick(lambda s: ">replace<" in s, 5)
    head = text[: text.index("    <item>")]
    foot = text[text.rindex("</item>\n") + len("</item>\n") :]
    body = "".join(items[i] for i in sorted(chosen))
    (OUT / "arxiv_rss_allarchives_2024-11-28_trimmed.xml").write_text(
        head + body + foot, encoding="utf-8"
    )


def trim_atom(src: Path, dest: str, keep: int) -> None:
    text = src.read_text(encoding="utf-8")
    entries = re.findall(r"  <entry>.*?</entry>\n", text, flags=re.S)
    head = text[: text.index("  <entry>")]
    foot = text[text.rindex("</entry>\n") + len("</entry>\n") :]
    (OUT / dest).write_text(head + "".join(entries[:keep]) + foot, encoding="utf-8")


def trim_hf(src: Path, dest: str, keep: int) -> None:
    items = json.loads(src.read_bytes())
    with_breaks = [it for it in items if "\n" in it["paper"]["title"]]
    chosen = (with_breaks[:3] + [it for it in items if it not in with_breaks[:3]])[:keep]
    chosen.sort(key=items.index)
    (OUT / dest).write_text(json.dumps(chosen, ensure_ascii=False, indent=1), encoding="utf-8")


def trim_list(shared: Path) -> None:
    src = shared / "arxiv_list" / "arxiv_list_cs.CL_recent_2026-07-28.html"
    text = src.read_text(encoding="utf-8")
    # keep entries 1-6, the cross-lists 40-47 of Monday, and all three of Friday
    wanted = {1, 2, 3, 4, 5, 6, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50}

    def drop(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return match.group(0) if number in wanted else ""

    trimmed = re.sub(r"    <dt>\s*<a name='item(\d+)'>.*?</dd>\n", drop, text, flags=re.S)
    (OUT / "arxiv_list_cs.CL_recent_2026-07-28_trimmed.html").write_text(trimmed, encoding="utf-8")


def build_hf_page() -> None:
    """CONSTRUCTED: no raw capture of huggingface.co/papers exists, so wrap three real API
    items the way the page embeds them (HTML-escaped JSON in data-props)."""
    items = json.loads((OUT / "hf_api_daily_papers_2026-05-08_trimmed.json").read_bytes())[:3]
    props = html.escape(json.dumps({"dailyPapers": items, "date": "2026-05-08"}), quote=True)
    page = (
        "<!DOCTYPE html>\n<!-- CONSTRUCTED for tests from hf_api_daily_papers_2026-05-08 items"
        " -->\n<html><head><title>Daily Papers - Hugging Face</title></head><body>\n"
        '<main><div class="SVELTE_HYDRATER contents" data-target="DailyPapers" '
        f'data-props="{props}"><h1>Daily Papers</h1></div></main>\n</body></html>\n'
    )
    (OUT / "hf_papers_page_2026-05-08_CONSTRUCTED.html").write_text(page, encoding="utf-8")


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SHARED
    OUT.mkdir(exist_ok=True)
    trim_rss(shared)
    for name in (
        "arxiv_rss_new_empty_feed.xml",
        "arxiv_rss_new_error_feed.xml",
        "arxiv_rss_cs.AI_2026-04-27_EXCERPT_3items.xml",
    ):
        (OUT / name).write_bytes((shared / "arxiv_rss" / name).read_bytes())
    api = shared / "arxiv_api"
    for path in sorted(api.glob("*.xml")):
        if path.stat().st_size < 30_000:
            (OUT / path.name).write_bytes(path.read_bytes())
    trim_atom(
        api / "arxiv_api_query_all_testing_max100_2026-04-12_newformat.xml",
        "arxiv_api_query_all_testing_2026-04-12_newformat_trimmed.xml",
        8,
    )
    trim_atom(
        api / "arxiv_api_query_cat_cs.AI_LG_CL_max25_2026-08-02_newformat.xml",
        "arxiv_api_query_cat_cs.AI_LG_CL_2026-08-02_newformat_trimmed.xml",
        6,
    )
    hf = shared / "hf_daily_papers"
    for path in sorted(hf.glob("*.json")):
        trim_hf(path, path.stem + "_trimmed.json", 6)
    trim_list(shared)
    build_hf_page()


if __name__ == "__main__":
    main()
