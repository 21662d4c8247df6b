"""What a facilitator guide must hold, as a pydantic model.

A topic file is parsed (``library.parse``) into a plain dict and validated
here. Every rule a clinical reviewer would check mechanically lives in this
module: counts of objectives, key points and prompts, minutes that add up,
no crisis phone numbers (they come from the program settings), original
writing with licensed references.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
VERSION_PATTERN = r"^\d+\.\d+(?:\.\d+)?$"

# A US phone number, or 988 / 911 standing alone: crisis numbers belong in program settings.
_PHONE = re.compile(r"(?<!\d)(?:\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}|988|911)(?!\d)")


class Category(StrEnum):
    recovery_foundations = "recovery-foundations"
    relapse_prevention = "relapse-prevention"
    emotions_and_stress = "emotions-and-stress"
    relationships = "relationships"
    self_management = "self-management"


class TopicAudience(StrEnum):
    mental_health = "mental-health"
    substance_use = "substance-use"
    co_occurring = "co-occurring"


class SegmentKind(StrEnum):
    opening = "opening"
    didactic = "didactic"
    discussion = "discussion"
    activity = "activity"
    practice = "practice"
    wrap_up = "wrap-up"


class License(StrEnum):
    public_domain = "public-domain"
    open_license = "open-license"  # e.g. CC BY: cite and follow the licence
    citation_only = "citation-only"  # copyrighted: informs structure only, never reproduced


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Segment(_Strict):
    kind: SegmentKind
    title: Line
    minutes: int = Field(ge=1, le=90)
    script: Text


class Activity(_Strict):
    name: Line
    minutes: int = Field(ge=1, le=90)
    instructions: Text
    debrief: Text


class Homework(_Strict):
    title: Line
    instructions: Text
    review_prompt: Text


class DifficultMoment(_Strict):
    situation: Line
    response: Text


class Reference(_Strict):
    source: Line
    locator: Line
    license: License


class Authorship(_Strict):
    author: Line
    written_originally: bool
    clinical_reviewer: str = ""
    review_date: dt.date | None = None

    @field_validator("written_originally")
    @classmethod
    def _must_be_original(cls, value: bool) -> bool:
        if not value:
            raise ValueError("topics must be written originally for this project (written_originally = true)")
        return value


class Topic(_Strict):
    """One facilitator guide. ``duration_minutes`` equals the sum of its segments."""

    id: Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=100)]
    title: Line
    summary: Text
    version: Annotated[str, StringConstraints(pattern=VERSION_PATTERN, max_length=32)]
    category: Category
    audience: list[TopicAudience] = Field(min_length=1)
    duration_minutes: int = Field(ge=20, le=180)
    objectives: list[Line] = Field(min_length=2, max_length=4)
    materials: list[Line] = Field(default_factory=list)
    facilitator_prep: list[Line] = Field(min_length=1)
    safety_notes: list[Line] = Field(min_length=1)
    check_in_hook: Text
    segments: list[Segment] = Field(min_length=3)
    key_points: list[Line] = Field(min_length=3, max_length=7)
    discussion_prompts: list[Line] = Field(min_length=4)
    activity: Activity
    homework: Homework
    check_out_prompt: Text
    difficult_moments: list[DifficultMoment] = Field(min_length=1)
    references: list[Reference] = Field(min_length=1)
    authorship: Authorship

    @field_validator("audience")
    @classmethod
    def _unique_audience(cls, value: list[TopicAudience]) -> list[TopicAudience]:
        if len(set(value)) != len(value):
            raise ValueError("audience lists a value twice")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Topic:
        total = sum(s.minutes for s in self.segments)
        if total != self.duration_minutes:
            raise ValueError(
                f"segments add up to {total} minutes, but duration_minutes is {self.duration_minutes}"
            )
        kinds = [s.kind for s in self.segments]
        if kinds[0] != SegmentKind.opening:
            raise ValueError("the first segment must be the opening (link to check-in)")
        if kinds[-1] != SegmentKind.wrap_up:
            raise ValueError("the last segment must be the wrap-up (check-out)")
        activity_segments = [s for s in self.segments if s.kind == SegmentKind.activity]
        if not activity_segments:
            raise ValueError("the session plan needs an Activity segment for the topic's activity")
        if sum(s.minutes for s in activity_segments) != self.activity.minutes:
            raise ValueError(
                f"the activity takes {self.activity.minutes} minutes, but its segments in the plan "
                f"take {sum(s.minutes for s in activity_segments)}"
            )
        for name, text in self._texts():
            if _PHONE.search(text):
                raise ValueError(
                    f"{name} holds a phone or crisis number; crisis numbers come from the program settings"
                )
        return self

    def _texts(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = [("summary", self.summary), ("check_in_hook", self.check_in_hook),
                                      ("check_out_prompt", self.check_out_prompt)]
        out += [(f"segments[{i}].script", s.script) for i, s in enumerate(self.segments)]
        out += [("safety_notes", t) for t in self.safety_notes]
        out += [("key_points", t) for t in self.key_points]
        out += [("discussion_prompts", t) for t in self.discussion_prompts]
        out += [("activity", self.activity.instructions + "\n" + self.activity.debrief)]
        out += [("homework", self.homework.instructions + "\n" + self.homework.review_prompt)]
        out += [(f"difficult_moments[{i}]", d.response) for i, d in enumerate(self.difficult_moments)]
        return out


class LoadedTopic(BaseModel):
    """A validated topic plus where it came from and the hash of its exact content."""

    model_config = ConfigDict(frozen=True)

    topic: Topic
    path: str
    source: str  # "bundled", "user" or "extra"
    content_hash: str  # sha256 of the normalised file text (UTF-8, LF line ends, no BOM)
    body: str  # the Markdown guide, without the header
