"""Collection routes: which stops each truck empties today, in what order, and when it unloads.

:func:`plan_collection` joins the layers and the routing engine to a maintained VRP solver:

1. the fleet (:class:`gis.collection_demand.Fleet`), the depot it starts from, the disposal
   sites (TPA) and the stops with their volume for the day
   (:func:`gis.collection_demand.daily_stops`);
2. the travel-time matrix between all of them on the ``truck`` mode's network, with today's
   road conditions (:func:`gis.collection_matrix.travel_matrix`);
3. `PyVRP <https://pyvrp.org>`_ (0.14: *reload depots*, multiple trips per vehicle) under a
   time limit: a truck starts at the depot empty, collects up to its capacity, unloads at any
   disposal site and goes on; its last trip ends at a disposal site and it then drives back to
   the depot, all within its shift. Every load is optional with a prize far above any route's
   cost, so the solver serves all it can and leaves out only what does not fit;
4. the result, per truck: the visits in order with arrival times and the load after each, the
   unloading visits, totals (drive time, distance, volume) and the geometry along the roads,
   every leg's time being the matrix's (the routing engine's) time for that pair.

A stop whose volume exceeds a truck's capacity is collected as several *loads* (full truck
loads and the rest), each a visit of its own; every load is served at most once or reported
unserved with a reason (:data:`REASONS`). Times given to the solver are whole seconds
rounded up, so a plan it finds feasible is feasible on the exact times.

The same inputs and seed give the same plan: the search stops after ``no_improvement``
(:data:`NO_IMPROVEMENT`) iterations without a better solution, or at the time limit if that
comes first (then the plan depends on the machine's speed, and ``stopped_by`` says so).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import date as Date
from typing import Any

import numpy as np
from tqdm import tqdm

from gis.collection_demand import FillEntry, Fleet, Stop, daily_stops, read_places
from gis.collection_matrix import Leg, TravelMatrix, travel_matrix
from gis.errors import InvalidInputError, UnprocessableError

logger = logging.getLogger(__name__)

MODE = "truck"
#: Why a stop (or one of its loads) is not served.
REASONS: dict[str, str] = {
    "no_truck_road": "no road a truck may use near the stop",
    "unreachable": "no truck route between the depot, the stop and a disposal site",
    "shift_too_short": "one trip there and back does not fit in a shift",
    "fleet_full": "the trucks' shifts are full",
}
#: Iterations without improvement after which the search stops (default).
NO_IMPROVEMENT = 2000
#: Volumes are given to the solver in litres (whole numbers).
LITRES = 1000


@dataclass
class _Load:
    stop: int  # index into stops
    volume_m3: float
    part: int
    parts: int


def plan_collection(
    url: str,
    *,
    fleet: Fleet,
    day: Date | None = None,
    fill: list[FillEntry] | None = None,
    time_limit_s: float = 10.0,
    seed: int = 1,
    no_improvement: int = NO_IMPROVEMENT,
    progress: bool | None = None,
    router=None,
) -> dict[str, Any]:
    """Plan a day's collection routes.

    Parameters
    ----------
    url : str
        Database URL (the routing network must have been built).
    fleet : Fleet
        The trucks.
    day : date, optional
        The day planned (default today); a label for the sheets and GPX.
    fill : list of FillEntry, optional
        The day's fill file (:func:`gis.collection_demand.read_fill_file`).
    time_limit_s : float
        Longest the solver may search (seconds).
    seed : int
        The solver's random seed.
    no_improvement : int
        Stop after this many iterations without a better solution (reproducible), or at the
        time limit, whichever comes first.
    progress : bool, optional
        Show a progress line while solving; default only on a terminal.
    router : Router, optional
        The router to use (default ``get_router(url)``: today's road conditions).

    Returns
    -------
    dict
        JSON-ready: ``date``, ``fleet``, ``depot``, ``disposal_sites``, ``trucks`` (per
        truck: ``visits``, ``legs``, totals, ``route`` as GeoJSON MultiLineString),
        ``unserved`` (per stop and reason), ``totals`` and ``solver``.

    Raises
    ------
    InvalidInputError
        No depot or disposal site, a depot away from the truck network, unknown fill ids.
    """
    from gis.network_data import transaction
    from gis.routing import get_router

    if not (0 < time_limit_s <= 600):
        msg = f"'time_limit' must be above 0 and at most 600 seconds, got {time_limit_s!r}."
        raise InvalidInputError(msg, code="invalid_parameter", param="time_limit")
    with transaction(url) as cur:
        depots = read_places(cur, "depot")
        sites = read_places(cur, "disposal_site")
        stops, left_out = daily_stops(cur, fill)
    depot = _pick_depot(depots, fleet.depot_id)
    if not sites:
        msg = "There is no disposal site (TPA): load one (sigap ingest file ... --layer tpa)."
        raise InvalidInputError(msg, code="no_disposal_site", param="disposal_site")
    router = router or get_router(url)
    try:
        graph = router.mode_graph(MODE)
    except Exception as exc:  # noqa: BLE001 - a cache built before the truck mode existed
        msg = "The routing network has no truck mode; run sigap network build."
        raise UnprocessableError(msg, code="no_truck_network", param="mode") from exc
    result = plan_stops(
        graph,
        fleet=fleet,
        depot=depot,
        sites=sites,
        stops=stops,
        time_limit_s=time_limit_s,
        seed=seed,
        no_improvement=no_improvement,
        progress=progress,
    )
    result["date"] = (day or Date.today()).isoformat()
    result["stops_left_out"] = left_out
    return result


def plan_stops(
    graph,
    *,
    fleet: Fleet,
    depot: dict,
    sites: list[dict],
    stops: list[Stop],
    time_limit_s: float = 10.0,
    seed: int = 1,
    no_improvement: int = NO_IMPROVEMENT,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Plan routes for given places on a truck graph.

    This is what :func:`plan_collection` does after reading the database; benchmarks call it
    on synthetic networks.

    Parameters
    ----------
    graph : ModeGraph
        The truck mode's graph.
    fleet : Fleet
        The trucks.
    depot : dict
        ``id``, ``name``, ``address``, ``lon``, ``lat``.
    sites : list of dict
        The disposal sites, the same keys.
    stops : list of Stop
        The day's stops.
    time_limit_s, seed, no_improvement, progress
        As :func:`plan_collection`.

    Returns
    -------
    dict
        The plan, without ``date``; ``solver`` has ``matrix_s``.
    """
    lonlat = np.array(
        [[depot["lon"], depot["lat"]]]
        + [[s["lon"], s["lat"]] for s in sites]
        + [[s.lon, s.lat] for s in stops],
        dtype=float,
    ).reshape(-1, 2)
    t0 = time.perf_counter()
    matrix = travel_matrix(graph, lonlat, progress=progress)
    matrix_s = time.perf_counter() - t0
    planner = _Planner(fleet, depot, sites, stops, matrix)
    planner.check_depot()
    result = planner.solve(time_limit_s, seed, no_improvement, progress)
    result["solver"]["matrix_s"] = round(matrix_s, 3)
    return result


def _pick_depot(depots: list[dict], depot_id: int | None) -> dict:
    if not depots:
        msg = "There is no truck depot: load one (sigap ingest file ... --layer depot)."
        raise InvalidInputError(msg, code="no_depot", param="depot_id")
    if depot_id is None:
        return depots[0]
    for d in depots:
        if d["id"] == depot_id:
            return d
    msg = f"There is no depot with id {depot_id}; depots: {[d['id'] for d in depots]}."
    raise InvalidInputError(msg, code="invalid_parameter", param="depot_id")


class _Planner:
    """One plan: locations 0 (depot), 1..K (disposal sites), K+1.. (stops)."""

    def __init__(
        self, fleet: Fleet, depot: dict, sites: list[dict], stops: list[Stop], m: TravelMatrix
    ) -> None:
        self.fleet, self.depot, self.sites, self.stops, self.m = fleet, depot, sites, stops, m
        self.k = len(sites)
        self.t = m.time_s
        self._legs: dict[tuple[int, int], Leg] = {}

    def loc(self, stop: int) -> int:
        return 1 + self.k + stop

    def check_depot(self) -> None:
        snap_m = float(self.m.snap_m()[0])
        if not self.m.on_network()[0] or snap_m > self.fleet.max_walk_m:
            far = "more than 1000" if math.isnan(snap_m) else f"{snap_m:.0f}"
            msg = (
                f"Depot {self.depot['id']} ({self.depot['name'] or 'no name'}) is {far} m from "
                f"the nearest road a truck may use (at most {self.fleet.max_walk_m:g} m); "
                "move it or choose another depot."
            )
            raise InvalidInputError(msg, code="depot_off_network", param="depot_id")

    # --- which loads the solver gets -------------------------------------------------------
    def _sites_ok(self) -> np.ndarray:
        ids = np.arange(1, 1 + self.k)
        ok = np.isfinite(self.t[0, ids]) & np.isfinite(self.t[ids, 0])
        return ids[ok]

    def _screen(self) -> tuple[list[_Load], list[dict]]:
        f = self.fleet
        unserved: list[dict] = []
        loads: list[_Load] = []
        sites = self._sites_ok()
        snap = self.m.snap_m()
        service_s, unload_s = f.service_min * 60, f.unload_min * 60
        for i, s in enumerate(self.stops):
            li = self.loc(i)
            reason, detail = None, ""
            if not self.m.on_network()[li] or snap[li] > f.max_walk_m:
                reason = "no_truck_road"
                near = "over 1000" if math.isnan(snap[li]) else f"{snap[li]:.0f}"
                detail = f"nearest truck road {near} m away (at most {f.max_walk_m:g} m)"
            else:
                out = self.t[li, sites] + self.t[sites, 0] if len(sites) else np.array([np.inf])
                there = self.t[0, li]
                best_back = float(np.min(out))
                if not (math.isfinite(there) and math.isfinite(best_back)):
                    reason = "unreachable"
                    detail = "closed or one-way roads cut it off"
                else:
                    round_s = there + service_s + best_back + unload_s
                    if round_s > f.shift_s:
                        reason = "shift_too_short"
                        detail = f"depot, stop, TPA, depot takes {round_s / 60:.0f} min"
            if reason is not None:
                unserved.append(self._unserved(i, s.demand_m3, reason, detail))
                continue
            parts = max(1, math.ceil(s.demand_m3 / f.capacity_m3 - 1e-9))
            left = s.demand_m3
            for p in range(parts):
                v = min(f.capacity_m3, left)
                left -= v
                loads.append(_Load(i, round(v, 4), p + 1, parts))
        return loads, unserved

    def _unserved(self, i: int, volume_m3: float, reason: str, detail: str) -> dict:
        s = self.stops[i]
        return {
            "stop_id": s.id,
            "source_id": s.source_id,
            "name": s.name,
            "lon": s.lon,
            "lat": s.lat,
            "volume_m3": round(volume_m3, 3),
            "reason": reason,
            "message": REASONS[reason] + (f": {detail}" if detail else ""),
        }

    # --- the solver -----------------------------------------------------------------------
    def solve(
        self, time_limit_s: float, seed: int, no_improvement: int, progress: bool | None
    ) -> dict[str, Any]:
        from pyvrp import Model
        from pyvrp.stop import MaxRuntime, MultipleCriteria, NoImprovement

        f = self.fleet
        loads, unserved = self._screen()
        sites = self._sites_ok()
        if not len(sites):
            msg = "No disposal site can be reached by truck from the depot and back."
            raise UnprocessableError(msg, code="no_disposal_site", param="disposal_site")
        end = int(sites[np.argmin(self.t[sites, 0])])  # the site nearest the depot, for the end
        unload_s = int(math.ceil(f.unload_min * 60))
        back_s = int(math.ceil(self.t[end, 0]))
        model = Model()
        used = [0, *sites.tolist(), *sorted({self.loc(ld.stop) for ld in loads})]
        xy = self._xy(used)  # metres in the network's projection: PyVRP's SWAP* uses angles
        where = {
            loc: model.add_location(x=int(xy[k, 0]), y=int(xy[k, 1]), name=str(loc))
            for k, loc in enumerate(used)
        }
        pool = model.add_depot(where[0], name="depot")
        tpa = {
            int(s): model.add_depot(where[int(s)], service_duration=unload_s, name=f"tpa{int(s)}")
            for s in sites
        }
        prize = int(f.shift_s * 10 * max(1, f.trucks))
        service_s = int(math.ceil(f.service_min * 60))
        for ld in loads:
            model.add_client(
                where[self.loc(ld.stop)],
                pickup=[int(round(ld.volume_m3 * LITRES))],
                service_duration=service_s,
                prize=prize,
                required=False,
                name=f"{ld.stop}:{ld.part}",
            )
        shift = int(math.floor(f.shift_s)) - unload_s - back_s
        model.add_vehicle_type(
            num_available=f.trucks,
            capacity=[int(round(f.capacity_m3 * LITRES))],
            start_depot=pool,
            end_depot=tpa[end],
            reload_depots=list(tpa.values()),
            shift_duration=max(shift, 0),
            unit_distance_cost=0,
            unit_duration_cost=1,
        )
        for a in used:
            for b in used:
                if a != b and math.isfinite(self.t[a, b]):
                    c = int(math.ceil(self.t[a, b]))
                    model.add_edge(where[a], where[b], distance=c, duration=c)
        t0 = time.perf_counter()
        stop = MultipleCriteria([NoImprovement(no_improvement), MaxRuntime(time_limit_s)])
        with _Ticker(time_limit_s, progress, len(loads)):
            res = model.solve(stop, seed=seed, display=False)
        solve_s = time.perf_counter() - t0
        best = res.best
        trucks = [self._truck(n + 1, r, loads, end) for n, r in enumerate(best.routes())]
        served = {int(a.idx) for r in best.routes() for a in r.schedule() if a.is_client()}
        missed: dict[int, float] = {}
        for idx, ld in enumerate(loads):
            if idx not in served:
                missed[ld.stop] = missed.get(ld.stop, 0.0) + ld.volume_m3
        for i, vol in sorted(missed.items()):
            unserved.append(self._unserved(i, vol, "fleet_full", ""))
        for n in range(len(trucks) + 1, f.trucks + 1):
            trucks.append(self._idle(n))
        return {
            "fleet": f.as_dict(),
            "mode": MODE,
            "depot": self.depot,
            "disposal_sites": self.sites,
            "trucks": trucks,
            "unserved": unserved,
            "totals": _totals(trucks, unserved, len(self.stops)),
            "solver": {
                "name": "pyvrp",
                "seed": seed,
                "time_limit_s": time_limit_s,
                "seconds": round(solve_s, 3),
                "iterations": int(res.num_iterations),
                "stopped_by": "time_limit" if solve_s >= time_limit_s * 0.98 else "no_improvement",
                "objective_s": int(best.duration()),
                "feasible": bool(best.is_feasible()),
                "loads": len(loads),
            },
        }

    def _xy(self, locs: list[int]) -> np.ndarray:
        lonlat = [self._lonlat(loc) for loc in locs]
        x, y = self.m.graph.proj.forward(*np.asarray(lonlat, dtype=float).T)
        return np.rint(np.column_stack([x, y]))

    def _lonlat(self, loc: int) -> tuple[float, float]:
        if loc == 0:
            return self.depot["lon"], self.depot["lat"]
        if loc <= self.k:
            return self.sites[loc - 1]["lon"], self.sites[loc - 1]["lat"]
        s = self.stops[loc - 1 - self.k]
        return s.lon, s.lat

    # --- results --------------------------------------------------------------------------
    def leg(self, a: int, b: int) -> Leg:
        key = (a, b)
        if key not in self._legs:
            self._legs[key] = self.m.leg(a, b)
        return self._legs[key]

    def _place(self, loc: int) -> dict:
        if loc == 0:
            return {"kind": "depot", **_brief(self.depot)}
        if loc <= self.k:
            return {"kind": "unload", **_brief(self.sites[loc - 1])}
        s = self.stops[loc - 1 - self.k]
        return {
            "kind": "stop",
            "id": s.id,
            "source_id": s.source_id,
            "name": s.name,
            "address": s.address,
            "lon": s.lon,
            "lat": s.lat,
        }

    def _truck(self, number: int, route, loads: list[_Load], end: int) -> dict:
        f = self.fleet
        seq: list[tuple[int, _Load | None]] = [(0, None)]
        for a in route.schedule()[1:-1]:
            if a.is_client():
                ld = loads[int(a.idx)]
                seq.append((self.loc(ld.stop), ld))
            else:  # a reload depot: pyvrp's depot idx 1..K are our sites, in order
                seq.append((self._site_loc(int(a.idx)), None))
        seq.append((end, None))
        seq.append((0, None))
        return self._walk(number, seq, f)

    def _site_loc(self, depot_idx: int) -> int:
        return int(self._sites_ok()[depot_idx - 1])

    def _walk(self, number: int, seq: list[tuple[int, _Load | None]], f: Fleet) -> dict:
        clock = 0.0
        load = 0.0
        visits: list[dict] = [
            {**self._place(0), "arrival_s": 0.0, "load_m3": 0.0, "departure_s": 0.0}
        ]
        legs: list[dict] = []
        lines: list[list[list[float]]] = []
        drive_s = dist_m = volume = 0.0
        trips = 0
        for (a, _), (b, ld) in zip(seq, seq[1:], strict=False):
            leg = self.leg(a, b)
            clock += leg.time_s
            drive_s += leg.time_s
            dist_m += leg.distance_m
            legs.append(
                {
                    "from": len(visits) - 1,
                    "to": len(visits),
                    "time_s": leg.time_s,
                    "distance_m": leg.distance_m,
                    "segment_ids": leg.segment_ids,
                }
            )
            lines.append(leg.coordinates)
            visit = {**self._place(b), "arrival_s": round(clock, 3)}
            if ld is not None:
                load += ld.volume_m3
                volume += ld.volume_m3
                clock += f.service_min * 60
                visit |= {"volume_m3": ld.volume_m3, "load_part": [ld.part, ld.parts]}
            elif 1 <= b <= self.k:
                trips += 1
                clock += f.unload_min * 60
                visit["unloaded_m3"] = round(load, 4)
                load = 0.0
            visit["load_m3"] = round(load, 4)
            visit["departure_s"] = round(clock, 3)
            visits.append(visit)
        start = f.start_s
        for v in visits:
            v["arrival"] = _hhmm(start + v["arrival_s"])
        return {
            "truck": number,
            "visits": visits,
            "legs": legs,
            "stops": sum(1 for v in visits if v["kind"] == "stop"),
            "trips": trips,
            "drive_time_s": round(drive_s, 3),
            "distance_m": round(dist_m, 2),
            "volume_m3": round(volume, 4),
            "shift_used_s": round(clock, 3),
            "end": _hhmm(start + clock),
            "route": {"type": "MultiLineString", "coordinates": lines},
        }

    def _idle(self, number: int) -> dict:
        return {
            "truck": number,
            "visits": [],
            "legs": [],
            "stops": 0,
            "trips": 0,
            "drive_time_s": 0.0,
            "distance_m": 0.0,
            "volume_m3": 0.0,
            "shift_used_s": 0.0,
            "end": None,
            "route": {"type": "MultiLineString", "coordinates": []},
        }


def _brief(place: dict) -> dict:
    return {k: place[k] for k in ("id", "name", "address", "lon", "lat")}


def _hhmm(seconds: float) -> str:
    minutes = int(round(seconds / 60.0))
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def _totals(trucks: list[dict], unserved: list[dict], n_stops: int) -> dict:
    served_ids = {v["id"] for t in trucks for v in t["visits"] if v["kind"] == "stop"}
    return {
        "stops": n_stops,
        "stops_served": len(served_ids),
        "stops_unserved": len({u["stop_id"] for u in unserved}),
        "trucks_used": sum(1 for t in trucks if t["stops"]),
        "drive_time_s": round(sum(t["drive_time_s"] for t in trucks), 3),
        "distance_m": round(sum(t["distance_m"] for t in trucks), 2),
        "volume_m3": round(sum(t["volume_m3"] for t in trucks), 4),
        "unserved_m3": round(sum(u["volume_m3"] for u in unserved), 4),
    }


class _Ticker:
    """A progress line while the solver runs (it reports nothing itself until it is done)."""

    def __init__(self, limit_s: float, progress: bool | None, loads: int) -> None:
        disable = None if progress is None else not progress
        self.bar = tqdm(
            total=round(limit_s, 1),
            desc=f"Solving ({loads} loads)",
            unit="s",
            disable=disable,
            bar_format="{desc}: {n:.0f}/{total:.0f} s (time limit)",
        )
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.perf_counter()
        while not self.done.wait(0.5):
            self.bar.n = min(self.bar.total, round(time.perf_counter() - t0, 1))
            self.bar.refresh()

    def __enter__(self) -> _Ticker:
        if not self.bar.disable:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        if self.thread.is_alive():
            self.thread.join()
        self.bar.close()
