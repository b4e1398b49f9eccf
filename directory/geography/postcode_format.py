"""Parse and normalise every form of UK postcode a person types.

Pure functions, no I/O. A postcode comes in four precisions: a full *unit* ("WV11 1AA"), a
*sector* ("WV11 1"), a *district* or outcode ("WV11") and an *area* ("WV"). Input may be in any
case and spacing ("wv111aa", "Sw1A  0aa").

Two forms are kept apart (as in mapit and postcodes.io):

- ``canonical``: the compact key, upper case without spaces ("WV111AA", "WV11", "WV"). A sector
  keeps its single space ("WV11 1") because "WV111" would be ambiguous.
- ``display``: how the Royal Mail writes it, outward code, one space, inward code ("WV11 1AA").
  The database stores units in this form, so units of one district sort together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PostcodeKind = Literal["unit", "sector", "district", "area"]

# Every postcode area in use: the 120 of Great Britain (Code-Point Open), Northern Ireland (BT),
# the Crown Dependencies (GY, JE, IM) and the non-geographic BF (BFPO) and BX.
POSTCODE_AREAS = frozenset(
    """AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT DY
    E EC EH EN EX FK FY G GL GU HA HD HG HP HR HS HU HX IG IP IV KA KT KW KY L LA LD LE LL LN LS LU
    M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR
    SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE GY JE IM BF BX""".split()
)

# Postcodes outside the normal pattern that are nevertheless real.
SPECIAL_UNITS = frozenset(
    {
        "GIR0AA",  # Girobank, Bootle
        # British Overseas Territories use UK-style postcodes outside the UK areas.
        "ASCN1ZZ",
        "STHL1ZZ",
        "TDCU1ZZ",
        "BBND1ZZ",
        "BIQQ1ZZ",
        "FIQQ1ZZ",
        "GX111AA",
        "PCRN1ZZ",
        "SIQQ1ZZ",
        "TKCA1ZZ",
    }
)

_OUTWARD = (
    r"(?P<area>[A-PR-UWYZ][A-HK-Y]?)"  # 1st letter never Q V X; 2nd never I J Z
    r"(?P<district>[0-9][0-9]?|[0-9][A-HJKPS-UW]|[0-9][ABEHMNPRV-Y])"
)
_INWARD = r"(?P<sector>[0-9])(?P<unit>[ABD-HJLNP-UW-Z]{2})"  # never C I K M O V
_UNIT_RE = re.compile(rf"^{_OUTWARD}{_INWARD}$")
_OUTCODE_RE = re.compile(rf"^{_OUTWARD}$")
# A unit exactly as Code-Point and ONSPD write it ("WV11 1AA"): lets importers skip full parsing.
DISPLAY_UNIT_RE = re.compile(
    r"^[A-PR-UWYZ][A-HK-Y]?(?:[0-9][0-9]?|[0-9][A-HJKPS-UW]|[0-9][ABEHMNPRV-Y]) "
    r"[0-9][ABD-HJLNP-UW-Z]{2}$"
)
_AREA_RE = re.compile(r"^[A-Z]{1,2}$")
_SPACES_RE = re.compile(r"\s+")

MAX_INPUT_LENGTH = 16


class PostcodeInvalid(ValueError):
    """The text is not any form of UK postcode; ``str()`` says why in words a person follows."""


@dataclass(frozen=True, slots=True)
class ParsedPostcode:
    """A postcode at one of four precisions, with its canonical and display forms."""

    kind: PostcodeKind
    area: str
    outcode: str | None = None  # "WV11", set for districts, sectors and units
    sector: str | None = None  # display form "WV11 1", set for sectors and units
    unit: str | None = None  # display form "WV11 1AA", set for units

    @property
    def display(self) -> str:
        """The form to show people and to store: 'WV11 1AA', 'WV11 1', 'WV11', 'WV'."""
        if self.kind == "unit":
            assert self.unit is not None
            return self.unit
        if self.kind == "sector":
            assert self.sector is not None
            return self.sector
        if self.kind == "district":
            assert self.outcode is not None
            return self.outcode
        return self.area

    @property
    def canonical(self) -> str:
        """The compact key: 'WV111AA', 'WV11 1' (sectors keep the space), 'WV11', 'WV'."""
        if self.kind == "unit":
            return self.display.replace(" ", "")
        return self.display

    @property
    def incode(self) -> str | None:
        """The inward code of a unit ('1AA'), else None."""
        return self.unit.split(" ")[1] if self.unit else None


_SHAPED_LIKE_UNIT = re.compile(r"^([A-Z]{1,2})[0-9][A-Z0-9]?[0-9][A-Z]{2}$")


def _not_a_postcode(text: str) -> PostcodeInvalid:
    shaped = _SHAPED_LIKE_UNIT.match(_SPACES_RE.sub("", text.upper()))
    if shaped and shaped.group(1) not in POSTCODE_AREAS:
        return PostcodeInvalid(
            f"'{text}' is not a UK postcode: there is no postcode area '{shaped.group(1)}'"
        )
    return PostcodeInvalid(
        f"'{text}' is not a UK postcode: expected a full postcode such as 'WV11 1AA', "
        "a sector such as 'WV11 1', a district such as 'WV11' or an area such as 'WV'"
    )


def _unit(compact: str, original: str) -> ParsedPostcode:
    """Build a unit from its compact form; the last three characters are always the incode."""
    outcode, incode = compact[:-3], compact[-3:]
    area = re.match(r"[A-Z]+", outcode)
    area_letters = area.group(0) if area else outcode
    if compact not in SPECIAL_UNITS and area_letters not in POSTCODE_AREAS:
        raise PostcodeInvalid(
            f"'{original}' is not a UK postcode: there is no area '{area_letters}'"
        )
    return ParsedPostcode(
        kind="unit",
        area=area_letters,
        outcode=outcode,
        sector=f"{outcode} {incode[0]}",
        unit=f"{outcode} {incode}",
    )


def parse_postcode(text: str) -> ParsedPostcode:
    """Parse a postcode unit, sector, district or area typed in any case and spacing.

    Why strict: a lookup that silently "fixes" input gives people the wrong place. A sector needs
    its space ("WV11 1"), because without it "WV111" could be WV1 1.. or WV11 1.. and is refused.
    Raises :class:`PostcodeInvalid` with a reason a person can act on.
    """
    original = text.strip() if isinstance(text, str) else ""
    if DISPLAY_UNIT_RE.match(original):  # the common case: already "WV11 1AA"
        return _unit(original.replace(" ", ""), original)
    if not original:
        raise PostcodeInvalid("a postcode is required, for example 'WV11 1AA'")
    if len(original) > MAX_INPUT_LENGTH:
        raise PostcodeInvalid(f"'{original[:MAX_INPUT_LENGTH]}…' is too long to be a UK postcode")
    collapsed = _SPACES_RE.sub(" ", original.upper())
    compact = collapsed.replace(" ", "")
    if not compact.isalnum() or not compact.isascii():
        raise _not_a_postcode(original)

    if compact in SPECIAL_UNITS or _UNIT_RE.match(compact):
        return _unit(compact, original)

    parts = collapsed.split(" ")
    if len(parts) == 2 and len(parts[1]) == 1 and parts[1].isdigit():
        match = _OUTCODE_RE.match(parts[0])
        if match and match.group("area") in POSTCODE_AREAS:
            return ParsedPostcode(
                kind="sector",
                area=match.group("area"),
                outcode=parts[0],
                sector=f"{parts[0]} {parts[1]}",
            )
        raise _not_a_postcode(original)
    if len(parts) > 1:
        raise _not_a_postcode(original)

    match = _OUTCODE_RE.match(compact)
    if match:
        if match.group("area") not in POSTCODE_AREAS:
            raise PostcodeInvalid(
                f"'{original}' is not a UK postcode: there is no area '{match.group('area')}'"
            )
        return ParsedPostcode(kind="district", area=match.group("area"), outcode=compact)
    if _AREA_RE.match(compact):
        if compact not in POSTCODE_AREAS:
            raise PostcodeInvalid(f"'{original}' is not a UK postcode area")
        return ParsedPostcode(kind="area", area=compact)
    raise _not_a_postcode(original)


def area_of_outcode(outcode: str) -> str:
    """The area letters of an outcode ('WV11' → 'WV', 'B1' → 'B')."""
    match = re.match(r"[A-Z]+", outcode)
    return match.group(0) if match else outcode
