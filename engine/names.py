"""People's names and owner cells as the independent-reviewer check compares them.

- `name_keys(text)`: the readable folded form of a name, as stored beside
  what the reviewer typed (cases.reviewer_key): 'Martin,  CHLOÉ' ->
  ['chloe martin'].
- `same_name(a, b)`: could the two names be one person's? The rule is in
  docs/ops-guide.md ("What the reviewer does"); in short, after folding
  (below) two names are one person's when the words of one are all found
  among the words of the other. Doubt counts as the same person: a wrong
  "same" only asks for another reviewer, a wrong "different" lets the owner
  approve their own customer.
- `look_alike_escaped(text)`: a text shown so that letters of other
  scripts that pass for Latin ones stand out ('reta\\u0456l'), for
  segment labels (engine/segments.py); None when there is nothing to mark.
- `no_owner(value)`: an owner cell that names nobody (empty, `N/A`, `-`,
  `none`, `unassigned`, `TBD` ...: PLACEHOLDERS), so no owner is on record.

Folding, in order: fold() (the one normalisation of names and ids: NFKC,
every dash '-', every space one space, format and invisible characters
dropped, digits of other scripts ASCII, trimmed; ids are also
case-folded there, names below), then NFKD; an e-mail
address taken out (the name beside it is compared; an address alone, or
one whose local part has two parts or more, compares by its local part:
'chloe.martin@x.com' is 'chloe martin'); look-alike letters of other
scripts read as the Latin letter they look like (CONFUSABLES: Cyrillic
'С', Greek 'Ο'; after Unicode TR39 confusables.txt, Latin/Cyrillic/Greek
only); accents and marks dropped; every other non-letter a space; case
folded (ß is ss); titles (Dr, Mme) and suffixes or post-nominal letters
(Jr, PhD, MBA) dropped wherever they stand. For the comparison (not the
stored key) also: i and l, 0 and o, 1 and l, 'rn' and 'm', 'vv' and 'w',
'cl' and 'd' are one (TR39 skeleton), and 'ae', 'oe', 'ue', 'aa' are 'a',
'o', 'u', 'a' (German ä = ae: 'Jürgen' = 'Juergen' = 'Jurgen'; Danish
å = aa).
"""

from __future__ import annotations

import getpass
import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

from .errors import InputError
from .safe_text import _INVISIBLE, WHITESPACE, _escape, name_problem

# Letters that carry no accent to drop but a stroke or a ligature, and how
# they are written without it: both spellings in use count ("Đorđe" is
# "Dorde" and "Djordje"; "Søren" is "Soren" and "Soeren").
_LETTERS = {"ł": ("l",), "ø": ("o", "oe"), "đ": ("d", "dj"), "ð": ("d",), "æ": ("ae", "a"),
            "œ": ("oe",), "þ": ("th",), "ı": ("i",), "ħ": ("h",), "ŧ": ("t",), "ŋ": ("n",),
            "ĸ": ("q",), "ſ": ("s",)}

# Look-alikes of Latin letters in the Cyrillic and Greek scripts and among
# Latin's own extensions, each pair "look-alike, Latin" (after Unicode
# TR39 confusables.txt; a few small-capital shapes added: doubt counts as
# the same letter). Both cases, read before case folding: Greek 'Η' looks
# like 'H' but its small letter 'η' looks like 'n'.
_PAIRS = (
    # Cyrillic capitals and small letters
    "АA ВB СC ЕE НH ІI ЈJ КK МM ОO РP ЅS ТT ХX УY ҮY ԌG ԚQ ԜW Ԁd ӀI "
    "аa вb сc еe һh іi јj кk мm оo рp ѕs тt хx уy үy ԁd ԛq ԝw ӏl ьb гr пn иu ɡg "
    # Greek capitals and small letters
    "ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX "
    "αa βb εe ηn ιi κk νv οo ρp τt υu χx ϲc ϳj ϵe "
    # Latin extensions and digits or signs that stand for letters
    "ɑa ɩi ȷj ɪi ʟl ᴅd ᴇe ᴋk ᴍm ᴏo ᴘp ᴛt ᴜu ᴠv ᴡw ᴢz ǀl 0o 1l |l "
    # Armenian and Cherokee letters that pass for Latin ones
    "օo սu ոn հh ցg ԁd ᎪA ᏴB ᏟC ᎬE ᎻH ᏦK ᎷM ᏢP ᏚS ᎢT ᏔW ᏃZ ᎠD"
).split()
CONFUSABLES = {pair[0]: pair[1] for pair in _PAIRS}

_LETTER_OR_DIGIT = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd"})


