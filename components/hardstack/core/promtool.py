"""Generated ``promtool test rules`` files that pin an SLO's compiled rules (``compile_rules``).

Each scenario is a set of counter series built from phases of traffic; the expected alerts come from
simulating the rules on those very samples the way Prometheus evaluates them (its ``rate``
extrapolation, ``sum``, ``or vector(0)``, ``for``), so a rule that differs from the SLO fails:

* per burn branch (page 1h/5m, page 6h/30m, ticket 1d/2h, ticket 3d/6h, factors scaled to the period),
  after a clean baseline long enough that the long window is full when it crosses:
  - *just above*: errors at the factor + 4 %: no alert of the severity two evaluations before the
    simulated firing, the alert (labels and rendered annotations) two evaluations after;
  - *just below*: the factor - 4 %: nothing of the severity at the time the above case fires;
  - *recovery*: a faster burn, stopped two evaluations after the alert fires; still firing two
    evaluations before the short window lets go, resolved two after, while the long window alone
    would still fire (so the short window is what resolves it).
  Branches the OR of the same severity would mask are isolated: a sibling that would also fire gets a
  heavier clean baseline that dilutes its longer window (1d/2h fires, 3d/6h stays below).
* zero traffic: the total counter flat, nothing fires; outages (selectors only): the good series
  going stale or never created while every request fails still pages, and an error series never
  created counts as no errors.

Page scenarios run in one file at a 1-minute evaluation interval (``for: 2m`` is pinned to the
minute); ticket scenarios, days long, in another at 5 minutes. Checks are two evaluations away from any
simulated transition, where Prometheus 2's closed and 3's left-open range windows agree on what fires;
the rendered $value follows promtool 2 (the distributions' package), whose ranges include their
start. Expression queries (``$window``) cannot be fed raw
counters: their tests feed the recorded ratios and check only the alerting (burning / half budget).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from hardstack.core.errors import refuse
from hardstack.core.slo import (
    FOR_DURATION,
    SEVERITIES,
    SLO,
    WINDOWS,
    BurnCondition,
    _annotations,
    _check_unique,
    _ratio_metric,
    _selector,
    _series,
    dec,
    window_seconds,
)

#: Minutes between evaluations (and samples) of each file.
STEP: Mapping[str, int] = {"page": 1, "ticket": 5}
#: Evaluations between a check and the transition it pins.
MARGIN = 2
#: "Just above / just below" a factor.
NEAR = Decimal("0.04")
#: Burn of the recovery scenarios, in multiples of the branch's factor (the first that isolates it).
RECOVERY_FACTORS = (Decimal(3), Decimal(2), Decimal("1.5"), Decimal("1.25"))
#: Clean baselines tried, most telling first: (traffic multiple, length in long windows). Same traffic
#: keeps the crossing time proportional to the threshold; heavier traffic dilutes a longer sibling
#: window that would otherwise fire too (it compresses the timing, so it comes last).
BASELINES = ((1, Decimal("0.1")), (1, Decimal(1)), (2, Decimal(2)), (4, Decimal(1)), (16, Decimal(1)))
_DECOYS_BAD = ("500", "503", "5xx", "error", "failure", "true", "1")
_DECOYS_OK = ("200", "204", "2xx", "ok", "success", "false", "0")
_VALUE = '{{ printf "%.1f" $value }}'

Labels = Mapping[str, str]
Parsed = tuple[str, list[tuple[str, str, str]]]


# --- series from the SLO's selectors ----------------------------------------------------------------


def _matches(labels: Labels, parsed: Parsed) -> bool:
    metric, matchers = parsed
    if labels.get("__name__") != metric:
        return False
    for label, op, value in matchers:
        have = labels.get(label, "")
        hit = have == value if op in ("=", "!=") else re.fullmatch(value, have) is not None
        if hit != (op in ("=", "=~")):
            return False
    return True


def _labels_for(parsed: Parsed, decoys: Sequence[str]) -> dict[str, str] | None:
    """Labels of one series the selector selects, or None if no simple one is found."""
    metric, matchers = parsed
    labels = {"__name__": metric}
    for label, op, value in matchers:
        if op == "=":
            labels[label] = value
        elif op == "=~":
            fit = next((d for d in (*decoys, value) if re.fullmatch(value, d)), None)
            if fit is None:
                return None
            labels[label] = fit
    return labels if _matches(labels, parsed) else None


def _complement(base: Labels, inside: Parsed, outside: Parsed, decoys: Sequence[str]) -> dict[str, str] | None:
    """A series selected by ``inside`` but not by ``outside``, varying one label of ``base``."""
    for label, _op, _value in outside[1]:
        for decoy in decoys:
            candidate = {**base, label: decoy}
            if _matches(candidate, inside) and not _matches(candidate, outside):
                return candidate
    return None


def _series_text(labels: Labels) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    return f"{labels['__name__']}{{{body}}}"


@dataclass(frozen=True)
class _Shape:
    """Which series carry the SLO's events: the counted one (errors or good) and the other one (the
    rest of the requests when total includes the counted events, else the total itself)."""

    counted: dict[str, str]
    other: dict[str, str]
    counted_is_bad: bool
    other_is_rest: bool


def _shape(slo: SLO) -> _Shape | None:
    total = _selector(slo.total_query)
    counted_query = slo.error_query if slo.error_query is not None else slo.good_query
    assert counted_query is not None
    counted = _selector(counted_query)
    if total is None or counted is None:
        return None
    bad = slo.error_query is not None
    counted_labels = _labels_for(counted, _DECOYS_BAD if bad else _DECOYS_OK)
    if counted_labels is None:
        return None
    if _matches(counted_labels, total):
        rest = _complement(counted_labels, total, counted, _DECOYS_OK if bad else _DECOYS_BAD)
        return None if rest is None else _Shape(counted_labels, rest, bad, True)
    total_labels = _labels_for(total, ())
    if total_labels is None or _matches(total_labels, counted):
        return None
    return _Shape(counted_labels, total_labels, bad, False)


@dataclass(frozen=True)
class _Phase:
    minutes: int
    requests: int
    """Requests per minute."""
    ratio: Decimal
    """Share of them that fail."""
    counted_reports: bool = True
    """False: the counted series (good or errors) has no samples in this phase (stale or never created)."""


def _samples(shape: _Shape, phases: Sequence[_Phase], step: int) -> dict[str, list[int | None]]:
    """Cumulative counter values at every sample (t = 0, step, ...), by series text."""
    counted: list[int | None] = [0]
    other: list[int | None] = [0]
    c = o = 0
    for phase in phases:
        failed = phase.ratio * phase.requests
        if failed != failed.to_integral_value():
            raise refuse("phase", phase, "whole numbers of failed requests per minute")
        bad = int(failed)
        counted_rate = bad if shape.counted_is_bad else phase.requests - bad
        other_rate = phase.requests - counted_rate if shape.other_is_rest else phase.requests
        for _ in range(phase.minutes // step):
            c += counted_rate * step
            o += other_rate * step
            counted.append(c if phase.counted_reports else None)
            other.append(o)
    if not phases[0].counted_reports:
        counted[0] = None
    return {_series_text(shape.counted): counted, _series_text(shape.other): other}


def _encode(values: Sequence[int | None]) -> str:
    """promtool's expanding notation: 'a+bxn' is n+1 values, '_xn' n missing ones."""
    out: list[str] = []
    i = 0
    while i < len(values):
        value = values[i]
        if value is None:
            j = i
            while j < len(values) and values[j] is None:
                j += 1
            out.append(f"_x{j - i}")
            i = j
            continue
        j = i + 1
        step = None
        while j < len(values) and values[j] is not None:
            diff = values[j] - values[j - 1]  # type: ignore[operator]
            if step is None:
                step = diff
            elif diff != step:
                break
            j += 1
        step = step or 0
        out.append(f"{value}{'-' if step < 0 else '+'}{abs(step)}x{j - 1 - i}")
        i = j
    return " ".join(out)


