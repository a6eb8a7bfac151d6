"""Generate a publication (and a subscriber list) shaped like the example, for benchmarks.

    python bench/gen.py --issues 1000 --out /tmp/pub
    python bench/gen.py --subscribers 10000 --out /tmp/pub

Each issue is a folder issues/<date>-<slug>/ with issue.md (front matter and an
editor's note) and 2–4 articles with key points, subheadings, quotes, lists and
links: about 6 KB of Markdown per issue. Tags come from 40 values. Everything
is seeded: issue i is the same text whatever N is, so the 100-issue publication
holds the first (oldest) 100 issues of the 1,000-issue one.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

from benchlib import REPO

ISSUE_BYTES = 5000  # a budget: articles overshoot it a little, so issues average ~6 KB
FIRST_DATE = date(2010, 1, 4)
BASE_URL = "https://bench.example.com/"

# fmt: off
TAGS = [
    "trade", "china", "tariffs", "diplomacy", "critical-minerals", "fentanyl",
    "semiconductors", "explainer", "geneva-truce", "rare-earths", "export-controls",
    "energy", "climate", "elections", "congress", "courts", "labor", "housing",
    "inflation", "interest-rates", "banking", "crypto", "ai", "privacy", "antitrust",
    "health", "vaccines", "education", "immigration", "defense", "nato", "ukraine",
    "middle-east", "india", "japan", "europe", "africa", "latin-america", "shipping",
    "agriculture",
]

WORDS = {
    "subject": [
        "The White House", "Beijing", "The Commerce Department", "Treasury officials",
        "Negotiators", "European regulators", "Automakers", "Chipmakers", "Analysts",
        "The central bank", "Congressional leaders", "Shipping firms", "Farm groups",
        "The trade representative", "Investors", "Union leaders", "Diplomats in Geneva",
    ],
    "verb": [
        "signalled", "warned", "argued", "conceded", "insisted", "suggested",
        "acknowledged", "announced", "hinted", "cautioned", "predicted", "denied",
    ],
    "object": [
        "that the talks could stall again before the deadline",
        "that supply chains remain fragile after months of disruption",
        "that tariffs would stay in place until the review ends",
        "that a leader-level call was “likely” this week",
        "that export licences were being processed more slowly",
        "that the 90-day window is already running short",
        "that prices for rare-earth magnets had doubled since spring",
        "that the new restrictions were aimed at a narrow set of products",
        "that both sides still want a broader agreement",
        "that the figures released on Monday understate the damage",
        "that a compromise on inspections is within reach",
        "that investment plans are on hold until the rules are clear",
    ],
    "coda": [
        "according to people familiar with the discussions",
        "in a statement released late on Tuesday",
        "though no timetable has been set",
        "a view that is not shared across the administration",
        "while markets took the news calmly",
        "and officials declined to give further details",
        "in remarks to reporters — the first since the truce",
        "even as pressure builds from industry",
    ],
    "noun": [
        "truce", "deadline", "tariff", "supply", "magnet", "chip", "talks", "window",
        "licence", "factory", "harbour", "ledger", "summit", "quota", "pipeline",
        "budget", "ruling", "vote", "market", "border",
    ],
    "adjective": [
        "fragile", "long", "quiet", "costly", "uneven", "narrow", "sudden", "slow",
        "open", "hard", "new", "last", "broad", "public", "rare", "local",
    ],
    "label": [
        "High stakes", "Pressure builds", "Wary partners", "Truce under strain",
        "Flashpoint", "Controls sting", "Haste has costs", "Supply shock",
        "Quiet progress", "Open questions", "Market mood", "What comes next",
    ],
}
FIRST_NAMES = [
    "Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Dennis", "Frances",
    "José", "Zoë", "Søren", "Chloé", "Ingrid", "Kwame", "Mei", "Ravi", "Amara", "Lars",
]
LAST_NAMES = [
    "Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Liskov", "Ritchie",
    "Allen", "Núñez", "Müller", "Kierkegaard", "Okafor", "Zhang", "Patel", "Berg",
]
# fmt: on
CITIES = ["London", "Arlington", "Portland", "Boston", "Lagos", "Osaka", "Lyon", "Pune"]


class Writer:
    """Sentences, paragraphs and Markdown blocks from one seeded random source."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, kind: str) -> str:
        return self.rng.choice(WORDS[kind])

    def sentence(self) -> str:
        text = f"{self.pick('subject')} {self.pick('verb')} {self.pick('object')}"
        return text + (f", {self.pick('coda')}." if self.rng.random() < 0.4 else ".")

    def paragraph(self, sentences: int = 0) -> str:
        count = sentences or self.rng.randint(2, 4)
        text = " ".join(self.sentence() for _ in range(count))
        if self.rng.random() < 0.5:  # a link inside the paragraph
            noun = self.pick("noun")
            url = f"https://news.example.org/{noun}/{self.rng.randint(1000, 9999)}"
            text += f" Read [the {noun} report]({url}) for the *full* figures."
        return text

    def title(self, words: int = 5) -> str:
        parts = [self.pick(self.rng.choice(("adjective", "noun"))) for _ in range(words)]
        return " ".join(parts).capitalize()

    def quote(self) -> str:
        who = f"a {self.pick('adjective')} {self.pick('noun')} official"
        return f"> “{self.sentence()[:-1]},” said {who}."

    def bullets(self) -> str:
        return "\n".join(
            f"- **{self.rng.randint(2, 250)}%**: the {self.pick('adjective')} {self.pick('noun')}"
            f" {self.pick('object')}."
            for _ in range(self.rng.randint(3, 5))
        )

    def key_points(self) -> str:
        labels = self.rng.sample(WORDS["label"], self.rng.randint(3, 5))
        lines = ['key_points_title: "' + self.title(3) + ': quick looks"', "key_points:"]
        for label in labels:
            lines += [f"  - label: {label}", f'    text: "{self.sentence()}"']
        return "\n".join(lines)


