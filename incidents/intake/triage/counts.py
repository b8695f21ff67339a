"""Numbers read from replies: how many people ("200 people", "สองร้อยคน") and how much money.

Thai and Lao digits are mapped to ASCII first; Thai and Lao number words are summed with their
multipliers (สิบ 10, ร้อย 100 ...), which covers the counts people write in a message.
"""

from __future__ import annotations

import re

_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙໐໑໒໓໔໕໖໗໘໙", "01234567890123456789")

# fmt: off
_EN_WORDS = {
    "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "hundreds": 200,
    "thousand": 1000, "thousands": 2000, "dozen": 12, "dozens": 24, "several": 3,
}
# fmt: on
_EN_UNITS = (
    "people|persons|person|families|family|staff|employees|workers|residents|children|kids|"
    "students|patients|customers|users|villagers|households|homes|houses|victims|survivors|"
    "passengers|members|neighbours|neighbors|men|women|elderly|babies"
)
_EN_PEOPLE = re.compile(
    r"(?<![\w.,])(\d[\d,]*|" + "|".join(_EN_WORDS) + r")(?:\s+of)?(?:\s+[a-z]+)?\s+"
    r"(?:" + _EN_UNITS + r")(?!\w)"
)
_EN_EVERYONE = re.compile(
    r"(?<!\w)(everyone|everybody|all of us|(?:the\s+)?(?:whole|entire)\s+(?:village|town|city|"
    r"community|building|neighbou?rhood|area|district|company|office|team|street|camp)|"
    r"all (?:the )?(?:residents|staff|employees|customers|users|villagers|families))(?!\w)"
)
_TH_LO_UNITS = "คน|ครอบครัว|ครัวเรือน|หลังคาเรือน|ชีวิต|ຄົນ|ຄອບຄົວ|ຄົວເຮືອນ|ຊີວິດ"
# fmt: off
_TH_LO_NUMBER_WORDS = {
    "หนึ่ง": 1, "เอ็ด": 1, "สอง": 2, "ยี่": 2, "สาม": 3, "สี่": 4, "ห้า": 5, "หก": 6, "เจ็ด": 7,
    "แปด": 8, "เก้า": 9, "หลาย": 3,
    "ໜຶ່ງ": 1, "ສອງ": 2, "ສາມ": 3, "ສີ່": 4, "ຫ້າ": 5, "ຫົກ": 6, "ເຈັດ": 7, "ແປດ": 8,
    "ເກົ້າ": 9, "ຫຼາຍ": 3,
}
_TH_LO_MULTIPLIERS = {
    "สิบ": 10, "ร้อย": 100, "พัน": 1000, "หมื่น": 10_000, "แสน": 100_000, "ล้าน": 1_000_000,
    "ສິບ": 10, "ຊາວ": 20, "ຮ້ອຍ": 100, "ພັນ": 1000, "ໝື່ນ": 10_000, "ແສນ": 100_000,
    "ລ້ານ": 1_000_000,
}
# fmt: on
_TH_LO_TOKEN = "|".join(sorted([*_TH_LO_NUMBER_WORDS, *_TH_LO_MULTIPLIERS], key=len, reverse=True))
_TH_LO_PEOPLE = re.compile(r"(\d[\d,]*|(?:" + _TH_LO_TOKEN + r")+)\s*(?:" + _TH_LO_UNITS + ")")
_TH_LO_TOKENS = re.compile(_TH_LO_TOKEN)
# The unit words alone: a cheap first look, since most replies give no head count and the
# full patterns try every number word at every position (half the cost of triage's counts).
_EN_UNIT = re.compile(r"(?:" + _EN_UNITS + r")(?!\w)")
_TH_LO_UNIT = re.compile(_TH_LO_UNITS)
_TH_LO_EVERYONE = re.compile("ทุกคน|ทั้งหมู่บ้าน|ทั้งชุมชน|ทั้งตำบล|ทั้งอำเภอ|ทั้งบริษัท|ທຸກຄົນ|ທັງບ້ານ|ທັງໝູ່ບ້ານ|ທັງຊຸມຊົນ")

# fmt: off
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9,
          "พัน": 1e3, "หมื่น": 1e4, "แสน": 1e5, "ล้าน": 1e6, "ພັນ": 1e3, "ລ້ານ": 1e6}
# fmt: on
_SCALE_RE = "k|thousand|m|million|bn|billion|พัน|หมื่น|แสน|ล้าน|ພັນ|ລ້ານ"
_MONEY = re.compile(
    r"(?:(?:[$€£฿₭]|usd|us\$)\s?(\d[\d,]*(?:\.\d+)?)\s?(" + _SCALE_RE + r")?(?![a-z])"
    r"|(\d[\d,]*(?:\.\d+)?)\s?(" + _SCALE_RE + r")?\s?"
    r"(?:dollars?|usd|euros?|baht|kip|pounds|บาท|ກີບ)(?![a-z]))"
)


def ascii_digits(text: str) -> str:
    """Thai and Lao digits as ASCII, so one number pattern reads all three."""
    return text.translate(_DIGITS)


def people_count(text: str) -> tuple[int, str] | None:
    """The largest head count in a lower-cased reply, with the words that said it."""
    best: tuple[int, str] | None = None
    english = _EN_PEOPLE.finditer(text) if _EN_UNIT.search(text) else ()
    for match in english:
        value = _en_number(match.group(1))
        if value and (best is None or value > best[0]):
            best = (value, match.group(0))
    thai_lao = _TH_LO_PEOPLE.finditer(text) if _TH_LO_UNIT.search(text) else ()
    for match in thai_lao:
        value = _th_lo_number(match.group(1))
        if value and (best is None or value > best[0]):
            best = (value, match.group(0))
    return best


def everyone(text: str) -> str | None:
    """The words that say a whole group is affected ("the whole village", "ทุกคน"), if any."""
    match = _EN_EVERYONE.search(text) or _TH_LO_EVERYONE.search(text)
    return match.group(0) if match else None


def money_amount(text: str) -> tuple[float, str] | None:
    """The largest amount of money in a lower-cased reply (any currency), with its words."""
    best: tuple[float, str] | None = None
    for match in _MONEY.finditer(text):
        digits = match.group(1) or match.group(3)
        scale = match.group(2) or match.group(4)
        try:
            value = float(digits.replace(",", "")) * (_SCALE[scale] if scale else 1.0)
        except ValueError:
            continue  # "1.2.3 baht": not a number; the rest of the reply is still read
        if best is None or value > best[0]:
            best = (value, match.group(0).strip())
    return best


def _en_number(token: str) -> int:
    if token[0].isdigit():
        return int(token.replace(",", "")) if token.replace(",", "").isdigit() else 0
    return _EN_WORDS.get(token, 0)


def _th_lo_number(token: str) -> int:
    if token[0].isdigit():
        return int(token.replace(",", ""))
    total, digit = 0, 0
    for part in _TH_LO_TOKENS.findall(token):
        if part in _TH_LO_MULTIPLIERS:
            total += (digit or 1) * _TH_LO_MULTIPLIERS[part]
            digit = 0
        else:
            digit = _TH_LO_NUMBER_WORDS[part]
    return total + digit
