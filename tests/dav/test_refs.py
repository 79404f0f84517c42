"""``refs.href_quote`` is ``quote(…, safe=HREF_SAFE)``, as WsgiDAV quotes an href."""

from __future__ import annotations

import random
from urllib.parse import quote

from polaris.dav.refs import HREF_SAFE, href_quote

NAMES = [
    "",
    "plain.txt",
    "दस्तावेज़ & <रिपोर्ट>.txt",
    "a \"quoted\" 'name' (1) [2] {3} #4 ?5 %6 +7 =8 ;9 :10 @11 ^12 `13 ~14 |15 $16 ,17 !18 *19",
    "/remote.php/dav/files/hc.a1/hc.a1/c/",
    "emoji 👮\u200d♀️ and \u00a0 spaces\u3000",
    "\ue000 private use, \U0001f600, ज़\u200dष",
]


def test_it_quotes_as_quote_does() -> None:
    for name in NAMES:
        assert href_quote(name) == quote(name, safe=HREF_SAFE), name


def test_every_printable_character_of_the_first_planes() -> None:
    chars = [chr(code) for code in range(0x20, 0x3000) if not 0xD800 <= code < 0xE000]
    for char in chars:
        assert href_quote(char) == quote(char, safe=HREF_SAFE), repr(char)
    generator = random.Random(15)
    for _ in range(500):
        text = "".join(generator.choice(chars) for _ in range(generator.randint(1, 30)))
        assert href_quote(text) == quote(text, safe=HREF_SAFE), repr(text)
