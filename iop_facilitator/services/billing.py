"""The billing-code rule: which service code(s) one member's attendance at one meeting bills.

Pure and standard-library only: the attendance export's SQLite fast path, the
signed snapshot (``services.snapshot``, which freezes the code computed on the day
of service) and the seeder all use it.
"""

from __future__ import annotations

from collections.abc import Mapping

LEVELS_OF_CARE: tuple[str, ...] = ("OP", "IOP", "PHP")
MODALITIES: tuple[str, ...] = ("in_person", "telehealth")


def per_diem_code(codes: Mapping[str, str]) -> str:
    """The IOP per-diem code: ``iop_per_diem`` if configured, else the SUD code, else the MH code.

    The app's default program is a substance-use program (its default notice is
    the 42 CFR Part 2 one), so H0015 comes before S9480; a mental-health IOP sets
    ``iop_per_diem`` (e.g. ``S9480``) in ``service_codes``.
    """
    for key in ("iop_per_diem", "sud_iop_per_diem", "mh_iop_per_diem"):
        value = (codes.get(key) or "").strip()
        if value:
            return value
    return ""


def service_codes(codes: Mapping[str, str], *, level_of_care: str, modality: str, attended: bool) -> tuple[str, ...]:
    """The billing code(s) for one member at one meeting, from the program's ``service_codes``.

    The rule (all codes and modifiers come from settings; an empty or missing
    key means "not used"):

    * not attended (absent, excused, cancelled): no code;
    * IOP level of care: the per-diem code (:func:`per_diem_code`) with the
      ``group_modifier`` (default ``HQ``, group setting; used with the HCPCS
      per-diem codes, not with CPT 90853, which already means group);
    * PHP: ``php_per_diem`` with the group modifier when configured, otherwise
      as OP;
    * OP (or no per-diem code configured): ``group_psychotherapy`` (CPT 90853,
      one unit per member per day);
    * telehealth meetings: the ``telehealth_modifier`` (default ``95``) is
      appended to the code.

    Modifiers are joined with ``-`` (``H0015-HQ-95``). The per-diem codes expect
    at least ``per_diem_daily_hours`` of service that day; the per-member day
    total is checked by ``iop report hours``, not here (one row is one meeting).
    The audience (adult/adolescent) does not change the code.
    """
    if not attended:
        return ()
    group_code = (codes.get("group_psychotherapy") or "").strip()
    group_mod = (codes.get("group_modifier") or "").strip()
    tele_mod = (codes.get("telehealth_modifier") or "").strip() if modality == "telehealth" else ""
    code, mods = group_code, []
    if level_of_care == "IOP" and per_diem_code(codes):
        code, mods = per_diem_code(codes), [group_mod]
    elif level_of_care == "PHP" and (codes.get("php_per_diem") or "").strip():
        code, mods = codes["php_per_diem"].strip(), [group_mod]
    if not code:
        return ()
    return ("-".join([code, *(m for m in (*mods, tele_mod) if m)]),)


def billed_code(
    table: Mapping[tuple[str, str], str], *, attended: bool, level_of_care: str, modality: str, frozen: str | None
) -> str:
    """What one attendance row bills: nothing for an absence; for a signed meeting the code frozen
    at signing (``frozen``, from its snapshot); otherwise the rule's (``table``: :func:`codes_table`)."""
    if not attended:
        return ""
    return frozen if frozen is not None else table.get((level_of_care, modality), "")


def codes_table(codes: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """``(level_of_care, modality) -> "code code"`` for attended rows (the finite domain of the rule)."""
    return {
        (level, modality): " ".join(service_codes(codes, level_of_care=level, modality=modality, attended=True))
        for level in LEVELS_OF_CARE
        for modality in MODALITIES
    }