def passes_for(ch: str) -> str | None:
    """The ASCII letter or digit a character that is not ASCII passes for,
    or None: a look-alike of CONFUSABLES (Cyrillic 'і' -> 'i') or a
    compatibility form NFKC makes ASCII (full-width 'ｒ' -> 'r', a
    mathematical bold letter). 'é' passes for nothing: it looks different."""
    if ch.isascii() or unicodedata.category(ch) not in _LETTER_OR_DIGIT:
        return None  # superscripts ('m²') and other signs are not read as letters
    latin = CONFUSABLES.get(ch) or unicodedata.normalize("NFKC", ch)
    return latin if latin.isascii() and latin.isalnum() else None


def look_alike_escaped(text: str) -> str | None:
    r"""`text` with every character that passes for an ASCII letter or digit
    (passes_for) written as its \u escape, when it could be read as text
    it is not: it mixes such characters with ASCII letters ('reta\u0456l'
    for 'retaіl' with a Cyrillic 'і'), or all its letters are such
    characters (full-width 'ｒｅｔａｉｌ'). None when there is nothing to
    mark (ASCII text, 'Café', a word of another script such as 'розница')."""
    if text.isascii():
        return None
    marks = [passes_for(ch) is not None for ch in text]
    if not any(marks):
        return None
    letters = [(ch, mark) for ch, mark in zip(text, marks, strict=True) if ch.isalnum()]
    mixed = any(ch.isascii() for ch, _ in letters)
    if not mixed and not all(mark for _, mark in letters):
        return None
    return "".join(_escape(ch) if mark else ch for ch, mark in zip(text, marks, strict=True))


# Multi-letter look-alikes and spellings that are one for the comparison.
_SKELETON = (("i", "l"), ("rn", "m"), ("vv", "w"), ("cl", "d"),
             ("ae", "a"), ("oe", "o"), ("ue", "u"), ("aa", "a"))

# Words around a name that do not tell people apart: titles, generational
# suffixes, degrees and post-nominal letters (as folded: 'Ph.D.' is 'ph d',
# kept here as 'phd' too). Words that are also common names or surnames
# ('Don', 'Ma', 'Ba', 'Do') are not in the list.
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "prof", "professor",
                     "sir", "dame", "rev", "herr", "frau", "mme", "mmes", "mlle", "madame",
                     "monsieur", "sra", "srta", "dona", "sig", "sigra", "dott", "dre"})
_SUFFIXES = frozenset({"jr", "jnr", "junior", "sr", "snr", "senior", "ii", "iii", "iv",
                       "phd", "dphil", "mphil", "md", "dds", "dmd", "dvm", "esq", "mba", "msc",
                       "bsc", "llb", "llm", "jd", "cpa", "cfa", "pmp", "rn", "obe", "mbe",
                       "cbe", "kbe", "frcs", "mrcp", "ceng", "peng", "dipl", "mag"})
_DROPPED = _TITLES | _SUFFIXES
# Two-letter post-nominals written with dots or spaces ('Ph. D.', 'M.D.').
_SPLIT_SUFFIXES = (("ph", "d"), ("m", "d"), ("j", "d"), ("d", "phil"), ("m", "b", "a"))

_BRACKETED = re.compile(r"[(\[{<（［｛＜][^)\]}>）］｝＞]*[)\]}>）］｝＞]")
_EMAIL = re.compile(r"(?:mailto:)?([^\s<>()\[\],;:@\"]+)@[^\s<>()\[\],;:@\"]+")
# Where a name is followed by a department or role: ', Sales', ' - Sales', '/ Sales'.
_SEGMENTS = re.compile(r"[,;/]|\s[-\u2010-\u2015]+\s")

OWNER, OWNER_ID = "owner", "owner_id"
# Owners named by a source that --prefer ranked below another naming a
# different owner: kept beside the preferred one for the reviewer check.
OTHER_OWNERS, OTHER_OWNER_IDS = "other_owners", "other_owner_ids"

# Owner cells that name nobody (as folded by _placeholder_key: case folded,
# everything but letters and digits dropped). A cell of punctuation only
# ('-', '--', '?', '/', '.') names nobody either.
PLACEHOLDERS = frozenset({
    "na", "nan", "none", "null", "nil", "nobody", "noone", "noowner", "unknown", "unassigned",
    "notassigned", "notset", "undefined", "tbd", "tba", "tbc", "tobedetermined",
    "tobeassigned", "tobeconfirmed", "vacant", "open", "pending", "notapplicable",
    "nonassigne", "keiner", "ninguno", "0"})