# --- simulation -------------------------------------------------------------------------------------


class _Counter:
    """One series' samples (seconds, value), never reset (the scenarios only grow counters)."""

    def __init__(self, samples: Sequence[tuple[int, float]]) -> None:
        self.times = [ts for ts, _ in samples]
        self.values = [v for _, v in samples]

    def rate(self, t: int, window: int, open_left: bool) -> float | None:
        """Prometheus's extrapolatedRate over the range ending at t: [t - window, t] before 3.0,
        (t - window, t] from 3.0."""
        start = t - window
        first = (bisect_right if open_left else bisect_left)(self.times, start)
        last = bisect_right(self.times, t) - 1
        count = last - first + 1
        if count < 2:
            return None
        first_t, first_v = self.times[first], self.values[first]
        last_t, last_v = self.times[last], self.values[last]
        result = last_v - first_v
        to_start, to_end = float(first_t - start), float(t - last_t)
        sampled = float(last_t - first_t)
        average = sampled / (count - 1)
        if result > 0 and first_v >= 0:
            to_start = min(to_start, sampled * (first_v / result))
        threshold = average * 1.1
        extrapolated = sampled + (to_start if to_start < threshold else average / 2)
        extrapolated += to_end if to_end < threshold else average / 2
        return result * (extrapolated / sampled) / window


