"""A small, fixed, fictional clinic for the attendance export and report tests (built through services).

America/New_York, around the 2026 switch to daylight saving time (Sun 8 March), so
local times of the export use two different UTC offsets:

* "Evening IOP, \"North\"" (IOP, adult, in person, 18:00, 3 h), led by Dana Quinn, LCSW:
  - Thu 5 Mar (EST): Jordan present (arrived 17:55), Ana absent (unexcused),
    "=HYPERLINK(1)" late at 18:20 and left early at 20:00. Signed.
  - Mon 9 Mar (EDT): Jordan present (17:58), Ana absent (excused), "=HYPERLINK(1)"
    present, left early at 20:00. Signed.
* "=Tele IOP" (IOP, adolescent, telehealth, 10:00, 3 h), led by "@Lee Park", "-CADC":
  - Tue 10 Mar: Zoë present. Signed.
* "Aftercare OP" (OP, adult, in person, 17:00, 90 min), led by Dana Quinn:
  - Wed 11 Mar: Jordan present. Finished, NOT signed.

Cells starting with = + - @ (group, member, staff, chart ids) exercise the CSV
formula neutralisation; the group name's comma and quotes the CSV quoting.
Program policy: at most 1 absence in 12 weeks (Ana is past it).
Everyone here is made up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pendulum

TZ = "America/New_York"
CLINIC = "Harbor Light IOP (fictional)"
NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)  # "generated_at" of golden JSON
NAMES = ("Jordan M.", "=HYPERLINK(1)", "Zo\u00eb W.", "Ana R.", "Dana Quinn", "@Lee Park")
GROUP_NAMES = ('Evening IOP, "North"', "=Tele IOP", "Aftercare OP")


@dataclass
class Clinic:
    evening: str  # group ids
    tele: str
    aftercare: str
    jordan: str  # member ids
    hyper: str
    zoe: str
    ana: str


def at(day: dt.date, hh: int, mm: int) -> dt.datetime:
    return pendulum.datetime(day.year, day.month, day.day, hh, mm, tz=TZ).in_tz("UTC")


def build(db) -> Clinic:
    from iop_facilitator.enums import Audience, LevelOfCare, Modality, StaffRole
    from iop_facilitator.library.load import load_library
    from iop_facilitator.models import Group, Staff
    from iop_facilitator.services import live, notes
    from iop_facilitator.services.groups import add_group
    from iop_facilitator.services.members import add_member, enroll, goals_of
    from iop_facilitator.services.settings import update_settings
    from iop_facilitator.services.staff import add_staff

    topic = load_library().get("coping-with-triggers")
    with db.begin() as s:
        update_settings(s, clinic_name=CLINIC, timezone=TZ, max_absences=1, absence_window_weeks=12)
        dana = add_staff(s, "Dana Quinn", "LCSW", StaffRole.supervisor)
        lee = add_staff(s, "@Lee Park", "-CADC")
        evening = add_group(
            s, 'Evening IOP, "North"', weekdays="mon,thu", start_time="18:00", duration_minutes=180,
            location="Room 2", facilitators=[dana],
        )
        tele = add_group(
            s, "=Tele IOP", weekdays="tue", start_time="10:00", duration_minutes=180, modality=Modality.telehealth,
            audience=Audience.adolescent, location="Video", facilitators=[lee],
        )
        aftercare = add_group(
            s, "Aftercare OP", weekdays="wed", start_time="17:00", duration_minutes=90,
            level_of_care=LevelOfCare.OP, facilitators=[dana],
        )
        jordan = add_member(s, "Jordan M.", external_chart_id="MRN-1042", goals=["Zero drinking days"])
        hyper = add_member(s, "=HYPERLINK(1)", external_chart_id="+1-555", goals=["Call sponsor weekly"])
        zoe = add_member(s, "Zo\u00eb W.", goals=["Daily routine"])
        ana = add_member(s, "Ana R.", external_chart_id="@A100", goals=["Attend every group"])
        start = dt.date(2026, 2, 1)
        for m in (jordan, hyper, ana):
            enroll(s, m, evening, start)
        enroll(s, zoe, tele, start)
        enroll(s, jordan, aftercare, start)
        goal = {m.id: [str(g.id) for g in goals_of(s, m)][:1] for m in (jordan, hyper, zoe, ana)}
        ids = {"dana": dana.id, "lee": lee.id}

    def meeting(group_id, day, start_hm, end_hm, lead, marks, *, sign=True):
        with db.begin() as s:
            group = s.get(Group, group_id)
            m = live.start_meeting(s, group, day, facilitator=s.get(Staff, lead), now=at(day, *start_hm))
            mid = m.id
            live.choose_topic(s, mid, topic)
            attended = []
            for member_id, status, hm, left in marks:
                live.mark(s, mid, member_id, status, at=at(day, *hm) if hm else None)
                if left:
                    live.set_left_early(s, mid, member_id, at(day, *left))
                if status in ("present", "late"):
                    attended.append(member_id)
            live.set_narrative(s, mid, f"Group on triggers, {day.isoformat()}.")
            live.finish_meeting(s, mid, at=at(day, *end_hm))
            for n, member_id in enumerate(attended):
                notes.save_note(
                    s, mid, member_id, goal_ids=goal[member_id], intervention=f"Role-play {n} on {day}.",
                    response=f"Engaged; practised skill {n} ({day}).", plan=f"Continue; review on {day} + 7.",
                )
        if sign:
            with db.begin() as s:
                notes.sign(s, mid, lead, at=at(day, end_hm[0], end_hm[1] + 20))
        return mid

    thu, mon, tue, wed = dt.date(2026, 3, 5), dt.date(2026, 3, 9), dt.date(2026, 3, 10), dt.date(2026, 3, 11)
    meeting(
        evening.id, thu, (18, 0), (21, 0), ids["dana"],
        [(jordan.id, "present", (17, 55), None), (ana.id, "absent_unexcused", None, None),
         (hyper.id, "late", (18, 20), (20, 0))],
    )
    meeting(
        evening.id, mon, (18, 0), (21, 0), ids["dana"],
        [(jordan.id, "present", (17, 58), None), (ana.id, "absent_excused", None, None),
         (hyper.id, "present", (18, 0), (20, 0))],
    )
    meeting(tele.id, tue, (10, 0), (13, 0), ids["lee"], [(zoe.id, "present", (9, 59), None)])
    meeting(aftercare.id, wed, (17, 0), (18, 30), ids["dana"], [(jordan.id, "present", (17, 0), None)], sign=False)
    return Clinic(
        evening=str(evening.id), tele=str(tele.id), aftercare=str(aftercare.id),
        jordan=str(jordan.id), hyper=str(hyper.id), zoe=str(zoe.id), ana=str(ana.id),
    )