def _placeholder_key(value: Any) -> str:
    text = unicodedata.normalize("NFKD", str(value)).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def no_owner(value: Any) -> bool:
    """Does an owner (or owner id) cell name nobody? None, empty or only
    whitespace or punctuation ('-', '?'), a placeholder of PLACEHOLDERS
    ('N/A', 'none', 'Unassigned', 'TBD'; case, spaces and punctuation
    ignored), or an id of zeros only (Salesforce's empty id
    000000000000000AAA)."""
    if value is None:
        return True
    key = _placeholder_key(value)
    if not key or key in PLACEHOLDERS:
        return True
    zeros = key.rstrip("a") if len(key) == 18 else key
    return set(zeros) == {"0"}


# Dashes that are not in category Pd but are read as one: minus signs and
# hyphen-like symbols (U+2212 MINUS SIGN, U+2043 HYPHEN BULLET, U+2796
# HEAVY MINUS SIGN, U+02D7 MODIFIER LETTER MINUS SIGN, U+207B/U+208B
# super- and subscript minus: NFKC makes those two U+2212).
_DASH_LIKE = frozenset("\u2212\u2043\u2796\u02d7\u207b\u208b\ufe63\uff0d")


def _fold_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Pd" or ch in _DASH_LIKE:
        return "-"
    if category == "Zs" or ch in WHITESPACE:
        return " "
    if category == "Cf" or _INVISIBLE.match(ch):
        return ""
    if category == "Nd" and ch > "\x7f":  # '٢' (Arabic-Indic two) is '2'
        return str(unicodedata.decimal(ch))
    return ch


@lru_cache(maxsize=4096)
def fold(text: str, case: bool = True) -> str:
    """The one normalisation of people's names and ids before they are
    compared or stored as keys (owner_id_key, name_keys, same_name): NFKC
    (compatibility forms: full-width 'ｕ' is 'u', ligatures, super- and
    subscripts), case folded (unless case=False: the name folding reads
    capital look-alikes before folding case), every Unicode dash (category
    Pd: U+2010 hyphen, en and em dashes, U+FF0D) and minus sign (U+2212) a
    '-', every space (category Zs: no-break, em, ideographic ...) one
    space, format and invisible characters (category Cf: zero-width
    space, joiners, bidi marks, soft hyphen) removed, digits of other
    scripts the ASCII digit, runs of spaces one, and trimmed. So 'u\u201042',
    'u\u221242', '\uff55-42', ' U-4\u0662 ' all fold to 'u-42'."""
    text = unicodedata.normalize("NFKC", str(text))
    text = "".join(_fold_char(ch) for ch in text)
    if case:
        text = unicodedata.normalize("NFKC", text.casefold())
    return re.sub(" +", " ", text).strip()


MAX_MADE_BY = 200  # characters of runs.made_by, as folded


def made_by_problem(name: str, what: str = "--by") -> str | None:
    """Why a folded name cannot be recorded as who made a run, or None:
    longer than MAX_MADE_BY characters; no letter or digit (a lone
    combining mark shows as nothing, '-' names nobody); letters of another
    script that pass for Latin ones mixed with Latin letters ('Mаra' with a
    Cyrillic 'а' prints exactly as 'Mara': look_alike_escaped). A name
    wholly in another script ('Мара', 'Σοφία') is kept."""
    if len(name) > MAX_MADE_BY:
        return f"{what} is {len(name):,} characters long; at most {MAX_MADE_BY}"
    if not any(ch.isalnum() for ch in name):
        return f"{what} {_escape_all(name)!s} has no letter or digit: name who makes the run"
    shown = look_alike_escaped(name)
    if shown is not None and any(ch.isascii() and ch.isalpha() for ch in name):
        return (f"{what} {shown} mixes letters of another script that look like Latin ones "
                "with Latin letters; type the name in one script")
    return None


def _escape_all(text: str) -> str:
    """Every character that is not ASCII as its \\u escape ('\\u0301')."""
    return "".join(ch if ch.isascii() and ch.isprintable() else _escape(ch) for ch in text)


