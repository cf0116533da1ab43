#!/usr/bin/env python3
"""The documentation holds together: README.md stays short (at most 16,500 bytes; the rest lives in
docs/), every relative link in README.md and docs/*.md names a file of this repository that exists,
every #anchor names a heading (or an explicit <a id>) of the page it points into, and every page of
docs/ is linked from README.md. A reader following a link never lands on a 404."""
import os, re, sys, unicodedata

from checks import check, finish

SRC = os.path.realpath(os.environ.get("ABLAB_SRC") or os.path.join(os.path.dirname(__file__), "..", ".."))
README_MAX = 16500  # 15000 until issue 21 put the fuzzing table in the README

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_ANCHOR = re.compile(r"<a\s+(?:[^>]*\s)?(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(text):
    """Yields (line number, line) outside fenced code blocks, with inline code spans blanked."""
    fence = None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)):].strip():
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        yield n, re.sub(r"(`+)(.+?)\1", lambda s: " " * len(s.group(0)), line)


def slug(heading):
    """GitHub's anchor for a heading: the rendered text lower-cased, punctuation dropped (letters,
    digits, marks, spaces, '-' and '_' kept), spaces turned into '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # a link shows its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    out = []
    for ch in text.strip().lower():
        cat = unicodedata.category(ch)
        if ch in " -_" or cat[0] in "LNM":
            out.append("-" if ch == " " else ch)
    return "".join(out)


def anchors(text):
    """Every anchor a page offers: its headings' slugs (repeats get -1, -2 … as on GitHub) and
    explicit <a id=…>/<a name=…>."""
    seen, result = {}, set()
    for _, line in prose_lines(text):
        m = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            k = seen.get(base, 0)
            seen[base] = k + 1
            result.add(base if k == 0 else f"{base}-{k}")
    result.update(HTML_ANCHOR.findall(text))
    return result


def links(text):
    """(line number, destination) of every inline link, image and reference definition."""
    for n, line in prose_lines(text):
        for m in INLINE_LINK.finditer(line):
            yield n, m.group(1).strip("<>")
        m = REF_DEF.match(line)
        if m:
            yield n, m.group(1).strip("<>")


# The parser itself, on cases whose answer is known from GitHub's rendering.
check("slug: punctuation dropped, spaces become '-'",
      slug("Memory, threads, kernels, generation") == "memory-threads-kernels-generation", slug("Memory, threads, kernels, generation"))
check("slug: code and non-ASCII kept as text", slug("The `lab` — keys: Ü") == "the-lab--keys-ü", slug("The `lab` — keys: Ü"))
sample = "a [x](docs/a.md#b) and `[y](nowhere.md)`\n```\n[z](nowhere.md)\n```\n[r]: other.md\n![i](img.png \"t\")\n"
check("links: code spans and fences skipped, references and images found",
      [d for _, d in links(sample)] == ["docs/a.md#b", "other.md", "img.png"], list(links(sample)))
check("anchors: repeated headings numbered", anchors("# A\n## A\n```\n# B\n```\n") == {"a", "a-1"}, anchors("# A\n## A\n"))

readme = os.path.join(SRC, "README.md")
docs_dir = os.path.join(SRC, "docs")
size = os.path.getsize(readme)
check(f"README.md is at most {README_MAX} bytes", size <= README_MAX, f"README.md is {size} bytes: move detail to docs/")
pages = sorted(os.path.join(docs_dir, f) for f in os.listdir(docs_dir) if f.endswith(".md")) if os.path.isdir(docs_dir) else []
check("docs/ holds the documentation pages", len(pages) > 0, docs_dir)

texts = {}
def read(path):
    if path not in texts:
        with open(path, encoding="utf-8") as f:
            texts[path] = f.read()
    return texts[path]

linked = set()
for page in [readme] + pages:
    rel = os.path.relpath(page, SRC)
    bad = []
    n_links = 0
    for line, dest in links(read(page)):
        if SCHEME.match(dest) or dest.startswith("//"):
            continue   # http(s), mailto: not checked offline
        n_links += 1
        path_part, _, frag = dest.partition("#")
        target = os.path.realpath(os.path.join(os.path.dirname(page), path_part)) if path_part else page
        where = f"{rel}:{line}: ({dest})"
        if not (target == SRC or target.startswith(SRC + os.sep)):
            bad.append(f"{where} points outside the repository")
            continue
        if not os.path.exists(target):
            bad.append(f"{where} names {os.path.relpath(target, SRC)}, which does not exist")
            continue
        if page == readme:
            linked.add(target)
        if frag:
            if not target.endswith(".md") or os.path.isdir(target):
                bad.append(f"{where} has an anchor into a file that is not Markdown")
            elif frag not in anchors(read(target)):
                bad.append(f"{where}: {os.path.relpath(target, SRC)} has no heading with the anchor #{frag}")
    check(f"{rel}: its {n_links} relative links resolve", not bad, "\n".join(bad))

# docs/lab.md's key table is what the lab's own key tables print (`ablab keys --markdown`).
lab_md = os.path.join(docs_dir, "lab.md")
ablab = os.environ.get("ABLAB_BIN")
if ablab and os.path.exists(lab_md):
    import subprocess
    gen = subprocess.run([ablab, "keys", "--markdown"], capture_output=True, text=True).stdout.strip()
    check("docs/lab.md's key table is the current `ablab keys --markdown`", gen and gen in read(lab_md),
          "run: ablab keys --markdown, and paste it between the key-table markers of docs/lab.md")

orphans = [os.path.relpath(p, SRC) for p in pages if os.path.realpath(p) not in linked]
check("every docs/*.md page is linked from README.md", not orphans, ", ".join(orphans))
finish()
