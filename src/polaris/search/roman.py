"""Roman-script spellings of Hindi words: a phonetic skeleton both scripts map to.

Officers type Hindi in Roman letters as they speak it (``chori``, ``chory``, ``choree`` for
``चोरी``; ``thana``, ``thaana`` for ``थाना``). Transliterating such a query into Devanagari finds
the word rarely (``chori`` becomes ``चोरि``, ``thana`` becomes ``थन``: the spelling of long vowels
and of the inherent ``a`` is a guess). Instead both sides are reduced to what spellers agree on:

- the *consonant key*: the consonants in order, in classes that Roman spelling does not tell
  apart — aspiration (``ख``/``क`` = ``kh``/``k``), retroflex and dental (``ट``/``त`` = ``t``),
  ``श``/``ष``/``स`` = ``s``/``sh``, ``फ`` = ``ph``/``f``, ``ज`` = ``j``/``z``, ``व`` = ``v``/``w``;
  a repeated class counts once (``pakka``, ``पक्का``); nasals (anusvara, chandrabindu, ``न``) are
  ``N``;
- the *vowel key*: the vowels other than ``a`` in order, as ``I`` (i, ee, y), ``U`` (u, oo),
  ``E`` (e, ai), ``O`` (o, au): Roman ``a`` stands for both ``अ`` and ``आ``, and the inherent
  ``a`` is written or not, so ``a`` is left out.

A Devanagari word is indexed under its consonant key (``r:``) and its full key (``v:``, consonant
and vowel key); a Roman query word asks for both, and a document matching the full key ranks
above one matching the consonant key only (``chori`` finds ``चोरी`` first, then ``चार``).
Ambiguous letters give a word several keys (at most :data:`MAX_VARIANTS`): ``ड़`` is ``d`` or
``r`` (``ladka``/``larka``), an anusvara before ``प``/``ब``/``म`` is ``n`` or ``m``, a nasal may
be left out (``maa`` for ``माँ``).

English loanwords are spelled in Devanagari as they sound, and no skeleton finds ``police`` in
``पुलिस`` (``c`` is ``s`` there): :data:`LOANWORDS` lists the common ones. A word in the table,
in either script, carries the key ``e:<english>``.

Measured in ``bench/roman_search.py`` (docs/search.md, "Roman-script queries").
"""

from __future__ import annotations

import functools
import itertools

#: Consonant keys shorter than this are not looked up: one consonant matches half the language.
MIN_CONSONANTS = 2
MAX_VARIANTS = 4

_CONSONANTS = {
    **dict.fromkeys("कख", "K"),
    **dict.fromkeys("गघ", "G"),
    **dict.fromkeys("चछ", "C"),
    **dict.fromkeys("जझ", "J"),
    **dict.fromkeys("टठतथ", "T"),
    **dict.fromkeys("डढदध", "D"),
    **dict.fromkeys("ङञणन", "N"),
    **dict.fromkeys("पफ", "P"),
    **dict.fromkeys("बभ", "B"),
    "म": "M",
    "य": "Y",
    **dict.fromkeys("रऱ", "R"),
    **dict.fromkeys("लळऴ", "L"),
    "व": "V",
    **dict.fromkeys("शषस", "S"),
    "ह": "H",
}
_VOWELS = {
    **dict.fromkeys("इईिी", "i"),
    **dict.fromkeys("उऊुू", "u"),
    **dict.fromkeys("एऐेैॅऍ", "e"),
    **dict.fromkeys("ओऔोौॉऑ", "o"),
    **dict.fromkeys("ऋृ", "Ri"),
    **dict.fromkeys("अआा", "-"),
}
#: Signs after a consonant that replace its inherent "a".
_SIGNS = set("ािीुूृेैॅॉोौ़्")
_NASALS = "ंँ"
_NUKTA = "\u093c"
_LABIALS = "पफबभम"

#: Roman spellings, longest first within each starting letter (greedy match).
_ROMAN = sorted(
    {
        "chh": "C",
        "ch": "C",
        "sh": "S",
        "kh": "K",
        "gh": "G",
        "jh": "J",
        "th": "T",
        "dh": "D",
        "ph": "P",
        "bh": "B",
        "rh": "D",
        "ck": "K",
        "k": "K",
        "q": "K",
        "c": "K",
        "g": "G",
        "j": "J",
        "z": "J",
        "t": "T",
        "d": "D",
        "n": "N",
        "p": "P",
        "f": "P",
        "b": "B",
        "m": "M",
        "y": "Y",
        "r": "R",
        "l": "L",
        "v": "V",
        "w": "V",
        "s": "S",
        "h": "H",
        "x": "KS",
        "ee": "i",
        "ii": "i",
        "i": "i",
        "oo": "u",
        "u": "u",
        "ai": "e",
        "ay": "e",
        "ei": "e",
        "e": "e",
        "au": "o",
        "ou": "o",
        "aw": "o",
        "ow": "o",
        "o": "o",
        "aa": "-",
        "a": "-",
    }.items(),
    key=lambda item: -len(item[0]),
)

_GLIDES = {"ay", "aw", "ow"}
_ROMAN_VOWELS = set("aeiou")