def made_by(by: str | None) -> str | None:
    """Who makes a run, as runs.made_by records it: `by` (`adieu evaluate
    --by NAME`) if given, else the operating-system user (getpass.getuser:
    $LOGNAME, $USER ... or the password database), else None. The name is
    fold()ed with its case kept (NFKC, spaces and dashes made one, trimmed),
    as a reviewer's name is before it is compared; it is a record for
    people to read, never compared or checked. InputError for a `by` that
    is empty or holds a control, formatting or invisible character
    (safe_text.name_problem, as for a reviewer's --by), or that
    made_by_problem refuses (too long, no letter or digit, look-alike
    letters mixed with Latin ones); such an operating-system user name is
    not recorded (None)."""
    if by is not None:
        problem = name_problem(by, "--by")
        name = fold(by, case=False)
        if problem or not name:
            raise InputError(problem or "--by may not be empty: name who makes the run")
        problem = made_by_problem(name)
        if problem:
            raise InputError(problem)
        return name
    try:
        user = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no user name in the environment or passwd
        return None
    name = fold(user, case=False)
    return name if name and not name_problem(user) and not made_by_problem(name) else None


def owner_id_key(value: Any) -> str:
    """An owner id as compared: fold() (NFKC, case, dashes, spaces,
    invisible characters, digits), then every space removed. A Salesforce
    id's 15-character form and its 18-character form (the same id with a
    3-character case checksum) have the same key: the first 15 characters."""
    text = fold(str(value)).replace(" ", "")
    if len(text) == 18 and text.isalnum() and text.isascii():
        text = text[:15]
    return text


def same_owner(fact: str, a: Any, b: Any) -> bool:
    """Do two values of fact `fact` ("owner" or "owner_id") name the same
    owner? Names by same_name, ids by owner_id_key."""
    if fact == "owner_id":
        return owner_id_key(a) == owner_id_key(b)
    return same_name(str(a), str(b))


def owners_on_record(facts: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The owner names and owner ids a customer's facts put on record, the
    preferred first: `owner` / `owner_id`, then the owners another source
    named that --prefer overruled (OTHER_OWNERS / OTHER_OWNER_IDS, "; "
    between them; engine/join.py). Placeholders (no_owner) left out."""
    out: tuple[list[str], list[str]] = ([], [])
    for kept, (fact, others) in zip(out, ((OWNER, OTHER_OWNERS), (OWNER_ID, OTHER_OWNER_IDS)),
                                    strict=True):
        values = [facts.get(fact)]
        if not no_owner(facts.get(others)):
            values += str(facts[others]).split("; ")
        kept += [str(v) for v in values if not no_owner(v)]
    return out


def _drop_email(text: str) -> tuple[str, list[str]]:
    """The text without e-mail addresses, and the addresses' local parts."""
    locals_ = [m.group(1) for m in _EMAIL.finditer(text)]
    return _EMAIL.sub(" ", text), locals_


_DIGITS = re.compile(r"[0-9]")

def _words(text: str, skeleton: bool) -> list[str]:
    """Folded words of `text` (see the module docstring), titles and
    suffixes dropped unless nothing else is left."""
    if skeleton:
        text = "".join(CONFUSABLES.get(ch, ch) for ch in text)
    kept = []
    for ch in unicodedata.normalize("NFKD", text):
        category = unicodedata.category(ch)
        if category in ("Mn", "Me", "Cf"):
            continue  # accents and other marks, zero-width and bidi characters
        kept.append(" " if ch.isspace() or category[0] in ("Z", "C", "P", "S") else ch)
    # A digit inside a word of letters ('Martin2', 'Chloe2') tells nobody
    # apart: it is left out (a word of digits alone stays).
    words = [_DIGITS.sub("", w) if _DIGITS.sub("", w) else w
             for w in "".join(kept).casefold().split()]
    for split in _SPLIT_SUFFIXES:  # 'ph d' -> 'phd'
        n = len(split)
        i = 0
        while i + n <= len(words):
            if tuple(words[i:i + n]) == split and (i > 0 or n == len(words)):
                words[i:i + n] = ["".join(split)]
            i += 1
    rest = [w for w in words if w not in _DROPPED]
    return rest or words


def _readings(text: str, skeleton: bool) -> list[list[str]]:
    """The word lists a name is compared by: the whole name; without text in
    brackets; each comma- (or ' - ', '/') separated part of two words or
    more ('Chloe Martin, Sales' -> 'chloe martin'); an e-mail's local part
    when no name stands beside it, or when it has two parts or more. The
    text is fold()ed first (its case kept: the look-alike letters are
    read before case is folded)."""
    text = unicodedata.normalize("NFKD", fold(str(text), case=False))
    rest, locals_ = _drop_email(text)
    out: list[list[str]] = []
    plain = _words(rest, skeleton)
    if plain:
        out.append(plain)
        unbracketed = _words(_BRACKETED.sub(" ", rest), skeleton)
        parts = [_words(part, skeleton) for part in _SEGMENTS.split(_BRACKETED.sub(" ", rest))]
        out += [unbracketed] + [p for p in parts if len(p) >= 2]
    for local in locals_:
        words = _words(local, skeleton)
        if words and (not plain or len(words) >= 2):
            out.append(words)
    out = [key.split() for words in out for key in _spellings(" ".join(words))]
    if skeleton:
        out = [[_skeleton(w) for w in words] for words in out]
    seen: list[list[str]] = []
    for words in out:
        if words and words not in seen:
            seen.append(words)
    return seen


def _skeleton(word: str) -> str:
    for a, b in _SKELETON:
        word = word.replace(a, b)
    return word


def name_keys(text: str) -> list[str]:
    """The keys a person's name is stored by, one per spelling of the
    letters in _LETTERS: folded as the module docstring says (no look-alike
    or skeleton folding), text in brackets and an e-mail address left out
    (an address alone counts by its local part), and "Last, First" read as
    "First Last": 'Martin,  CHLOÉ', 'Dr Chloe Martin, PhD' and
    'chloe.martin@example.com' have the key 'chloe martin'. The text is
    fold()ed first, as ids are."""
    text = unicodedata.normalize("NFKD", fold(str(text)))
    rest, locals_ = _drop_email(text)
    rest = _BRACKETED.sub(" ", rest)
    parts = [" ".join(_words(p, False)) for p in rest.split(",")]
    parts = [p for p in parts if p and p not in _DROPPED]
    if not parts and locals_:
        parts = [" ".join(_words(locals_[0], False))]
    if not parts:  # only titles or suffixes ('Dr'): keep them
        parts = [" ".join(_words(rest.replace(",", " "), False))]
    if len(parts) == 2:
        parts = parts[::-1]
    return _spellings(" ".join(parts))


def _spellings(words: str) -> list[str]:
    """`words` once per spelling of the letters in _LETTERS it holds."""
    keys = [words]
    for letter, spellings in _LETTERS.items():
        if letter in words:
            keys = [k.replace(letter, s) for k in keys for s in spellings]
    return keys


def _word(a: str, b: str) -> bool:
    """One word matches another: equal, or one is an initial of the other."""
    return a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))


