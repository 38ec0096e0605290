r"""TeX in titles, abstracts and author names -> readable Unicode.

pylatexenc knows the right Unicode for almost every macro, but its parser costs several
milliseconds per abstract, and one arXiv day carries hundreds of abstracts with TeX. So we
borrow pylatexenc's *tables* (symbol macros, simple argument macros) and walk the tokens
ourselves in one cheap pass (about 30 microseconds for a TeX-heavy abstract). Only the few
macros pylatexenc implements as code (\item, \section, ...) send a string through its full
parser. The tables, read out of pylatexenc once, are kept as JSON in the user's cache folder
(per pylatexenc version): a process that meets no such macro never imports pylatexenc's
parsers, which costs more than a preview's TeX. Whatever happens, the result is a string:
bad TeX degrades to readable text, never to an exception. Plain `--` or quotes in a string
with no other TeX stay as they are (fast path).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pylatexenc.version import version_str as pylatexenc_version

from digest.util.cache_folder import default_cache_dir

if TYPE_CHECKING:
    from pylatexenc import latexwalker

# One token: a control word or symbol, a math delimiter, a group brace, a TeX ligature,
# a run of plain text, or any other single character.
_TOKEN = re.compile(
    r"\\(?:[A-Za-z]+\*?|[^A-Za-z])|\$\$|---|--|``|''|[{}$~]"
    r"|(?:[^\\{}$~`'\-]|-(?!-)|'(?!')|`(?!`))[^\\{}$~`'\-]*"
    r"(?:(?:-(?!-)|'(?!')|`(?!`))[^\\{}$~`'\-]*)*|[\s\S]"
)

# Text and math accents as combining characters (NFC then composes "e" + U+0301 into "é").
_ACCENTS: dict[str, str] = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
    "t": "\u0361",
    "acute": "\u0301",
    "grave": "\u0300",
    "hat": "\u0302",
    "tilde": "\u0303",
    "bar": "\u0304",
    "dot": "\u0307",
    "ddot": "\u0308",
    "breve": "\u0306",
    "check": "\u030c",
    "vec": "\u20d7",
}

# Macros whose argument is shown as it is (font and style switches, math alphabets).
_PASS_THROUGH = frozenset(
    {
        "mathrm",
        "mathbf",
        "mathit",
        "mathsf",
        "mathtt",
        "mathcal",
        "mathscr",
        "mathfrak",
        "boldsymbol",
        "bm",
        "emph",
        "textrm",
        "textit",
        "textbf",
        "textsc",
        "textsl",
        "texttt",
        "textsf",
        "textup",
        "textnormal",
        "text",
        "mbox",
        "hbox",
        "operatorname",
        "ensuremath",
        "url",
    }
)

_BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "P": "ℙ", "E": "𝔼", "F": "𝔽"}

# Escaped characters: TeX writes them with a backslash, readers expect the character.
_ESCAPES = {"%": "%", "&": "&", "#": "#", "_": "_", "{": "{", "}": "}", "$": "$"}

_SPECIALS = {"~": " ", "---": "—", "--": "–", "``": "“", "''": "”"}
# First characters of every token that is not plain text.
_STRUCTURAL = frozenset("\\{}$~-`'")
_MATH_DELIMITERS = frozenset({"$", "$$", "\\(", "\\)", "\\[", "\\]"})


class _NeedsFullParser(Exception):
    """The fast walker met something it does not model; hand the string to pylatexenc."""


def _argspec(walker_db: latexwalker.LatexContextDb, name: str) -> str:
    spec = walker_db.get_macro_spec(name)
    if spec is None:
        return ""
    return str(getattr(spec.args_parser, "argspec", "") or "")


_Tables = tuple[dict[str, str], dict[str, tuple[str, str]], frozenset[str]]


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """(symbols, formatted macros with their argspec, macros only pylatexenc can render):
    from the cache folder, else read out of pylatexenc and kept there."""
    try:
        path = tables_path(os.environ)
    except RuntimeError:  # no home folder to find a cache folder in: nothing is kept
        return _read_tables()
    try:
        data = json.loads(path.read_text("utf-8"))
        formatted = {name: (spec, repl) for name, (spec, repl) in data["formatted"].items()}
        return dict(data["symbols"]), formatted, frozenset(data["code_only"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not kept yet, or unreadable: read the tables again
    tables = _read_tables()
    _keep(path, tables)
    return tables


def tables_path(env: Mapping[str, str]) -> Path:
    """Where the tables of the installed pylatexenc are kept ($DIGEST_CACHE_DIR, else
    $XDG_CACHE_HOME/digest, else ~/.cache/digest)."""
    return default_cache_dir(env) / f"latex-tables-{pylatexenc_version}.json"


def _keep(path: Path, tables: _Tables) -> None:
    symbols, formatted, code_only = tables
    data = {"symbols": symbols, "formatted": formatted, "code_only": sorted(code_only)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # written whole, then renamed: a process reading at the same time sees all or nothing
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as out:
            json.dump(data, out, ensure_ascii=False)
        os.replace(out.name, path)
    except OSError:
        pass  # a read-only home: the next process reads the tables out of pylatexenc again


def _read_tables() -> _Tables:
    from pylatexenc import latex2text, latexwalker

    text_db = latex2text.get_default_latex_context_db()
    walker_db = latexwalker.get_default_latex_context_db()
    symbols: dict[str, str] = {}
    formatted: dict[str, tuple[str, str]] = {}
    code_only: set[str] = set()
    for category in text_db.categories():
        for spec in text_db.iter_macro_specs([category]):
            name = spec.macroname
            repl = spec.simplify_repl
            argspec = _argspec(walker_db, name)
            if name in _ACCENTS or name in _PASS_THROUGH or name in _ESCAPES:
                continue
            if isinstance(repl, str):
                if argspec:
                    formatted[name] = (argspec, repl)
                else:
                    symbols[name] = repl
            elif callable(repl):
                code_only.add(name)
    # Placeholders like "<cit.>" help nobody in an email; a URL reads best as itself.
    for name in ("cite", "citet", "citep", "ref", "autoref", "cref", "Cref", "eqref", "label"):
        formatted[name] = ("*[[{", "")
    formatted["href"] = ("{{", "%(2)s")
    formatted["footnote"] = ("[{", " (%(2)s)")
    return symbols, formatted, frozenset(code_only)


class _Walker:
    """Converts a token list left to right; `pos` is the next token to read."""

    __slots__ = ("code_only", "formatted", "pos", "symbols", "tokens")

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.symbols, self.formatted, self.code_only = _tables()

    def run(self, *, until_close: bool = False) -> str:
        out: list[str] = []
        append = out.append
        tokens = self.tokens
        structural = _STRUCTURAL
        symbols = self.symbols
        count = len(tokens)
        pos = self.pos
        while pos < count:
            tok = tokens[pos]
            pos += 1
            if tok[0] not in structural:
                append(tok)  # plain text, the common case
                continue
            if tok == "}":
                if until_close:
                    break
                continue  # a stray closing brace carries no text
            symbol = symbols.get(tok[1:]) if tok[0] == "\\" else None
            if symbol is not None:
                append(symbol)  # \alpha, \sim, ...: no arguments to read
                continue
            self.pos = pos  # nested reads advance the shared position
            append(self.token_text(tok))
            pos = self.pos
        self.pos = pos
        return "".join(out)

    def token_text(self, tok: str) -> str:
        if tok == "{":
            return self.run(until_close=True)
        if tok[0] == "\\" and len(tok) > 1:
            return self.macro(tok[1:].rstrip("*"))
        if tok in _MATH_DELIMITERS:
            return ""
        return _SPECIALS.get(tok, tok)

    def macro(self, name: str) -> str:
        if name in _ESCAPES:
            return _ESCAPES[name]
        if name in _ACCENTS:
            return _accented(self.argument(), _ACCENTS[name])
        if name == "mathbb":
            arg = self.argument()
            return "".join(_BLACKBOARD.get(ch, ch) for ch in arg)
        if name in _PASS_THROUGH:
            return self.argument()
        symbol = self.symbols.get(name)
        if symbol is not None:
            return symbol
        formatted = self.formatted.get(name)
        if formatted is not None:
            return self.apply_format(*formatted)
        if name in ("begin", "end"):
            self.argument()  # the environment's name; its body reads on as text
            return " "
        if name == "not":
            return _accented(self.argument(), "\u0338")
        if name in self.code_only:
            raise _NeedsFullParser(name)
        if name in (",", ";", ":", " ", "quad", "qquad"):
            return " "
        # An unknown macro: drop its name, its arguments (if any) read on as plain groups.
        return ""

    def apply_format(self, argspec: str, template: str) -> str:
        args: list[str] = []
        for kind in argspec:
            if kind == "*":
                if self.peek() == "*":
                    self.pos += 1
                continue
            if kind == "[":
                args.append(self.optional_argument())
            else:
                args.append(self.argument())
        if "%(" in template:
            return template % {str(i + 1): a for i, a in enumerate(args)}
        if "%s" in template:
            return template % tuple(args[: template.count("%s")])
        return template

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def skip_spaces(self) -> None:
        while self.pos < len(self.tokens) and self.tokens[self.pos].isspace():
            self.pos += 1
        tok = self.peek()
        if tok and tok[0].isspace() and not tok.isspace():
            self.tokens[self.pos] = tok.lstrip()

    def argument(self) -> str:
        """A mandatory argument: a braced group, one macro, or one character."""
        self.skip_spaces()
        tok = self.peek()
        if not tok or tok == "}":
            return ""
        if tok[0] != "\\" and len(tok) > 1 and tok not in _SPECIALS and tok != "$$":
            # Plain text: the argument is its first character; the rest stays for later.
            self.tokens[self.pos] = tok[1:]
            return tok[0]
        self.pos += 1
        return self.token_text(tok)

    def optional_argument(self) -> str:
        tok = self.peek()
        if tok.startswith("[") and "]" in tok:
            end = tok.index("]")
            rest = tok[end + 1 :]
            if rest:
                self.tokens[self.pos] = rest
            else:
                self.pos += 1
            return tok[1:end]
        return ""


def _accented(base: str, mark: str) -> str:
    if not base:
        return unicodedata.normalize("NFC", " " + mark).strip() or mark
    first = {"ı": "i", "ȷ": "j"}.get(base[0], base[0])
    return unicodedata.normalize("NFC", first + mark) + base[1:]


def _drop_math_delimiters(tokens: list[str]) -> None:
    """Remove `$` tokens in place (they produce no text, and fewer tokens walk faster);
    with an odd count the last one is a literal dollar sign ("costs $5")."""
    dollars = [i for i, t in enumerate(tokens) if t == "$"]
    if len(dollars) % 2:
        tokens[dollars.pop()] = "\\$"
    for i in reversed(dollars):
        del tokens[i]


def _full_parser(text: str) -> str | None:
    from pylatexenc import latex2text

    converter = latex2text.LatexNodes2Text(math_mode="text", strict_latex_spaces=False)
    try:
        return str(converter.latex_to_text(text))
    except Exception:  # pylatexenc raises assorted errors on broken TeX; we degrade instead
        return None


def _escape_percent(text: str) -> str:
    # In abstracts a bare % is a percent sign, not a TeX comment that eats the line.
    return re.sub(r"(?<!\\)%", r"\\%", text)


def latex_to_text(s: str) -> str:
    """Readable Unicode for a string that may contain TeX. Never raises."""
    if "\\" not in s and "$" not in s and "{" not in s and "~" not in s:
        return s  # no TeX: four C-speed scans beat a regex search
    tokens = _TOKEN.findall(s)
    if "$" in s:
        _drop_math_delimiters(tokens)
    try:
        return _Walker(tokens).run()
    except _NeedsFullParser:
        pass
    except RecursionError:  # absurdly deep braces: fall through to the plain fallback
        return _strip_tex(s)
    full = _full_parser(_escape_percent(s))
    return full if full is not None else _strip_tex(s)


def _strip_tex(s: str) -> str:
    """Last resort: drop backslashes, braces and dollars so the words stay readable."""
    return re.sub(r"\\([A-Za-z]+)|[\\{}$]", lambda m: m.group(1) or "", s)
