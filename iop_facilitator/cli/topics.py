"""``iop topics``: the facilitator guides, their validation, and what each group has covered."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from iop_facilitator.cli.common import open_db, parse_date, print_json, print_table, say

if TYPE_CHECKING:
    from iop_facilitator.library.load import Library

app = typer.Typer(help="Topic guides: list, show, validate; a group's history, matrix and suggestions.", no_args_is_help=True)

TopicsDir = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--topics-dir",
        help="Another folder of topic files (repeatable); its topics replace bundled or user ones with the same id.",
    ),
]


def load(extra: list[Path] | None, *, quiet_problems: bool = False) -> Library:
    """The library from all sources; bad files and overrides reported once on stderr."""
    from iop_facilitator.library.load import load_library
    from iop_facilitator.services.text import clean_line

    library = load_library(extra=extra or [])
    for override in library.overrides:
        typer.echo(clean_line(f"iop: note: topic {override.topic_id} from {override.path} replaces {override.replaced}"),
                   err=True)
    if not quiet_problems:
        for problem in library.problems:
            typer.echo(clean_line(f"iop: warning: skipped {problem}"), err=True)
    return library


def _today(session) -> object:  # noqa: ANN001
    from iop_facilitator.clock import local_today
    from iop_facilitator.services.settings import get_settings

    return local_today(get_settings(session).timezone)


@app.command("list")
def list_(
    category: Annotated[Optional[str], typer.Option("--category", help="Only this category.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    topics_dir: TopicsDir = None,
) -> None:
    """List the topic guides."""
    from iop_facilitator.library.model import Category

    if category is not None and category not in {c.value for c in Category}:
        raise typer.BadParameter(
            f"{category!r} is not a category; one of: {', '.join(c.value for c in Category)}", param_hint="--category"
        )
    library = load(topics_dir)
    found = [t for t in library.sorted() if category is None or t.topic.category.value == category]
    if as_json:
        print_json(
            [
                {
                    "id": t.topic.id,
                    "title": t.topic.title,
                    "summary": t.topic.summary,
                    "version": t.topic.version,
                    "category": t.topic.category.value,
                    "audience": [a.value for a in t.topic.audience],
                    "duration_minutes": t.topic.duration_minutes,
                    "content_hash": t.content_hash,
                    "source": t.source,
                    "path": t.path,
                }
                for t in found
            ]
        )
        return
    print_table(
        "Topics",
        ["id", "title", "category", "minutes", "version", "source"],
        [[t.topic.id, t.topic.title, t.topic.category.value, t.topic.duration_minutes, t.topic.version, t.source] for t in found],
        empty="No topics match.",
    )


@app.command("show")
def show(
    topic_id: Annotated[str, typer.Argument(metavar="ID", help="The topic's id (see: iop topics list).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the structured guide as JSON.")] = False,
    topics_dir: TopicsDir = None,
) -> None:
    """Show a facilitator guide, rendered for the terminal."""
    library = load(topics_dir, quiet_problems=True)
    loaded = library.get(topic_id)
    if as_json:
        data = loaded.topic.model_dump(mode="json")
        data.update(content_hash=loaded.content_hash, source=loaded.source, path=loaded.path)
        print_json(data)
        return
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.rule import Rule
    from rich.text import Text

    from iop_facilitator.services.text import clean

    topic = loaded.topic
    console = Console()
    console.print(Text(clean(topic.title), style="bold"))
    console.print(
        Text(
            f"{topic.id} · version {topic.version} · {topic.category.value} · {topic.duration_minutes} min · "
            f"for {', '.join(a.value for a in topic.audience)} · sha256 {loaded.content_hash[:12]}",
            style="dim",
        )
    )
    console.print(Text(clean(topic.summary)))
    console.print(Rule())
    body = clean(loaded.body)
    lines = body.split("\n")
    if lines and lines[0].startswith("# "):  # the title is already shown above
        body = "\n".join(lines[1:])
    console.print(Markdown(body))
    console.print(Rule("References"))
    for ref in topic.references:
        console.print(Text(f"- {clean(ref.source)}. {clean(ref.locator)} ({ref.license.value})"))
    who = topic.authorship
    reviewed = f"; reviewed by {clean(who.clinical_reviewer)}" if who.clinical_reviewer else "; not yet clinically reviewed"
    console.print(Text(f"Written originally by {clean(who.author)}{reviewed}.", style="dim"))


@app.command("validate")
def validate(
    paths: Annotated[
        Optional[list[Path]], typer.Argument(help="Topic files or folders (default: every topic source).")
    ] = None,
    topics_dir: TopicsDir = None,
) -> None:
    """Check topic files: exit 0 when all are valid, else one line per problem and exit 1."""
    from iop_facilitator.library.load import load_library, validate_paths
    from iop_facilitator.services.text import clean_line

    if paths:
        good, problems = validate_paths(list(paths))
        count = len(good)
    else:
        library = load_library(extra=topics_dir or [])
        problems, count = library.problems, len(library.topics)
        for override in library.overrides:
            typer.echo(clean_line(f"iop: note: topic {override.topic_id} from {override.path} replaces "
                                  f"{override.replaced}"), err=True)
    for problem in problems:
        typer.echo(clean_line(str(problem)), err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s); {count} valid topic(s)", err=True)
        raise typer.Exit(1)
    say(f"{count} topic(s) valid")


def _group_and_library(ctx: typer.Context, group: str, topics_dir: list[Path] | None):  # noqa: ANN202
    from iop_facilitator.services.groups import resolve_group

    library = load(topics_dir)
    database = open_db(ctx)
    session = database.session()
    ctx.call_on_close(session.close)
    return session, resolve_group(session, group), library


@app.command("history")
def history(
    ctx: typer.Context,
    group: Annotated[str, typer.Option("--group", help="The group (name or id).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    topics_dir: TopicsDir = None,
) -> None:
    """When each topic was last covered by a group (never-covered topics first)."""
    from iop_facilitator.services import topics as svc

    session, target, library = _group_and_library(ctx, group, topics_dir)
    rows = svc.history(session, target, library)
    if as_json:
        print_json(
            [
                {
                    "topic_id": h.topic_id,
                    "title": h.title,
                    "last_covered": h.last_covered.isoformat() if h.last_covered else None,
                    "times_covered": h.times_covered,
                    "last_version": h.last_version,
                    "in_library": h.title is not None,
                }
                for h in rows
            ]
        )
        return
    print_table(
        f"Topic history of {target.name}",
        ["topic", "title", "last covered", "times", "version"],
        [
            [h.topic_id, h.title or "(not in the library)", h.last_covered or "never", h.times_covered, h.last_version or ""]
            for h in rows
        ],
    )


@app.command("matrix")
def matrix(
    ctx: typer.Context,
    group: Annotated[str, typer.Option("--group", help="The group (name or id).")],
    on: Annotated[Optional[str], typer.Option("--date", metavar="YYYY-MM-DD", help="Roster of this day (default today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array (one object per member).")] = False,
    topics_dir: TopicsDir = None,
) -> None:
    """Currently enrolled members x topics: which topics each member has attended (any group)."""
    from iop_facilitator.services import topics as svc

    day = parse_date(on, "--date", ctx=ctx)
    session, target, library = _group_and_library(ctx, group, topics_dir)
    grid = svc.matrix(session, target, library, day or _today(session))
    if as_json:
        print_json(
            [
                {
                    "member_id": str(m.id),
                    "display_name": m.display_name,
                    "attended": [t.topic.id for t in grid.topics if grid.has(m, t.topic.id)],
                    "missing": [t.topic.id for t in grid.topics if not grid.has(m, t.topic.id)],
                }
                for m in grid.members
            ]
        )
        return
    if not grid.members:
        say(f"{target.name} has no members enrolled on that day.")
        return
    legend = {m.id: str(i + 1) for i, m in enumerate(grid.members)}
    print_table(
        f"Curriculum matrix of {target.name} (x = attended, . = not yet)",
        ["topic", *[legend[m.id] for m in grid.members], "missing"],
        [
            [
                t.topic.title,
                *["x" if grid.has(m, t.topic.id) else "." for m in grid.members],
                sum(1 for m in grid.members if not grid.has(m, t.topic.id)),
            ]
            for t in grid.topics
        ],
    )
    say("Members: " + "; ".join(f"{legend[m.id]} = {m.display_name}" for m in grid.members))


@app.command("suggest")
def suggest(
    ctx: typer.Context,
    group: Annotated[str, typer.Option("--group", help="The group (name or id).")],
    on: Annotated[Optional[str], typer.Option("--date", metavar="YYYY-MM-DD", help="Meeting day (default today).")] = None,
    recent: Annotated[int, typer.Option("--recent", min=1, max=200, help="How many past meetings count as recent.")] = 12,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many suggestions to show.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    topics_dir: TopicsDir = None,
) -> None:
    """Suggest the day's topic: not covered recently, then the most members have not had."""
    from iop_facilitator.services import topics as svc

    day = parse_date(on, "--date", ctx=ctx)
    session, target, library = _group_and_library(ctx, group, topics_dir)
    ranked = svc.suggest(session, target, library, day or _today(session), recent_meetings=recent)[:limit]
    if as_json:
        print_json(
            [
                {
                    "topic_id": s.topic.topic.id,
                    "title": s.topic.topic.title,
                    "version": s.topic.topic.version,
                    "covered_recently": s.covered_recently,
                    "last_covered": s.last_covered.isoformat() if s.last_covered else None,
                    "members_missing": s.members_missing,
                    "members_total": s.members_total,
                    "reason": s.reason,
                }
                for s in ranked
            ]
        )
        return
    print_table(
        f"Suggested topics for {target.name}",
        ["#", "topic", "title", "why"],
        [[i + 1, s.topic.topic.id, s.topic.topic.title, s.reason] for i, s in enumerate(ranked)],
        empty="The topic library is empty.",
    )
