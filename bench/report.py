"""The table of figures: each product figure beside its baseline from the same run, their
ratio, issue 12's target for it and whether it is met.

`rows(results)` reads what `bench.run.run` measured; `table(results)` is the text printed
on stdout. A figure that was not measured reads "not measured" (and its target "n/a").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from fake_slack.server import ACK_TIMEOUT_SECONDS

from .load import ANSWER_TIMEOUT_SECONDS

#: The parts a run can be limited to (`--only`), in the order they run.
PARTS = ("commands", "memory", "site", "growth")
#: The columns of the table, in order.
COLUMNS = ("figure", "product", "baseline", "ratio", "target", "met?")
NOT_MEASURED = "not measured"
#: Growth's figures in the table: (bench.growth's key, name, whether a target holds it).
GROWTH_FIGURES = (
    ("issue", "link issue", True),
    ("bind", "bind", True),
    ("lookup", "lookup", True),
    ("account", "adding an account", False),
    ("disconnect", "Disconnect", False),
)


@dataclass(frozen=True)
class Row:
    """One figure. `ratio` is product / baseline; `met` None when there is no target or a
    value is missing."""

    figure: str
    product: float | None
    baseline: float | None
    baseline_name: str
    ratio: float | None
    target: str
    met: bool | None
    #: What else a reader must know, such as commands that got no ack in time.
    note: str = ""
    #: The same for the baseline's figure.
    baseline_note: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _get(results: dict[str, Any], *path: str) -> float | None:
    value: Any = results
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


def _row(
    figure: str,
    product: float | None,
    baseline: float | None,
    baseline_name: str,
    target: str = "",
    check: Callable[[float, float | None], bool] | None = None,
    *,
    note: str = "",
    baseline_note: str = "",
) -> Row:
    ratio = round(product / baseline, 3) if product is not None and baseline else None
    met = None
    if check is not None and product is not None:
        met = check(product, ratio)
    return Row(figure, product, baseline, baseline_name, ratio, target, met, note, baseline_note)


def _lost(results: dict[str, Any], system: str, run: str) -> str:
    """How many of a run's commands got no ack, or no answer, in time ("" when none). Each
    counts in the percentiles as its whole wait (bench.load), so a percentile at that wait
    means "at least"."""
    stats = results.get(system, {}).get(run, {})
    if not isinstance(stats, dict):
        return ""
    parts = []
    if stats.get("ack_timeouts"):
        parts.append(f"{stats['ack_timeouts']} without an ack within {ACK_TIMEOUT_SECONDS:g} s")
    answered, acked = stats.get("answered"), stats.get("acked")
    if answered is not None and acked is not None and acked > answered:
        parts.append(
            f"{acked - answered} acknowledged but unanswered within {ANSWER_TIMEOUT_SECONDS:g} s"
        )
    if parts:
        parts.append("each counted in percentiles as its whole wait")
    return ", ".join(parts)


def _linked(results: dict[str, Any], system: str, run: str) -> str:
    """`_lost`, and how many links came after an acknowledgement that held none."""
    notes = [_lost(results, system, run)]
    stats = results.get(system, {}).get(run, {})
    if isinstance(stats, dict) and stats.get("deferred"):
        notes.append(f"{stats['deferred']} links deferred to the response_url")
    return ", ".join(note for note in notes if note)


def _at_least(times: float) -> Callable[[float, float | None], bool]:
    return lambda product, ratio: ratio is not None and ratio >= times


def _at_most(times: float) -> Callable[[float, float | None], bool]:
    return lambda product, ratio: ratio is not None and ratio <= times


def _below(value: float) -> Callable[[float, float | None], bool]:
    return lambda product, ratio: product < value


def _size(rows: float) -> str:
    if rows >= 1_000_000:
        return f"{rows / 1_000_000:g}M"
    if rows >= 1_000:
        return f"{rows / 1_000:g}k"
    return f"{rows:g}"


def rows(results: dict[str, Any]) -> list[Row]:
    """Every figure of issue 12, in the order the table shows them."""
    r = results
    u, b = "product_unbound", "product_bound"
    half_b = _get(r, "baseline_b", "open", "rate")
    bound_rate = _get(r, b, "open", "rate")
    c_rate = _get(r, "baseline_c", "open", "rate")
    table = [
        _row(
            "unbound: links/s, 50 at a time",
            _get(r, u, "c50", "answers_per_second"),
            _get(r, "baseline_b", "c50", "acks_per_second"),
            "B",
            ">= 0.8 x B",
            _at_least(0.8),
            note=_linked(r, u, "c50"),
            baseline_note=_lost(r, "baseline_b", "c50"),
        ),
        _row(
            "unbound: links/s, one at a time",
            _get(r, u, "c1", "answers_per_second"),
            _get(r, "baseline_a", "c1", "acks_per_second"),
            "A",
            ">= 10 x A",
            _at_least(10),
            note=_linked(r, u, "c1"),
            baseline_note=_lost(r, "baseline_a", "c1"),
        ),
        _row(
            "unbound: link p50 ms, one at a time",
            _get(r, u, "c1", "answer_p50_ms"),
            _get(r, "baseline_b", "c1", "ack_p50_ms"),
            "B",
            note=_linked(r, u, "c1"),
            baseline_note=_lost(r, "baseline_b", "c1"),
        ),
        _row(
            "unbound: link p99 ms, one at a time",
            _get(r, u, "c1", "answer_p99_ms"),
            _get(r, "baseline_b", "c1", "ack_p99_ms"),
            "B",
            note=_linked(r, u, "c1"),
            baseline_note=_lost(r, "baseline_b", "c1"),
        ),
        _row(
            "unbound: link p50 ms, 50 at a time",
            _get(r, u, "c50", "answer_p50_ms"),
            _get(r, "baseline_b", "c50", "ack_p50_ms"),
            "B",
            note=_linked(r, u, "c50"),
            baseline_note=_lost(r, "baseline_b", "c50"),
        ),
        _row(
            "unbound: link p99 ms, 50 at a time",
            _get(r, u, "c50", "answer_p99_ms"),
            _get(r, "baseline_b", "c50", "ack_p99_ms"),
            "B",
            note=_linked(r, u, "c50"),
            baseline_note=_lost(r, "baseline_b", "c50"),
        ),
        _row(
            "unbound: link p99 ms, open loop at "
            + (f"{half_b:.0f}/s (B's rate at 50 / 2)" if half_b else "B's rate at 50 / 2"),
            _get(r, u, "open", "answer_p99_ms"),
            _get(r, "baseline_b", "open", "ack_p99_ms"),
            "B",
            "< 10 ms",
            _below(10),
            note=_linked(r, u, "open"),
            baseline_note=_lost(r, "baseline_b", "open"),
        ),
        _row(
            "unbound: app CPU ms per command, 50 at a time",
            _get(r, u, "c50", "app_cpu_ms_per_command"),
            _get(r, "baseline_b", "c50", "app_cpu_ms_per_command"),
            "B",
        ),
        _row(
            "bound: completed/s, 50 at a time",
            _get(r, b, "c50", "answers_per_second"),
            _get(r, "baseline_c", "c50", "answers_per_second"),
            "C",
            ">= 0.8 x C",
            _at_least(0.8),
            note=_lost(r, b, "c50"),
            baseline_note=_lost(r, "baseline_c", "c50"),
        ),
        _row(
            "bound: completed/s, one at a time",
            _get(r, b, "c1", "answers_per_second"),
            _get(r, "baseline_c", "c1", "answers_per_second"),
            "C",
            note=_lost(r, b, "c1"),
            baseline_note=_lost(r, "baseline_c", "c1"),
        ),
        _row(
            "bound: ack p50 ms, 50 at a time",
            _get(r, b, "c50", "ack_p50_ms"),
            _get(r, "baseline_c", "c50", "ack_p50_ms"),
            "C",
            note=_lost(r, b, "c50"),
            baseline_note=_lost(r, "baseline_c", "c50"),
        ),
        _row(
            "bound: ack p99 ms, 50 at a time",
            _get(r, b, "c50", "ack_p99_ms"),
            _get(r, "baseline_c", "c50", "ack_p99_ms"),
            "C",
            note=_lost(r, b, "c50"),
            baseline_note=_lost(r, "baseline_c", "c50"),
        ),
        _row(
            "bound: answer p50 ms, 50 at a time",
            _get(r, b, "c50", "answer_p50_ms"),
            _get(r, "baseline_c", "c50", "answer_p50_ms"),
            "C",
            note=_lost(r, b, "c50"),
            baseline_note=_lost(r, "baseline_c", "c50"),
        ),
        _row(
            "bound: ack p99 ms, open loop at its completion rate "
            + (
                f"({bound_rate:.0f}/s; C at {c_rate:.0f}/s)"
                if bound_rate and c_rate
                else "(C at its own)"
            ),
            _get(r, b, "open", "ack_p99_ms"),
            _get(r, "baseline_c", "open", "ack_p99_ms"),
            "C",
            "< 10 ms",
            _below(10),
            note=_lost(r, b, "open"),
            baseline_note=_lost(r, "baseline_c", "open"),
        ),
        _row(
            "bound: app CPU ms per command, 50 at a time",
            _get(r, b, "c50", "app_cpu_ms_per_command"),
            _get(r, "baseline_c", "c50", "app_cpu_ms_per_command"),
            "C",
        ),
        _row(
            "site: confirm page GETs/s",
            _get(r, "site", "confirm_page", "per_second"),
            _get(r, "site", "baseline_get", "per_second"),
            "bare Starlette GET",
        ),
        _row(
            "site: bind POSTs/s",
            _get(r, "site", "bind", "per_second"),
            _get(r, "site", "baseline_post", "per_second"),
            "bare Starlette POST",
        ),
        _row(
            "site: introspection calls/s",
            _get(r, "site", "introspection", "per_second"),
            _get(r, "site", "baseline_post", "per_second"),
            "bare Starlette POST",
        ),
        _row("site: logins/s (password hash)", _get(r, "site", "login", "per_second"), None, ""),
    ]
    sizes = r.get("plan", {}).get("growth_sizes") or []
    for key, name, targeted in GROWTH_FIGURES:
        target, check = ("<= 1.5 x", _at_most(1.5)) if targeted else ("", None)
        if len(sizes) < 2:
            table.append(_row(f"growth: {name} p50 ms", None, None, "", target))
            continue
        small, large = _size(sizes[0]), _size(sizes[-1])
        table.append(
            _row(
                f"growth: {name} p50 ms at {large} rows (baseline: at {small})",
                _get(r, "growth", str(sizes[-1]), key, "p50_ms"),
                _get(r, "growth", str(sizes[0]), key, "p50_ms"),
                f"at {small}",
                target,
                check,
            )
        )
    plan = r.get("plan", {})
    commands = r.get("memory", {}).get("commands", plan.get("memory_commands"))
    warmup = r.get("memory", {}).get("warmup_commands", plan.get("memory_warmup"))
    table.append(
        _row(
            f"memory: RSS growth MB over {commands or 'N'} commands"
            + (f" after {warmup} warm-up" if warmup else ""),
            _get(r, "memory", "rss_growth_mb"),
            None,
            "",
            "< 20 MB",
            _below(20),
        )
    )
    return table


def _number(value: float | None) -> str:
    if value is None:
        return NOT_MEASURED
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"  # a small latency keeps enough digits to check its ratio


def cells(row: Row) -> tuple[str, str, str, str, str, str]:
    """The row as the table prints it."""
    baseline = _number(row.baseline) if row.baseline_name else ""
    if row.baseline_name and row.baseline is not None:
        baseline = f"{row.baseline_name}: {baseline}"
    ratio = f"{row.ratio:.2f}" if row.ratio is not None else ""
    if not row.target:
        met = ""
    elif row.met is None:
        met = "n/a"
    else:
        met = "yes" if row.met else "NO"
    product = _number(row.product) + (f" ({row.note})" if row.note else "")
    if row.baseline_note:
        baseline += f" ({row.baseline_note})"
    return (row.figure, product, baseline, ratio, row.target, met)


def table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table (readable as text, pasted as is into the README),
    with the machine and the run's kind above it."""
    machine = results.get("machine", {})
    plan = results.get("plan", {})
    parts = plan.get("parts") or []
    if parts and set(parts) != set(PARTS):
        kind = f"only {' and '.join(parts)} (the other figures not measured)"
        kind += ", --quick (indicative only)" if plan.get("quick") else ""
    else:
        kind = "--quick (indicative only)" if plan.get("quick") else "full"
    if results.get("commit"):
        kind += f", on commit {results['commit']}"
    lines = [
        f"Machine: {machine.get('cpu') or 'unknown CPU'}, {machine.get('cores')} cores, "
        f"{machine.get('system')}, Python {machine.get('python')}; "
        f"load average at start {machine.get('load_average_at_start')}",
        f"Run: {kind}, started {results.get('started')}",
        "",
    ]
    body = [cells(row) for row in rows(results)]
    widths = [
        max(len(column), *(len(cell[i]) for cell in body)) for i, column in enumerate(COLUMNS)
    ]

    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    lines.append(line(COLUMNS))
    lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    lines.extend(line(cell) for cell in body)
    return "\n".join(lines)