def _matches(word: str, run: tuple[str, ...]) -> bool:
    """A word matches a run of consecutive words of the other name: the one
    word (_word), their concatenation either way round ('maryjane', 'mary
    jane'; 'martinchloe', 'chloe martin') or, for a
    word of two or three letters, their initials ('jp', 'jean pierre')."""
    if len(run) == 1:
        return _word(word, run[0])
    return word in ("".join(run), "".join(run[::-1])) or (
        len(word) == len(run) <= 3 and all(w.startswith(c) for c, w in zip(word, run, strict=True)))


@lru_cache(maxsize=4096)
def _covered(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """Is every word of `short` matched by a word or run of its own in
    `long` (in any order)? A single initial alone matches nothing."""
    if not short or (len(short) == 1 and len(short[0]) == 1):
        return False
    spans = [[(s, e) for s in range(len(long)) for e in range(s + 1, len(long) + 1)
              if _matches(word, long[s:e])] for word in short]
    if not all(spans):
        return False
    if len(long) > 16:  # too many to pair off: each word matching somewhere is enough
        return True

    @cache
    def pair(i: int, used: int) -> bool:
        if i == len(short):
            return True
        for s, e in spans[i]:
            mask = ((1 << e) - 1) ^ ((1 << s) - 1)
            if not used & mask and pair(i + 1, used | mask):
                return True
        return False
    return pair(0, 0)


def _same(a: list[str], b: list[str]) -> bool:
    ta, tb = tuple(a), tuple(b)
    return "".join(a) == "".join(b) or _covered(ta, tb) or _covered(tb, ta)


def same_name(a: str, b: str) -> bool:
    """Could names `a` and `b` be one person's? True when, for a reading of
    each (_readings: whole, without brackets, a part before or after a
    comma, an e-mail's local part), folded with or without the look-alike
    skeleton, the words of one are all matched by words of the other, each
    by its own (_covered: equal, an initial, a run of words written as one
    or as initials), in any order; or the two read the same with the
    spaces taken out ('李 小龍', '李小龍'). So 'Chloe Martin' is 'Martin,
    Chloe', 'C. Martin', 'Martin', 'Chloe Marie Martin', 'Chloe
    Martin-Dupont', 'Chloe Martin, Sales', 'Dr Chloe Martin PhD' and
    'chloe.martin@x.com'; 'Ann Lee' is not 'Anna Leeds'."""
    for skeleton in (False, True):
        for x in _readings(a, skeleton):
            for y in _readings(b, skeleton):
                if _same(x, y):
                    return True
    return False