def article(w: Writer, number: int, slug: str, budget: int) -> str:
    """One article of about budget bytes: front matter (key points on the lead story and
    now and then on others), then paragraphs, a subheading, a quote, maybe a list or
    more of each, and a closing "Conclusion" section."""
    rng = w.rng
    noun = w.pick("noun")
    front = [
        "---",
        f'headline: "{w.title(6)}"',
        "source: Newslooks",
        f"source_url: https://news.example.org/{slug}/{noun}-{number}/",
        f"byline: {rng.choice(FIRST_NAMES)[0]}. {rng.choice(LAST_NAMES)}",
        f"dateline: {rng.choice(['WASHINGTON', 'BEIJING', 'GENEVA', 'BRUSSELS', 'TOKYO'])}",
        "edition: Morning Edition",
        f'dek: "{w.sentence()}"',
    ]
    if number == 1 or rng.random() < 0.25:
        front.append(w.key_points())
    front.append("---")
    blocks = [w.paragraph(2), f"## {w.title(4)}", w.quote(), w.paragraph(2)]
    ending = [f"## Conclusion: {w.title(4)}", w.paragraph(2)]
    size = sum(len(part.encode()) + 2 for part in front + blocks + ending)
    while size < budget:
        choice = rng.random()
        if choice < 0.2:
            block = f"## {w.title(4)}"
        elif choice < 0.4:
            block = w.quote()
        elif choice < 0.5:
            block = w.bullets()
        else:
            block = w.paragraph()
        blocks.append(block)
        size += len(block.encode()) + 2
    return "\n".join(front) + "\n" + "\n\n".join(blocks + ending) + "\n"


def issue_files(index: int, seed: int) -> tuple[str, dict[str, str]]:
    """The folder name and {file name: text} of issue number index + 1."""
    rng = random.Random(f"{seed}-{index}")
    w = Writer(rng)
    day = FIRST_DATE + timedelta(days=index)
    slug = f"{w.pick('adjective')}-{w.pick('noun')}-{index + 1}"
    tags = rng.sample(TAGS, rng.randint(3, 6))
    note = "\n\n".join(["Good morning, {{ name | reader }}.", w.paragraph(3), w.paragraph(2)])
    files = {
        "issue.md": "\n".join(
            [
                "---",
                f'title: "{w.title(7)}"',
                f"date: {day.isoformat()}T07:00:00-05:00",
                f"number: {index + 1}",
                "edition: Morning Edition",
                f'preheader: "{w.sentence()}"',
                f"tags: [{', '.join(tags)}]",
                "---",
                note,
                "",
            ]
        )
    }
    count = rng.randint(2, 4)
    budget = (ISSUE_BYTES - len(files["issue.md"].encode())) // count
    for n in range(1, count + 1):
        name = f"{w.pick('adjective')}-{w.pick('noun')}"
        files[f"{n:02d}-{name}.md"] = article(w, n, slug, budget)
    return f"{day.isoformat()}-{slug}", files


def write_publication(out: Path, issues: int, seed: int = 1) -> None:
    """A project in out/: briefing.toml, templates/ and issues/ (replacing any there)."""
    out.mkdir(parents=True, exist_ok=True)
    config = (REPO / "briefing.toml").read_text(encoding="utf-8")
    config = re.sub(r'(?m)^base_url = ".*"$', f'base_url = "{BASE_URL}"', config)
    (out / "briefing.toml").write_text(config, encoding="utf-8")
    for name in ("templates", "issues"):
        shutil.rmtree(out / name, ignore_errors=True)
    shutil.copytree(REPO / "templates", out / "templates")
    for index in range(issues):
        folder_name, files = issue_files(index, seed)
        folder = out / "issues" / folder_name
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")


def write_subscribers(path: Path, count: int, seed: int = 1) -> None:
    """A subscribers CSV: email, name (now and then empty or non-ASCII) and city."""
    rng = random.Random(f"{seed}-subscribers")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["email", "name", "city"])
        for n in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            name = "" if rng.random() < 0.05 else f"{first} {last}"
            local = f"{first}.{last}".lower().encode("ascii", "ignore").decode()
            out.writerow([f"{local}.{n}@example.com", name, rng.choice(CITIES)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="project folder to write")
    parser.add_argument("--issues", type=int, default=0, help="issues to generate")
    parser.add_argument("--subscribers", type=int, default=0, help="subscribers.csv rows")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not args.issues and not args.subscribers:
        parser.error("give --issues N, --subscribers N or both")
    if args.issues:
        write_publication(args.out, args.issues, args.seed)
        print(f"wrote {args.issues} issues to {args.out / 'issues'}")
    if args.subscribers:
        write_subscribers(args.out / "subscribers.csv", args.subscribers, args.seed)
        print(f"wrote {args.subscribers} subscribers to {args.out / 'subscribers.csv'}")


if __name__ == "__main__":
    main()