class _Run:
    """The compiled rules of one SLO evaluated every `step` minutes over a scenario's samples."""

    def __init__(self, slo: SLO, shape: _Shape, series: Mapping[str, Sequence[int | None]], step: int) -> None:
        self.slo, self.step = slo, step
        self.horizon = (len(next(iter(series.values()))) - 1) * step
        timed = {
            name: [(i * step * 60, float(v)) for i, v in enumerate(values) if v is not None]
            for name, values in series.items()
        }
        self.counted = _Counter(timed[_series_text(shape.counted)])
        self.other = _Counter(timed[_series_text(shape.other)])
        self.shape = shape
        self._cache: dict[tuple[int, int, bool], float | None] = {}

    def ratio(self, window: str, t: int, open_left: bool = False) -> float | None:
        """The recorded error ratio over `window` at minute t; None when absent, NaN when 0/0."""
        seconds = window_seconds(window)
        key = (seconds, t, open_left)
        if key not in self._cache:
            self._cache[key] = self._ratio(seconds, t * 60, open_left)
        return self._cache[key]

    def _ratio(self, window: int, t: int, open_left: bool) -> float | None:
        counted = self.counted.rate(t, window, open_left)
        other = self.other.rate(t, window, open_left)
        if self.shape.other_is_rest:
            # total = sum over both series: absent only when neither has samples in the range.
            if counted is None and other is None:
                return None
            total = (counted or 0.0) + (other or 0.0)
        else:
            if other is None:
                return None
            total = other
        errors = (counted or 0.0) if self.shape.counted_is_bad else total - (counted or 0.0)
        return errors / total if total else math.nan

    def condition(self, c: BurnCondition, t: int, open_left: bool = False) -> bool:
        threshold = float(c.threshold)
        long, short = self.ratio(c.long_window, t, open_left), self.ratio(c.short_window, t, open_left)
        return long is not None and short is not None and long > threshold and short > threshold

    def branches(self, severity: str) -> list[BurnCondition]:
        return [c for c in self.slo.conditions() if c.severity == severity]

    def alert(self, severity: str, t: int, open_left: bool = False) -> float | None:
        """$value of the firing alert of `severity` at minute t, None when it does not fire."""
        # Pending from an evaluation at least `for` ago: the latest such evaluation on the step grid.
        wait = math.ceil(window_seconds(FOR_DURATION[severity]) / 60 / self.step) * self.step
        if t - wait < 0:
            return None
        for s in range(t - wait, t + 1, self.step):
            if not any(self.condition(c, s, open_left) for c in self.branches(severity)):
                return None
        for c in self.branches(severity):  # `or` keeps the left side: the first true branch's value
            if self.condition(c, t, open_left):
                long = self.ratio(c.long_window, t, open_left)
                assert long is not None
                return long / float(self.slo.budget)
        raise AssertionError("unreachable: a branch is true")  # pragma: no cover

    def first_firing(self, severity: str, after: int = 0) -> int | None:
        for t in range(after, self.horizon + 1, self.step):
            if self.alert(severity, t) is not None:
                return t
        return None

    def first_quiet(self, severity: str, after: int) -> int | None:
        for t in range(after, self.horizon + 1, self.step):
            if self.alert(severity, t) is None:
                return t
        return None

    def ever_true(self, c: BurnCondition, until: int) -> bool:
        return any(self.condition(c, t) for t in range(0, until + 1, self.step))

    def expected(self, t: int) -> list[dict[str, Any]] | None:
        """What promtool must list at minute t; None when a $value sits on a rounding tie, or when
        Prometheus 3's left-open ranges would fire differently (its values may differ by a sample)."""
        alerts = []
        for severity in SEVERITIES:
            value = self.alert(severity, t)
            if (value is None) != (self.alert(severity, t, open_left=True) is None):
                return None
            if value is None:
                continue
            if _near_tie(value):
                return None
            annotations = _annotations(self.slo, severity)
            annotations["description"] = annotations["description"].replace(_VALUE, f"{value:.1f}")
            alerts.append({"exp_labels": {**self.slo.labels, "severity": severity}, "exp_annotations": annotations})
        return alerts