#: English loanwords and the Devanagari spellings officers use (after nukta folding).
LOANWORDS: dict[str, tuple[str, ...]] = {
    "police": ("पुलिस",),
    "mobile": ("मोबाइल", "मोबाईल"),
    "report": ("रिपोर्ट",),
    "fir": ("एफआईआर", "प्राथमिकी"),
    "station": ("स्टेशन",),
    "phone": ("फोन",),
    "photo": ("फोटो",),
    "computer": ("कंप्यूटर", "कम्प्यूटर"),
    "court": ("कोर्ट",),
    "case": ("केस",),
    "number": ("नंबर", "नम्बर"),
    "inspector": ("इंस्पेक्टर", "इन्स्पेक्टर"),
    "constable": ("कांस्टेबल", "कॉन्स्टेबल"),
    "control": ("कंट्रोल",),
    "room": ("रूम",),
    "office": ("ऑफिस", "आफिस"),
    "officer": ("ऑफिसर", "अफसर"),
    "jail": ("जेल",),
    "bail": ("बेल",),
    "cctv": ("सीसीटीवी",),
    "sim": ("सिम",),
    "bank": ("बैंक",),
    "account": ("अकाउंट",),
    "email": ("ईमेल",),
    "online": ("ऑनलाइन",),
    "cyber": ("साइबर",),
    "fraud": ("फ्रॉड",),
    "license": ("लाइसेंस",),
    "licence": ("लाइसेंस",),
    "driver": ("ड्राइवर",),
    "motorcycle": ("मोटरसाइकिल", "मोटरसायकिल"),
    "truck": ("ट्रक",),
    "bike": ("बाइक",),
    "car": ("कार",),
    "doctor": ("डॉक्टर", "डाक्टर"),
    "hospital": ("हॉस्पिटल",),
    "postmortem": ("पोस्टमार्टम", "पोस्टमॉर्टम"),
    "video": ("वीडियो", "विडियो"),
    "camera": ("कैमरा",),
    "whatsapp": ("व्हाट्सएप", "व्हाट्सऐप"),
    "facebook": ("फेसबुक",),
    "pistol": ("पिस्टल", "पिस्तौल"),
    "school": ("स्कूल",),
    "market": ("मार्केट",),
    "challan": ("चालान",),
    "laptop": ("लैपटॉप",),
    "atm": ("एटीएम",),
}
_ENGLISH_OF = {hindi: english for english, spellings in LOANWORDS.items() for hindi in spellings}


def loanword(word: str) -> str | None:
    """The English word of a loanword in either script (folded form), or ``None``."""
    if word in LOANWORDS:
        return word
    return _ENGLISH_OF.get(word)


@functools.lru_cache(maxsize=65536)
def devanagari_keys(word: str) -> tuple[tuple[str, str], ...]:
    """``(consonant key, vowel key)`` variants of a Devanagari word (NFC, nukta not folded)."""
    options: list[tuple[str, ...]] = []  # per sound: its spellings (a consonant class or vowel)
    chars = list(word.replace("ज्ञ", "ग्य"))  # gyan
    for index, char in enumerate(chars):
        following = chars[index + 1] if index + 1 < len(chars) else ""
        if char in _CONSONANTS:
            letter = _CONSONANTS[char]
            if following == _NUKTA and char in "डढ":
                options.append(("D", "R"))
            elif following == _NUKTA and char == "फ":
                options.append(("P",))
            else:
                options.append((letter,))
            after = (
                chars[index + 2] if following == _NUKTA and index + 2 < len(chars) else following
            )
            if after not in _SIGNS:
                options.append(("-",))  # the inherent a
        elif char in _VOWELS:
            options.append((_VOWELS[char],))
        elif char in _NASALS:
            nasal: tuple[str, ...] = ("N", "")
            if following and following in _LABIALS:
                nasal = ("N", "M", "")
            options.append(nasal)
    if not any(option[0][:1].isupper() for option in options):
        return ()
    keys: list[tuple[str, str]] = []
    for choice in itertools.islice(itertools.product(*options), 16):
        key = _split("".join(choice))
        if key not in keys:
            keys.append(key)
        if len(keys) >= MAX_VARIANTS:
            break
    return tuple(keys)


@functools.lru_cache(maxsize=16384)
def roman_key(word: str) -> tuple[str, str] | None:
    """``(consonant key, vowel key)`` of a lower-case Roman word, or ``None`` (not Roman)."""
    if not word.isascii() or not word.isalpha():
        return None
    sounds: list[str] = []
    at = 0
    while at < len(word):
        for spelling, sound in _ROMAN:
            if word.startswith(spelling, at):
                # A final "y" after a consonant is a vowel (chory, chowky).
                if spelling == "y" and at == len(word) - 1 and at > 0:
                    sound = "i"
                # "ay", "aw", "ow" before a vowel are a and a consonant (shikayat, kotwali).
                if spelling in _GLIDES and word[at + 2 : at + 3] in _ROMAN_VOWELS:
                    continue
                sounds.append(sound)
                at += len(spelling)
                break
        else:
            at += 1
    return _split("".join(sounds))


def _split(sounds: str) -> tuple[str, str]:
    """Consonant key and vowel key of a string of classes, vowels and ``-`` (an ``a``).

    A class repeated with no vowel between counts once (``pakka``, ``पक्का``).
    """
    consonants: list[str] = []
    previous = ""
    for char in sounds:
        if char.isupper() and char != previous:
            consonants.append(char)
        previous = char
    vowels = "".join(char.upper() for char in sounds if char.islower())
    return "".join(consonants), vowels
