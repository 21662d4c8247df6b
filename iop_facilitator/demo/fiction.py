"""Word pools and text builders for the fictional demo clinic (see :mod:`.generate`).

Everything here is invented for trials and benchmarks: the people, the clinic
and every sentence. Names are common first names with a last initial, or a
first name with a made-up nature surname for staff; no text describes a real
person. The wording of the topic phrases is original (it does not quote any
treatment manual).

Pure Python and standard library only, so a benchmark baseline can reuse the
row generator without importing SQLAlchemy. The builders take random numbers
from the caller's ``random.Random`` so the output is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

CLINIC_NAME = "Riverbend Demo Clinic (fictional data)"

# Common given names; a member is shown as "First L." (first name, last initial).
FIRST_NAMES: tuple[str, ...] = (
    "Aaron", "Abby", "Adrian", "Aisha", "Alex", "Alma", "Amir", "Ana", "Andre", "Angela",
    "Ari", "Ash", "Avery", "Bea", "Ben", "Bianca", "Blake", "Bo", "Brianna", "Cal",
    "Cam", "Carla", "Casey", "Cecil", "Chris", "Clara", "Cole", "Dani", "Dante", "Dara",
    "Dev", "Diego", "Dina", "Drew", "Eddie", "Eli", "Ella", "Emil", "Erin", "Esme",
    "Evan", "Faye", "Felix", "Fran", "Gabe", "Gia", "Grace", "Hana", "Hank", "Hollis",
    "Ian", "Imani", "Ines", "Isaac", "Ivy", "Jada", "Jai", "Jamie", "Jess", "Joel",
    "Jordan", "Jo", "Jules", "Kai", "Kara", "Keith", "Kim", "Kira", "Lana", "Lee",
    "Leo", "Lina", "Lou", "Luca", "Luz", "Mae", "Malik", "Mara", "Marco", "Maya",
    "Mel", "Mika", "Milo", "Nadia", "Nate", "Nia", "Nico", "Noor", "Omar", "Opal",
    "Owen", "Pat", "Paz", "Priya", "Quinn", "Rafa", "Rami", "Reese", "Remy", "Rhea",
    "Rio", "Robin", "Rosa", "Ruth", "Sam", "Sana", "Sasha", "Sean", "Shay", "Sid",
    "Skye", "Sol", "Tam", "Tara", "Teo", "Tess", "Theo", "Toni", "Trey", "Uma",
    "Val", "Vic", "Wes", "Willa", "Xan", "Yara", "Yusuf", "Zane", "Zia", "Zoe",
)
LAST_INITIALS = "ABCDEFGHJKLMNOPRSTVWY"

# Staff get an invented two-part surname ("Fernmere"), so no staff member is a real person.
_SURNAME_HEADS = ("Ash", "Birch", "Bram", "Cedar", "Clover", "Elder", "Fern", "Glen", "Hazel",
                  "Heron", "Juniper", "Lark", "Linden", "Marsh", "Moss", "Quill", "Reed",
                  "Rowan", "Sedge", "Sparrow", "Tansy", "Thistle", "Wren", "Yarrow")
_SURNAME_TAILS = ("bright", "brook", "crest", "dell", "fold", "hollow", "lea", "mere", "moor",
                  "ridge", "shaw", "vale", "wick", "wold")

# (credentials, role) of the staff, in the order they are created.
LEAD_CREDENTIALS = ("LCSW", "LPC", "LMFT", "LCADC", "LPC, LCADC", "LCSW, LCADC")
INTERN_CREDENTIALS = ("CADC-intern", "LPC-intern", "MSW-intern")
SUPERVISOR_CREDENTIALS = ("LCSW, LCADC", "LPC-S")

GROUP_PLACES = (
    "Alder", "Aspen", "Basswood", "Beacon", "Bluebell", "Briar", "Canyon", "Cascade", "Cypress",
    "Delta", "Driftwood", "Dune", "Ember", "Fieldstone", "Foxglove", "Granite", "Harbor",
    "Heather", "Highland", "Horizon", "Indigo", "Ironwood", "Jasper", "Keystone", "Lakeside",
    "Lantern", "Laurel", "Magnolia", "Maple", "Meadow", "Mesa", "Northstar", "Orchard",
    "Pinecone", "Prairie", "Quarry", "Redwood", "Ridgeline", "Riverstone", "Sagebrush",
    "Sandstone", "Sequoia", "Silverleaf", "Summit", "Sycamore", "Thornbush", "Timber",
    "Tidewater", "Trailhead", "Valley", "Waypoint", "Wildflower", "Willow", "Yucca",
)
DAYPARTS = {"09:00": "Morning", "13:00": "Afternoon", "16:00": "After-school", "18:00": "Evening"}
TYPE_LABELS = {
    "process": "Process", "psychoeducation": "Psychoeducation", "skills": "Skills",
    "relapse_prevention": "Relapse Prevention", "family": "Family", "support": "Support",
    "other": "Group",
}
ROOMS = ("Room 1A", "Room 1B", "Room 2A", "Room 2B", "Garden Room", "Room 3", "Annex")

# slug -> (title, what the session worked on, homework, the skill a member practises)
TOPICS: dict[str, tuple[str, str, str, str]] = {
    "what-to-expect-in-recovery": (
        "What to expect in recovery",
        "the stages of early recovery and the sleep, mood and craving changes that come with them",
        "Keep a three-day log of sleep, mood and cravings and bring it to the next group.",
        "naming which stage of recovery they are in"),
    "healthy-lifestyle": (
        "Healthy lifestyle: sleep, food, exercise",
        "how sleep, regular meals and movement steady mood and lower cravings",
        "Pick one small change (bedtime, breakfast or a walk) and do it on four days.",
        "planning one change to sleep, meals or movement"),
    "structure-and-scheduling": (
        "Structure and scheduling",
        "building a daily schedule that leaves little unplanned time",
        "Write out tomorrow hour by hour and mark the risky gaps.",
        "filling unplanned hours in a daily schedule"),
    "motivation-and-ambivalence": (
        "Motivation and ambivalence",
        "the pros and cons of change and what keeps people in treatment",
        "Finish the four-box pros and cons sheet and circle the reason that matters most.",
        "stating their own reasons for change"),
    "coping-with-triggers": (
        "Coping with triggers",
        "external and internal triggers and the chain from trigger to thought to craving to use",
        "List five triggers from this week and the plan used (or wanted) for each.",
        "mapping a trigger-thought-craving chain"),
    "cravings-and-urges": (
        "Cravings and urges",
        "the urge curve and delaying, distracting and riding out a craving",
        "Time one craving this week from start to fade and note what helped.",
        "riding out an urge with a delay plan"),
    "relapse-warning-signs": (
        "Relapse warning signs",
        "early warning signs and the slow drift that comes before a relapse",
        "Ask one support person which warning signs they notice first in you.",
        "spotting early warning signs of drift"),
    "refusal-skills": (
        "Refusal skills",
        "saying no clearly, offering an alternative and leaving when needed",
        "Practise a refusal line out loud three times before the weekend.",
        "rehearsing a short refusal line"),
    "lapse-vs-relapse": (
        "Lapse vs relapse",
        "seemingly small decisions that add up to risk and how a lapse can stay a lapse",
        "Trace one recent decision back three steps and note where it could have gone differently.",
        "tracing small decisions that lead toward risk"),
    "boredom-and-free-time": (
        "Boredom and free time",
        "boredom as a trigger and finding low-cost, recovery-friendly activities",
        "Try one new free-time activity from the group list and rate it 0-10.",
        "planning recovery-friendly free time"),
    "handling-stress": (
        "Methods of handling stress",
        "stress and vulnerability, healthy versus unhealthy coping, and two practised techniques",
        "Use paced breathing or progressive muscle relaxation once a day and note the effect.",
        "using paced breathing when stressed"),
    "anger-awareness": (
        "Anger awareness",
        "the anger meter, physical cues and taking a time-out before acting",
        "Record two moments of anger: the cue, the number on the meter and the response.",
        "noticing physical cues of anger early"),
    "guilt-shame-self-compassion": (
        "Guilt, shame and self-compassion",
        "the difference between guilt and shame and speaking to oneself with more kindness",
        "Write a short note to yourself as you would to a friend in the same spot.",
        "replacing a self-critical thought with a kinder one"),
    "distress-tolerance-grounding": (
        "Distress tolerance and grounding",
        "getting through intense moments without making them worse, using grounding",
        "Practise the five-senses grounding exercise once a day.",
        "grounding with the five senses"),
    "depression-anxiety-basics": (
        "Depression and anxiety basics",
        "how low mood and worry interact with substance use and when to ask for more help",
        "Schedule one pleasant activity each day and rate mood before and after.",
        "linking mood changes to daily activities"),
    "conflict-resolution": (
        "Conflict management and resolution",
        "passive, aggressive and assertive styles and a step-by-step way to resolve a conflict",
        "Use one 'I' statement in a real conversation and note how it landed.",
        "turning a complaint into an 'I' statement"),
    "communication-and-boundaries": (
        "Communication and boundaries",
        "listening, asking for what one needs and holding a boundary kindly",
        "Name one boundary you want to keep this week and who needs to hear it.",
        "stating a boundary out loud"),
    "support-network": (
        "Building a support network",
        "mapping current supports and trying mutual-help meetings",
        "Attend one mutual-help meeting or call one person from your support map.",
        "naming people to call before a risky moment"),
    "honesty-and-trust": (
        "Honesty and rebuilding trust",
        "how trust is rebuilt through small, consistent actions over time",
        "Choose one promise you can keep this week and keep it.",
        "picking one small, keepable commitment"),
    "family-roles": (
        "Family roles",
        "roles people take on in families affected by substance use and how they can change",
        "Draw your family map and mark one relationship you want to strengthen.",
        "describing their role in the family"),
    "medications-in-recovery": (
        "Medications in recovery",
        "what medications for substance use and mental health do and questions for the prescriber",
        "Write down two questions for your prescriber or pharmacist.",
        "preparing questions for the prescriber"),
    "safety-planning": (
        "Safety planning and crisis resources",
        "warning signs, coping steps, people to contact and crisis lines on a written safety plan",
        "Finish your safety plan and save the crisis numbers in your phone.",
        "completing their written safety plan"),
    "problem-solving-goal-setting": (
        "Problem solving and goal setting",
        "breaking a problem into steps and setting small, specific goals",
        "Pick one problem and write three possible solutions with pros and cons.",
        "breaking a problem into small steps"),
    "work-money-recovery": (
        "Work, money and recovery",
        "payday and work stress as triggers and a simple money plan",
        "Make a payday plan: where the money goes before you have it in hand.",
        "making a payday plan"),
}

GROUP_TYPE_TECHNIQUES: dict[str, tuple[str, ...]] = {
    "process": ("reflective listening and linking between members", "open-ended questions",
                "here-and-now processing", "feedback between peers"),
    "psychoeducation": ("a short teaching segment with handout", "a worked example on the board",
                        "a question-and-answer review", "a brief video and discussion"),
    "skills": ("modelling and behavioural rehearsal", "a guided practice with coaching",
               "role-play with peer feedback", "a skills worksheet"),
    "relapse_prevention": ("a trigger and warning-sign review", "cognitive restructuring",
                           "a relapse-chain analysis", "coping-plan rehearsal"),
    "family": ("family-systems discussion", "communication practice in pairs",
               "a genogram exercise", "guided dialogue"),
    "support": ("peer sharing with facilitator support", "strengths-based reflection",
                "motivational interviewing", "validation and encouragement"),
    "other": ("guided discussion", "a short exercise", "open sharing", "reflection"),
}

NARRATIVE_OPENINGS = (
    "Group opened with the agreements and a round of check-in.",
    "Facilitator reviewed group agreements and led check-in (feeling word, mood, urge, safety).",
    "Session began with a grounding minute, then check-in.",
    "Members arrived and settled; check-in covered mood, urges and homework.",
    "Opened with a brief review of last session's homework and a check-in round.",
)
NARRATIVE_MIDDLES = (
    "Members related the material to recent situations at home and at work.",
    "Discussion was lively; several members gave each other practical suggestions.",
    "Members practised the skill in pairs and shared what felt awkward or useful.",
    "Some members were quiet at first and joined in during the activity.",
    "The group connected the topic to weekend plans and upcoming holidays.",
    "Members compared what has worked for them so far and what has not.",
    "Newer members asked questions and longer-tenured members shared examples.",
)
NARRATIVE_CLOSINGS = (
    "Closed with check-out takeaways and the homework.",
    "Ended with each member naming one takeaway and one commitment.",
    "Wrapped up with check-out and a reminder of crisis resources.",
    "Closed with check-out; homework assigned.",
)

FEELINGS_LOW = ("sad", "drained", "hopeless", "lonely", "overwhelmed", "numb", "discouraged",
                "anxious", "irritable", "exhausted", "raw", "stuck")
FEELINGS_MID = ("tired", "okay", "restless", "nervous", "distracted", "mixed", "uneasy",
                "flat", "curious", "guarded", "bored", "steady")
FEELINGS_HIGH = ("hopeful", "calm", "grateful", "proud", "content", "energized", "relieved",
                 "optimistic", "rested", "focused", "confident", "peaceful")

INTERVENTION_OPENERS = (  # the group's method, written once in the narrative
    "Facilitator used {technique} to present {title}",
    "Facilitated {title} with {technique}",
    "Led {title} using {technique}",
    "Presented {title}; used {technique}",
)
# A member's note facts (services.note_facts), as a leader records them: weighted picks.
PARTICIPATION_MIX: tuple[tuple[float, str], ...] = (  # cumulative probability thresholds
    (0.45, "active"), (0.75, "engaged_when_prompted"), (0.87, "minimal"), (0.97, "listened"), (1.0, "disruptive"),
)
AFFECT_LOW = ("depressed", "tearful", "flat", "tired", "anxious", "guarded")
AFFECT_MID = ("anxious", "tired", "guarded", "euthymic", "irritable", "flat")
AFFECT_HIGH = ("euthymic", "bright", "euthymic", "bright", "tired")
PRESENTATIONS = (
    "arrived straight from work in uniform", "hoarse voice from a cold", "new haircut, well groomed",
    "carrying a sobriety chip", "sunglasses kept on at first", "brought a water bottle and notebook",
    "dressed for the weather, tidy", "limping after a fall at home", "yawning, said the baby kept them up",
    "hands shaking slightly early on", "wearing a brace on the left wrist", "early and helped set up chairs",
)
USE_DETAILS = (
    "two beers on {day}", "a glass of wine at a family dinner on {day}", "cannabis once on {day}",
    "drank at a friend's party on {day}", "took a pill not prescribed to them on {day}",
    "several drinks alone on {day} night",
)
MEASURES = (
    "{n} of 7 days", "{n} of 7 nights", "{n} calls this week", "{n} meetings this week", "{n} of 5 workdays",
)
# The leader's own observation: one sentence from three parts, never two alike in a meeting.
OBS_OPENINGS = (
    "Sat by the window with arms folded", "Came in talking about the bus delay", "Kept glancing at the clock",
    "Settled quickly and opened a notebook", "Rocked a knee through the first half hour",
    "Smiled at peers while taking a seat", "Was quieter than usual at first", "Arrived with coffee and a joke",
    "Sat forward with elbows on knees", "Kept a jacket on the whole time", "Looked rested and made eye contact",
    "Was slow to speak during the opening", "Brought a printed schedule to the circle",
    "Checked the phone twice early on", "Sat next to the facilitator", "Laughed easily during the warm-up",
    "Spoke softly and needed to be asked to repeat", "Was first to share at check-in",
    "Stared at the floor during the opening", "Seemed restless and stood up once",
    "Greeted two peers by name", "Was flushed and out of breath on arrival", "Had the workbook open to last week",
    "Sat with a hood up until the break",
)
OBS_MOMENTS = (
    "brightened during the role-play", "went quiet when family came up", "asked how others handle weekends",
    "wrote down every step of the plan", "pushed back on one point, then agreed to test it",
    "needed a moment after describing the week", "took the lead in the small-group exercise",
    "offered a practical tip about sleep", "named a trigger nobody else had mentioned",
    "was visibly moved by a peer's share", "practised the script twice out loud",
    "connected the topic to the job search", "drew a map of risky places on the whiteboard",
    "asked for the handout in larger print", "compared this week with the first week in group",
    "admitted the homework was skipped and said why", "timed the breathing exercise on a watch",
    "joked about the weekend but then got serious", "listed three people to call on a card",
    "described a craving that passed after twenty minutes", "reflected on an argument with a roommate",
    "tried the grounding exercise with eyes open", "asked a peer for a ride to the next meeting",
    "challenged the idea that one drink is harmless",
)
OBS_CLOSINGS = (
    "and left with a concrete step for tomorrow", "and asked to revisit it next time",
    "and stayed to tidy the room", "and said this was the most useful group so far",
    "and wrote the key point on a phone note", "and thanked the group before leaving",
    "and agreed to try it before the weekend", "and looked calmer by the close",
    "and set an alarm as a reminder", "and said the plan feels realistic",
    "and asked for a referral to a job coach", "and planned to tell a sibling about it",
    "and still seemed unconvinced at the end", "and named a specific time to practise",
    "and wanted feedback on the plan", "and promised to bring the worksheet back",
    "and shook hands with a peer on the way out", "and said the goal needs smaller steps",
    "and took an extra copy for a partner", "and paused the check-out to think",
    "and said sleep comes first this week", "and linked it to the court date",
    "and chose a sponsor call as the first step", "and asked about an extra session",
)
# The leader's plan sentence where the draft's plan alone would repeat last time's (use, worse progress).
LEADER_PLANS = (
    "Counselor to call on {day} to check on the weekend plan",
    "Add a midweek check-in call before {day}",
    "Review the relapse-prevention plan in the individual session on {day}",
    "Ask the member to list three high-risk times before {day}",
    "Coordinate with the prescriber about cravings before {day}",
    "Member to attend a mutual-help meeting before {day} and report back",
    "Set up a sober-activity plan for {day} with the member",
    "Revisit the goal's steps in the individual session on {day}",
    "Schedule a urine drug screen before {day} and review the result together",
    "Member to write out a plan for the evening hours before {day}",
    "Invite a support person to the family session on {day}",
    "Shorten the goal to one daily step and check it on {day}",
    "Member to remove alcohol from the home before {day}",
    "Case manager to look into a transportation voucher before {day}",
    "Member to practise the refusal script with the sponsor before {day}",
    "Discuss a step-up in care with the supervisor before {day}",
)
SAFETY_DISPOSITIONS = (
    ("Screened privately at the break; passive thoughts, no plan or intent; safety plan reviewed; "
     "primary clinician informed."),
    ("Screened after group; denied plan and intent; crisis line and safety contacts reviewed; follow-up call "
     "scheduled."),
)
DETAILS = (
    "Sat near a peer who is new to group and welcomed them.",
    "Took notes during the teaching segment.",
    "Asked for a copy of the handout to share at home.",
    "Mentioned a supportive call with a family member.",
    "Named the next mutual-help meeting they plan to attend.",
    "Reported better sleep than last week.",
    "Said the homework was hard to find time for.",
    "Stayed after group briefly to ask a question.",
)

TAKEAWAYS = (
    "Urges pass if I wait them out", "Call someone before, not after", "Plan the weekend ahead",
    "Breathe first, then answer", "Small steps still count", "Say no and leave",
    "Sleep matters more than I thought", "Use an 'I' statement", "I am not alone in this",
    "Write the plan down", "Notice the warning signs early", "Be kinder to myself",
    "Keep my schedule full", "Ask for help sooner", "A lapse does not have to be a relapse",
    "Ground with five senses", "Take a time-out when angry", "Keep my promises small",
    "Money plan before payday", "Bring questions to my prescriber", "Check my HALT",
    "Text my support person", "Try a new hobby", "Safety plan in my wallet",
)

STORY_EVENTS = (
    "described a family dinner where alcohol was served and how they left early",
    "talked about a coworker's offer to go out after a shift and the refusal line used",
    "shared a stressful week with a landlord and how breathing exercises helped",
    "reported a strong craving on payday and calling a support person",
    "described driving past an old neighbourhood and taking a different route afterwards",
    "shared pride about reaching a new milestone in recovery",
    "talked about an argument with a partner and using a time-out",
    "described trouble sleeping and a new bedtime routine",
    "shared attending a mutual-help meeting for the first time",
    "reported boredom over the weekend and plans to join a walking group",
    "talked about guilt toward their children and a plan to reconnect",
    "described a lapse two weeks ago and what they learned from it",
    "shared a conversation with a prescriber about medication questions",
    "described worry about returning to work and a plan for the first week",
    "talked about setting a boundary with a sibling",
    "shared that a friend noticed positive changes",
    "described a difficult anniversary coming up and supports lined up for it",
    "reported starting to cook regular meals again",
    "talked about feeling left out at a party and texting a peer from group",
    "described an urge that peaked and faded within twenty minutes",
    "shared relief after paying off a small debt",
    "talked about a court date and the stress around it",
    "described a calmer conversation with a parent using 'I' statements",
    "shared struggling with motivation to attend this week and choosing to come anyway",
)
STORY_RESPONSES = (
    "Peers offered encouragement.",
    "Facilitator linked it to today's topic.",
    "Group discussed similar experiences.",
    "A peer shared a strategy that had worked for them.",
    "Member accepted feedback openly.",
    "Facilitator validated the effort involved.",
    "",
)

# (template, short label): goals read like plausible treatment-plan goals, all invented.
GOAL_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("Identify at least {n} personal triggers and write a coping plan for each", "trigger plan"),
    ("Attend {p}% of scheduled groups and arrive on time", "attendance"),
    ("Use a delay-and-distract plan to manage cravings, reporting urges at or below {u}/10", "cravings"),
    ("Build a sober support network of at least {n} people and contact one weekly", "support network"),
    ("Attend {n} mutual-help meetings per week", "mutual-help meetings"),
    ("Practise one stress-management technique daily and report its use in group", "stress skills"),
    ("Complete a written relapse-prevention plan and review it with a support person", "relapse plan"),
    ("Improve sleep to at least {h} hours on most nights using a regular bedtime routine", "sleep routine"),
    ("Use 'I' statements to express needs in {n} difficult conversations", "communication"),
    ("Complete and carry a personal safety plan with crisis contacts", "safety plan"),
    ("Reduce conflict at home by taking a time-out when anger rises above {u}/10", "anger control"),
    ("Follow a daily schedule with no more than {n} hours of unplanned time", "daily structure"),
    ("Identify {n} early warning signs of relapse and share them with family", "warning signs"),
    ("Take medications as prescribed and bring questions to each prescriber visit", "medications"),
    ("Return to work or school part time with a plan for workplace triggers", "work return"),
    ("Create a monthly budget and a payday plan", "money plan"),
    ("Replace self-critical thoughts with balanced ones, practised {n} times a week", "self-compassion"),
    ("Reconnect with one family member through a planned weekly call", "family contact"),
    ("Try {n} new recovery-friendly activities for free time", "free time"),
    ("Remain abstinent, confirmed by self-report and screening, for the length of the program", "abstinence"),
)

FOLLOW_UP_SAFETY = (
    "Safety concern at check-in: private screening after group; review safety plan and "
    "confirm contact with the primary clinician"
)
FOLLOW_UP_ABSENCE = "Outreach call after two missed groups without notice; review barriers to attendance"
FOLLOW_UP_OTHER = (
    "Coordinate with the individual counsellor about homework completion",
    "Send release-of-information form for the member's prescriber",
    "Check transportation options for the member's next week",
    "Ask the member about a referral to a mutual-help sponsor program",
)


def staff_name(index: int) -> str:
    """An invented staff name, unique for the first several hundred indices."""
    first = FIRST_NAMES[(index * 37 + 11) % len(FIRST_NAMES)]
    head = _SURNAME_HEADS[index % len(_SURNAME_HEADS)]
    tail = _SURNAME_TAILS[(index // len(_SURNAME_HEADS) + index) % len(_SURNAME_TAILS)]
    return f"{first} {head}{tail}"


def group_name(index: int, start_time: str, group_type: str, audience: str, level: str) -> str:
    place = GROUP_PLACES[index % len(GROUP_PLACES)]
    if index >= len(GROUP_PLACES):
        place = f"{place} {index // len(GROUP_PLACES) + 1}"
    part = DAYPARTS.get(start_time, "")
    label = TYPE_LABELS.get(group_type, "Group")
    who = "Teen " if audience == "adolescent" else ""
    care = "Continuing Care " if level == "OP" else ""
    return f"{place} {part} {who}{care}{label}".replace("  ", " ")


def goal_texts(rand: Callable[[], float], count: int) -> list[tuple[str, str]]:
    """``count`` distinct (goal text, short label) pairs with plausible numbers filled in."""
    picks: list[tuple[str, str]] = []
    used: set[int] = set()
    while len(picks) < count:
        i = int(rand() * len(GOAL_TEMPLATES))
        if i in used:
            continue
        used.add(i)
        template, label = GOAL_TEMPLATES[i]
        text = template.format(
            n=2 + int(rand() * 4), p=(85, 90, 95)[int(rand() * 3)], u=2 + int(rand() * 3),
            h=(6, 7, 7, 8)[int(rand() * 4)],
        )
        picks.append((text, label))
    return picks


def feeling_for(mood: int, r: float) -> str:
    pool = FEELINGS_LOW if mood <= 3 else FEELINGS_MID if mood <= 6 else FEELINGS_HIGH
    return pool[int(r * len(pool))]


def pick(pool: Sequence[str], r: float) -> str:
    return pool[int(r * len(pool))]
