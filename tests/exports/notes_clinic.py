"""A small, fixed, fictional clinic for the notes-export tests, built through the services.

Three meetings in November 2026 (America/Chicago):

* Mon 2 Nov, "Evening IOP" (in person, Room 2): signed by Dana Quinn, LCSW, co-led by
  Lee Park, CADC; a safety event with its disposition; an addendum to the meeting and one
  to Sam's note, written after signing; Sam's note and the narrative mention Jordan by
  name; Unicode text (em dash, curly quotes, emoji, Cyrillic, CJK).
* Wed 4 Nov, "Evening IOP": finished but not signed (a draft).
* Thu 5 Nov, "Tele IOP" (telehealth): led by an intern (Riley Chen, MHT) and co-signed by
  Dana Quinn.

Everyone and everything here is made up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pendulum

TZ = "America/Chicago"
CLINIC = "Riverside Recovery IOP (fictional)"
UNICODE_NARRATIVE = (
    "Group opened with check-in \u2014 members named one \u201ctrigger\u201d each. "
    "Jordan M. led the role-play; Sam said \u2018it helped\u2019 \U0001F642. "
    "A visitor\u2019s card read \u201c\u0421\u043f\u0430\u0441\u0438\u0431\u043e\u201d and \u201c\u8c22\u8c22\u201d."
)
SAM_RESPONSE = (
    "Sam practiced urge surfing and said Jordan\u2019s story about the bar \u201chit home\u201d. "
    "He told jordan m. he would call his sponsor. Identified two triggers \u2014 payday and Fridays."
)


@dataclass
class Clinic:
    signed: str  # meeting ids
    draft: str
    telehealth: str
    jordan: str  # member ids
    sam: str
    zoe: str
    ana: str
    evening_group: str
    tele_group: str


def at(day: dt.date, hh: int, mm: int) -> dt.datetime:
    return pendulum.datetime(day.year, day.month, day.day, hh, mm, tz=TZ).in_tz("UTC")


def build(db) -> Clinic:
    from iop_facilitator.enums import GroupType, Modality, RiskLevel, StaffRole
    from iop_facilitator.library.load import load_library
    from iop_facilitator.models import GroupMeeting
    from iop_facilitator.services import live, notes, safety
    from iop_facilitator.services.addenda import add_addendum
    from iop_facilitator.services.cosign import cosign
    from iop_facilitator.services.groups import add_group
    from iop_facilitator.services.members import add_member, enroll, goals_of
    from iop_facilitator.services.settings import update_settings
    from iop_facilitator.services.staff import add_staff

    topic = load_library().get("coping-with-triggers")
    mon, wed, thu = dt.date(2026, 11, 2), dt.date(2026, 11, 4), dt.date(2026, 11, 5)
    with db.begin() as s:
        update_settings(s, clinic_name=CLINIC, timezone=TZ)
        dana = add_staff(s, "Dana Quinn", "LCSW", StaffRole.supervisor)
        lee = add_staff(s, "Lee Park", "CADC")
        riley = add_staff(s, "Riley Chen", "MHT (intern)", requires_cosign=True)
        evening = add_group(
            s, "Evening IOP", group_type=GroupType.psychoeducation, weekdays="mon,wed,thu", start_time="18:00",
            duration_minutes=180, location="Room 2", facilitators=[dana, lee],
        )
        tele = add_group(
            s, "Tele IOP", group_type=GroupType.process, weekdays="thu", start_time="10:00", duration_minutes=180,
            modality=Modality.telehealth, location="Video room", facilitators=[riley],
        )
        jordan = add_member(s, "Jordan M.", external_chart_id="MRN-1042", goals=["Reduce drinking days to zero", "Sleep seven hours"])
        sam = add_member(s, "Sam K.", external_chart_id="MRN-2001", goals=["Use a coping skill when cravings hit"])
        zoe = add_member(s, "Zo\u00eb W.", external_chart_id="MRN-3003", goals=["Rebuild a daily routine \u2014 meals, sleep, walks"])
        ana = add_member(s, "Ana R.", external_chart_id="MRN-4004", goals=["Attend every group this month"])
        for m in (jordan, sam, ana):
            enroll(s, m, evening, dt.date(2026, 10, 1))
        enroll(s, zoe, tele, dt.date(2026, 10, 1))
        enroll(s, jordan, tele, dt.date(2026, 10, 1))
        people = {"dana": dana, "lee": lee, "riley": riley, "jordan": jordan, "sam": sam, "zoe": zoe, "ana": ana}
        ids = {k: v.id for k, v in people.items()}
        goal = {m.id: [str(g.id) for g in goals_of(s, m)] for m in (jordan, sam, zoe, ana)}

    def run_meeting(group_id, day, start_hm, lead_id, *, present, absent=(), late=(), narrative, notes_text, end_hm):
        with db.begin() as s:
            from iop_facilitator.models import Group, Staff

            group = s.get(Group, group_id)
            m = live.start_meeting(s, group, day, facilitator=s.get(Staff, lead_id), now=at(day, *start_hm))
            mid = m.id
            live.choose_topic(s, mid, topic)
            for member_id in present:
                live.mark(s, mid, member_id, "present", at=at(day, *start_hm))
            for member_id, when in late:
                live.mark(s, mid, member_id, "late", at=at(day, *when))
            for member_id in absent:
                live.mark(s, mid, member_id, "absent_excused")
            live.set_narrative(s, mid, narrative)
            live.set_homework(s, mid, "Write down one trigger and the skill you used \u2014 bring it Thursday.")
            live.finish_meeting(s, mid, at=at(day, *end_hm))
            for member_id, (intervention, response, plan) in notes_text.items():
                notes.save_note(s, mid, member_id, goal_ids=goal[member_id][:1], intervention=intervention, response=response, plan=plan)
        return mid

    intervention = "Psychoeducation on triggers; role-play of refusal skills; urge-surfing practice."
    # 1. Signed, with a safety event, check-in ratings, stories, addenda.
    signed = run_meeting(
        evening.id, mon, (18, 0), ids["dana"], present=[ids["jordan"], ids["sam"]], absent=[ids["ana"]],
        narrative=UNICODE_NARRATIVE,
        notes_text={
            ids["jordan"]: (intervention, "Jordan described a near-lapse after work and named stress as the trigger.", "Continue IOP; practice urge surfing daily."),
            ids["sam"]: (intervention, SAM_RESPONSE, "Continue IOP; call sponsor before Friday."),
        },
        end_hm=(21, 0),
    )
    with db.begin() as s:
        live_meeting = s.get(GroupMeeting, signed)
        live_meeting.co_facilitator_id = ids["lee"]
        s.add(live_meeting)
    with db.begin() as s:
        # check-in values are only editable before signing
        live.set_checkin(s, signed, ids["jordan"], mood=6, urge=3, feeling="hopeful")
        live.set_checkin(s, signed, ids["sam"], mood=4, urge=7, feeling="on edge")
        live.set_checkout(s, signed, ids["sam"], mood=6, takeaway="Call before the urge peaks \u2014 not after.")
        live.add_story(s, signed, ids["sam"], "Talked about payday; Jordan offered a ride to a meeting.", at=at(mon, 18, 40))
        event = safety.record_event(s, signed, ids["sam"], "Passive thoughts of not waking up", recorded_by_id=ids["dana"])
        event.occurred_at = at(mon, 18, 45)
        s.add(event)
        s.flush()
        safety.set_disposition(
            s, event.id, risk_level=RiskLevel.low,
            disposition="C-SSRS screen after group: low risk; safety plan reviewed; supervisor consulted.",
        )
        event.disposition_at = at(mon, 21, 10)
        s.add(event)
        notes.sign(s, signed, ids["dana"], at=at(mon, 21, 30))
    with db.begin() as s:
        add_addendum(
            s, signed, ids["dana"], member_id=ids["sam"], reason="Late entry: sponsor call",
            text="Sam called his sponsor after group (reported 11/3) \u2014 plan met.", at=at(dt.date(2026, 11, 3), 9, 15),
        )
        add_addendum(
            s, signed, ids["dana"], reason="Correction",
            text="Room changed to Room 3 at 19:00; Jordan M. helped move chairs.", at=at(dt.date(2026, 11, 3), 9, 20),
        )
    # 2. Finished but never signed.
    draft = run_meeting(
        evening.id, wed, (18, 0), ids["dana"], present=[ids["sam"]], late=[(ids["jordan"], (18, 25))], absent=[ids["ana"]],
        narrative="Short group; reviewed homework. Sam K. was quiet.",
        notes_text={
            ids["jordan"]: (intervention, "Arrived late from work; engaged in the review.", "Continue IOP."),
            ids["sam"]: (intervention, "Quiet; said the week was hard.", "Continue IOP; check in Friday."),
        },
        end_hm=(20, 30),
    )
    # 3. Telehealth, led by an intern, co-signed by the supervisor.
    tele_id = run_meeting(
        tele.id, thu, (10, 0), ids["riley"], present=[ids["zoe"], ids["jordan"]],
        narrative="Video group on routines. Zo\u00eb shared a meal plan; Jordan asked about sleep.",
        notes_text={
            ids["zoe"]: (intervention, "Zo\u00eb shared her meal plan \u2014 \u201cone step at a time\u201d \U0001F4AA.", "Continue tele-IOP."),
            ids["jordan"]: (intervention, "Asked about sleep hygiene; Zo\u00eb W. suggested a wind-down routine.", "Continue; sleep log."),
        },
        end_hm=(13, 0),
    )
    with db.begin() as s:
        live.set_checkin(s, tele_id, ids["zoe"], mood=8, urge=1)
        notes.sign(s, tele_id, ids["riley"], at=at(thu, 13, 20))
    with db.begin() as s:
        cosign(s, tele_id, ids["dana"], at=at(thu, 15, 0))
    return Clinic(
        signed=str(signed), draft=str(draft), telehealth=str(tele_id),
        jordan=str(ids["jordan"]), sam=str(ids["sam"]), zoe=str(ids["zoe"]), ana=str(ids["ana"]),
        evening_group=str(evening.id), tele_group=str(tele.id),
    )