def _near_tie(value: float) -> bool:
    """A $value whose one-decimal rendering a float's last bits could flip."""
    tenths = value * 10
    return abs(tenths - math.floor(tenths) - 0.5) < 1e-6


# --- scenarios --------------------------------------------------------------------------------------


@dataclass
class _Test:
    name: str
    severity: str
    series: dict[str, list[int | None]]
    checks: list[tuple[int, list[dict[str, Any]]]]

    def as_promtool(self, slo: SLO) -> dict[str, Any]:
        step = STEP[self.severity]
        return {
            "name": self.name,
            "interval": f"{step}m",
            "input_series": [
                {"series": name, "values": _encode(values)}
                for name, values in self.series.items()
                if any(v is not None for v in values)
            ],
            "alert_rule_test": [
                {"eval_time": f"{t}m", "alertname": slo.alert_name, "exp_alerts": alerts} for t, alerts in self.checks
            ],
        }


def _requests_per_minute(ratios: Iterable[Decimal]) -> int:
    """Smallest power of ten (at least 1000) that makes every ratio x requests a whole number."""
    places = 3
    for ratio in ratios:
        exponent = ratio.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        places = max(places, -exponent)
    return int(10**places)


def _checked(run: _Run, t: int, direction: int) -> tuple[int, list[dict[str, Any]]] | None:
    """The check at t, moved up to two evaluations further from the transition (`direction`) until the
    range semantics agree and the state is steady one evaluation either side."""
    for shift in range(3):
        at = t + direction * shift * run.step
        if at < 0 or at > run.horizon:
            return None
        here = run.expected(at)
        if here is None:
            continue
        steady = all(
            [a["exp_labels"]["severity"] for a in (run.expected(n) or [])]
            == [a["exp_labels"]["severity"] for a in here]
            for n in (at - run.step, at + run.step)
            if 0 <= n <= run.horizon
        )
        if steady:
            return at, here
    return None


class _Builder:
    def __init__(self, slo: SLO, shape: _Shape) -> None:
        self.slo, self.shape = slo, shape
        ratios = [c.factor * (1 + s * NEAR) * slo.budget for c in slo.conditions() for s in (1, -1)]
        ratios += [c.factor * m * slo.budget for c in slo.conditions() for m in RECOVERY_FACTORS]
        ratios.append(_firing_burn(slo) * slo.budget)
        self.requests = _requests_per_minute(ratios)

    def run(self, phases: Sequence[_Phase], severity: str) -> tuple[_Run, dict[str, list[int | None]]]:
        series = _samples(self.shape, phases, STEP[severity])
        return _Run(self.slo, self.shape, series, STEP[severity]), series

    def baseline(self, c: BurnCondition, k: int, share: Decimal) -> _Phase:
        step = STEP[c.severity]
        minutes = max(step, math.ceil(window_seconds(c.long_window) // 60 * share / step) * step)
        return _Phase(minutes, self.requests * k, Decimal(0))

    def _length(self, c: BurnCondition) -> int:
        """Burn minutes that surely cover the crossing (at the latest when the long window holds only
        the burn), the `for` and the checks after it."""
        step = STEP[c.severity]
        raw = (window_seconds(c.long_window) + window_seconds(FOR_DURATION[c.severity])) // 60 + (MARGIN + 4) * step
        return math.ceil(raw / step) * step

    def isolated(self, run: _Run, c: BurnCondition, until: int) -> bool:
        """Only `c` can make its severity fire up to `until`; no page in a ticket scenario."""
        others = [o for o in run.slo.conditions() if o != c and (o.severity == c.severity or c.severity == "ticket")]
        return not any(run.ever_true(o, until) for o in others)

    def branch(self, c: BurnCondition) -> list[_Test]:
        label = f"{c.severity} {c.long_window}/{c.short_window} at {dec(c.factor)}x"
        above = c.factor * (1 + NEAR)
        long = window_seconds(c.long_window)
        longest = max(window_seconds(o.long_window) for o in self.slo.conditions() if o.severity == c.severity)
        sibling = [(1, Decimal(longest) / long)] if longest > long else []
        for k, share in (*BASELINES[:2], *sibling, *BASELINES[2:]):
            base = self.baseline(c, k, share)
            phases = [base, _Phase(self._length(c), self.requests, above * self.slo.budget)]
            run, series = self.run(phases, c.severity)
            fired = run.first_firing(c.severity)
            # The long window must be full of samples when it crosses, or its length would not matter.
            if fired is None or fired - window_seconds(FOR_DURATION[c.severity]) // 60 < long // 60:
                continue
            before = _checked(run, fired - MARGIN * run.step, -1)
            after = _checked(run, fired + MARGIN * run.step, 1)
            if before is None or after is None or not self.isolated(run, c, after[0]):
                continue
            tests = [_Test(f"{self.slo.slo_id} just above {label} fires", c.severity, series, [before, after])]
            below = c.factor * (1 - NEAR)
            quiet_phases = [base, _Phase(phases[1].minutes, self.requests, below * self.slo.budget)]
            quiet_run, quiet_series = self.run(quiet_phases, c.severity)
            check = _checked(quiet_run, after[0], 1)
            if check is not None and not any(a["exp_labels"]["severity"] == c.severity for a in check[1]):
                tests.append(
                    _Test(f"{self.slo.slo_id} just below {label} stays quiet", c.severity, quiet_series, [check])
                )
            recovery = self.recovery(c, base, label)
            if recovery is not None:
                tests.append(recovery)
            return tests
        raise refuse(
            f"SLO {self.slo.slo_id}: objective",
            self.slo.objective,
            f"an objective whose {label} branch can be tested in isolation",
        )

    def recovery(self, c: BurnCondition, base: _Phase, label: str) -> _Test | None:
        step = STEP[c.severity]
        long = window_seconds(c.long_window) // 60
        for multiple in RECOVERY_FACTORS:
            burn = c.factor * multiple
            if burn * self.slo.budget >= 1:
                continue
            probe, _ = self.run([base, _Phase(self._length(c), self.requests, burn * self.slo.budget)], c.severity)
            fired = probe.first_firing(c.severity, base.minutes)
            if fired is None:
                continue
            # Burn long enough that the long window stays above its threshold well after the short one
            # lets go: the shortest such burn, at most the long window itself.
            burning = fired + (MARGIN + 1) * step - base.minutes
            while True:
                test = self._recovery_run(c, base, burn, burning, fired, label)
                if test is not None or burning >= long:
                    break
                burning = min(long, math.ceil(burning * 1.5 / step) * step)
            if test is not None:
                return test
        return None

    def _recovery_run(
        self, c: BurnCondition, base: _Phase, burn: Decimal, burning: int, fired: int, label: str
    ) -> _Test | None:
        step = STEP[c.severity]
        calm = (window_seconds(c.short_window) + window_seconds(FOR_DURATION[c.severity])) // 60
        calm += (MARGIN + 4) * step
        phases = [
            base,
            _Phase(burning, self.requests, burn * self.slo.budget),
            _Phase(math.ceil(calm / step) * step, self.requests, Decimal(0)),
        ]
        run, series = self.run(phases, c.severity)
        stop = base.minutes + burning
        resolved = run.first_quiet(c.severity, stop)
        if resolved is None or not self.isolated(run, c, min(run.horizon, resolved + MARGIN * step + step)):
            return None
        # Without the short window the long one alone would still fire after the resolution.
        after = resolved + MARGIN * step
        if after > run.horizon or not all(
            (run.ratio(c.long_window, t) or 0.0) > float(c.threshold) for t in range(resolved, after + 1, step)
        ):
            return None
        checks = [
            _checked(run, fired + MARGIN * step, -1),
            _checked(run, resolved - MARGIN * step, -1) if resolved - MARGIN * step > stop else None,
            _checked(run, after, 1),
        ]
        kept = [check for check in checks if check is not None]
        if len(kept) < 2 or kept[-1][0] < resolved:
            return None
        return _Test(f"{self.slo.slo_id} {label} recovers when errors stop", c.severity, series, kept)

    def waits_for(self, severity: str) -> _Test:
        """A burn above every factor from the first sample: every window crosses at the first evaluation
        with two samples, whatever the range semantics, so the alert fires exactly `for` later."""
        step = STEP[severity]
        wait = math.ceil(window_seconds(FOR_DURATION[severity]) / 60 / step) * step
        burn = _firing_burn(self.slo)
        run, series = self.run([_Phase(wait + 4 * step, self.requests, burn * self.slo.budget)], severity)
        held = step + wait  # the condition holds from the first evaluation with two samples
        checks = []
        for t in (held - step, held):
            expected = run.expected(t)
            assert expected is not None
            checks.append((t, expected))
        assert not any(a["exp_labels"]["severity"] == severity for a in checks[0][1])
        assert any(a["exp_labels"]["severity"] == severity for a in checks[1][1])
        title = f"{self.slo.slo_id} {severity} fires {FOR_DURATION[severity]} after its condition holds"
        return _Test(title, severity, series, checks)

    def zero_traffic(self) -> _Test:
        run, series = self.run([_Phase(6 * 60, 0, Decimal(0))], "page")
        checks = [(t, run.expected(t) or []) for t in (10, 60, 6 * 60)]
        assert all(alerts == [] for _, alerts in checks)
        return _Test(f"{self.slo.slo_id} without traffic stays quiet", "page", series, checks)

    def outages(self) -> list[_Test]:
        """Every request fails while the counted series reports nothing: pages if it is the good series
        (stale after a restart, or never created), stays quiet if it is the error series."""
        tests = []
        healthy = _Phase(30, self.requests, Decimal(0))
        if self.shape.counted_is_bad:
            phases = [_Phase(3 * 60, self.requests, Decimal(0), counted_reports=False)]
            name = "with no error series yet stays quiet"
        else:
            phases = [healthy, _Phase(7 * 60, self.requests, Decimal(1), counted_reports=False)]
            name = "pages through a total outage once its good series is stale"
        cases = [(name, phases)]
        if not self.shape.counted_is_bad and self.shape.other_is_rest:
            never = [_Phase(7 * 60, self.requests, Decimal(1), counted_reports=False)]
            cases.append(("pages through a total outage whose good series never existed", never))
        for title, case in cases:
            run, series = self.run(case, "page")
            end = run.horizon
            points = sorted({t for t in (75, 3 * 60, end - 5) if t <= end})
            checks = [check for t in points if (check := _checked(run, t, 1)) is not None]
            if not self.shape.counted_is_bad:
                assert any(any(a["exp_labels"]["severity"] == "page" for a in alerts) for _, alerts in checks)
            tests.append(_Test(f"{self.slo.slo_id} {title}", "page", series, checks))
        return tests


def _firing_burn(slo: SLO) -> Decimal:
    """A burn rate above every factor with the error ratio below 1, with one decimal where possible so the
    annotation's printf "%.1f" cannot land on a rounding tie."""
    top = max(c.factor for c in slo.conditions())
    middle = (top + 1 / slo.budget) / 2
    for places in range(1, 6):
        burn = middle.quantize(Decimal(1).scaleb(-places), rounding=ROUND_FLOOR)
        tie = (burn * 10 - (burn * 10).to_integral_value(rounding=ROUND_FLOOR)) == Decimal("0.5")
        if top < burn and burn * slo.budget < 1 and not tie:
            return burn.normalize()
    raise refuse(
        f"SLO {slo.slo_id}: objective", slo.objective, "an objective with room between the page threshold and 1"
    )


def _recorded_tests(slo: SLO) -> list[dict[str, Any]]:
    """Expression queries: feed the recorded ratios directly (the alerting logic only)."""
    burn = _firing_burn(slo)
    tests = []
    for title, ratio, minutes, checks in (
        (f"{slo.slo_id} burning at {dec(burn)}x pages (recorded ratios)", burn * slo.budget, 60, True),
        (f"{slo.slo_id} at half its budget stays quiet (recorded ratios)", slo.budget / 2, 400, False),
    ):
        series = [{"series": _series(slo, _ratio_metric(w)), "values": f"{dec(ratio)}+0x{minutes}"} for w in WINDOWS]
        if checks:
            page, ticket = (_expected(slo, s, burn) for s in SEVERITIES)
            rule_tests = [
                {"eval_time": "1m", "alertname": slo.alert_name, "exp_alerts": []},
                {"eval_time": "10m", "alertname": slo.alert_name, "exp_alerts": [page]},
                {"eval_time": "30m", "alertname": slo.alert_name, "exp_alerts": [page, ticket]},
            ]
        else:
            rule_tests = [{"eval_time": t, "alertname": slo.alert_name, "exp_alerts": []} for t in ("10m", "1h", "6h")]
        tests.append({"name": title, "interval": "1m", "input_series": series, "alert_rule_test": rule_tests})
    return tests


def _expected(slo: SLO, severity: str, burn: Decimal) -> dict[str, Any]:
    annotations = _annotations(slo, severity)
    annotations["description"] = annotations["description"].replace(_VALUE, f"{float(burn):.1f}")
    return {"exp_labels": {**slo.labels, "severity": severity}, "exp_annotations": annotations}


def promtool_test_files(slos: Iterable[SLO], rule_file_name: str) -> dict[str, dict[str, Any]]:
    """``promtool test rules`` files for the rules ``compile_rules(slos)`` writes to ``rule_file_name``:
    ``{"page": ..., "ticket": ...}``, each a document to write as YAML next to the rule file."""
    slos = list(slos)
    _check_unique(slos)
    tests: dict[str, list[dict[str, Any]]] = {severity: [] for severity in SEVERITIES}
    for slo in slos:
        shape = _shape(slo)
        if shape is None:
            tests["page"] += _recorded_tests(slo)
            continue
        builder = _Builder(slo, shape)
        for condition in slo.conditions():
            tests[condition.severity] += [t.as_promtool(slo) for t in builder.branch(condition)]
        for severity in SEVERITIES:
            tests[severity].append(builder.waits_for(severity).as_promtool(slo))
        tests["page"] += [t.as_promtool(slo) for t in (builder.zero_traffic(), *builder.outages())]
    return {
        severity: {
            "rule_files": [rule_file_name],
            "evaluation_interval": f"{STEP[severity]}m",
            "tests": cases,
        }
        for severity, cases in tests.items()
    }


__all__ = ["MARGIN", "NEAR", "STEP", "promtool_test_files"]
