"""The quality report's map of the points the geography checks flagged: inline SVG, no tiles, no script.

The drawing is equirectangular over the points' extent (longitudes shrunk by the cosine of the middle latitude,
so a commune keeps its shape), with a graticule and a scale bar: it needs no network and opens from `file://`.
The table's other points are grey dots, the flagged ones circles; a table gives the same points in text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from moisson.quality.messages import Lang, say

WIDTH = 640
MAX_HEIGHT = 480
MIN_HEIGHT = 220
MARGIN = 28
#: Grey dots drawn at most (an even sample beyond): one SVG path, so a large table stays a small page.
MAX_DOTS = 3000
# Colours of the portal's verdict banners: red for errors, dark orange for warnings (white halo, black edge).
ERROR_FILL, WARNING_FILL, DOT_COLOUR, TEXT_COLOUR = "#ce0500", "#b34000", "#6f6f6f", "#1e1e1e"
AREA_COLOUR = "#000091"
NICE_STEPS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 45, 90)
NICE_METRES = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
               1_000_000, 2_000_000, 5_000_000)
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class MapPoint:
    """One point of the table as the map draws it.

    Attributes:
        row: Row number in the source file.
        field: Column it comes from (a geopoint, a latitude column, the geometry).
        lon: WGS84 longitude (a Lambert-93 point is reprojected); NaN when it cannot be placed.
        lat: WGS84 latitude; NaN when it cannot be placed.
        rule: The check it fails (`swapped`, `extent`, `lambert93`, `duplicate-point`…); None when it passed.
        warning: The check only warns (near duplicates).
        message: What the check said.
    """

    row: int
    field: str
    lon: float
    lat: float
    rule: str | None = None
    warning: bool = False
    message: str = ""

    @property
    def placed(self) -> bool:
        """Whether the point has WGS84 degrees to be drawn."""
        return math.isfinite(self.lon) and math.isfinite(self.lat) and abs(self.lon) <= 180 and abs(self.lat) <= 90


@dataclass(frozen=True)
class PointMap:
    """The flagged points, and the table's other points (at most `MAX_DOTS`, evenly sampled).

    Attributes:
        flagged: One point per issue of the geography checks, in row order.
        others: Points that passed, as drawn.
        total: Points the table has in all (flagged rows included).
        extent: The area the catalog declares (west, south, east, north), drawn as a dashed frame.
    """

    flagged: list[MapPoint]
    others: list[MapPoint] = field(default_factory=list)
    total: int = 0
    extent: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class _Frame:
    """Degrees to SVG pixels."""

    west: float
    north: float
    shrink: float
    scale: float
    left: float
    top: float
    height: float

    def x(self, lon: float) -> float:
        return self.left + (lon - self.west) * self.shrink * self.scale

    def y(self, lat: float) -> float:
        return self.top + (self.north - lat) * self.scale


def map_figure(points: PointMap, lang: Lang, *, figure_id: str = "carte") -> str:
    """The `<figure>` of the map (SVG and caption), then the flagged points as a table in a disclosure."""
    e = html.escape
    placed = [p for p in points.flagged if p.placed]
    if not placed and not points.others:
        return f"<p>{e(say('report.map-unplaced', lang, count=len(points.flagged)))}</p>" + _table(points.flagged, lang)
    corners = []
    if points.extent:
        west, south, east, north = points.extent
        corners = [MapPoint(row=0, field="", lon=west, lat=south), MapPoint(row=0, field="", lon=east, lat=north)]
    frame = _frame([*placed, *points.others, *corners])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="carte" viewBox="0 0 {WIDTH} {frame.height:.0f}" '
             f'width="{WIDTH}" height="{frame.height:.0f}" role="img" aria-labelledby="{figure_id}-legende">',
             f'<rect width="{WIDTH}" height="{frame.height:.0f}" fill="#fff"/>', _graticule(frame, lang),
             _scale_bar(frame, lang)]
    if corners:
        low, high = corners
        left, top = frame.x(low.lon), frame.y(high.lat)
        parts.append(f'<rect class="zone" x="{left:.1f}" y="{top:.1f}" width="{frame.x(high.lon) - left:.1f}" '
                     f'height="{frame.y(low.lat) - top:.1f}" fill="none" stroke="{AREA_COLOUR}" stroke-width="2" '
                     'stroke-dasharray="6 4"/>')
    if points.others:
        dots = "".join(f"M{frame.x(p.lon):.1f} {frame.y(p.lat):.1f}h0" for p in points.others)
        parts.append(f'<path class="autres" d="{dots}" stroke="{DOT_COLOUR}" stroke-width="5" '
                     'stroke-linecap="round" fill="none"/>')
    # Warnings first: an error on the same spot is drawn over them.
    for point in sorted(placed, key=lambda p: not p.warning):
        fill = WARNING_FILL if point.warning else ERROR_FILL
        label = say("report.map-point", lang, row=point.row, message=point.message)
        parts.append(f'<circle class="{"avertissement" if point.warning else "erreur"}" '
                     f'cx="{frame.x(point.lon):.1f}" cy="{frame.y(point.lat):.1f}" r="7" fill="{fill}" '
                     f'stroke="#000" stroke-width="1.5"><title>{e(label)}</title></circle>')
    parts.append("</svg>")
    errors = sum(1 for p in placed if not p.warning)
    caption = say("report.map-caption", lang, errors=errors, warnings=len(placed) - errors, total=points.total)
    if len(points.others) < points.total - len({p.row for p in points.flagged}):
        caption += " " + say("report.map-sampled", lang, count=len(points.others))
    if points.extent:
        caption += " " + say("report.map-extent", lang)
    if any(p.rule == "lambert93" for p in placed):
        caption += " " + say("report.map-reprojected", lang)
    if len(placed) < len(points.flagged):
        caption += " " + say("report.map-unplaced", lang, count=len(points.flagged) - len(placed))
    figure = (f'<figure id="{figure_id}">{"".join(parts)}<figcaption id="{figure_id}-legende">{e(caption)}'
              "</figcaption></figure>")
    return figure + _table(points.flagged, lang)


def _frame(points: Sequence[MapPoint]) -> _Frame:
    """The points' extent, padded, fitted in `WIDTH` × at most `MAX_HEIGHT` pixels."""
    lons = [p.lon for p in points] or [0.0]
    lats = [p.lat for p in points] or [0.0]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    # A lone point (or a column of one place) still gets about a kilometre around it.
    pad_lon = max((east - west) * 0.08, 0.01)
    pad_lat = max((north - south) * 0.08, 0.01)
    west, east = max(west - pad_lon, -180.0), min(east + pad_lon, 180.0)
    south, north = max(south - pad_lat, -90.0), min(north + pad_lat, 90.0)
    shrink = max(math.cos(math.radians((north + south) / 2)), 0.05)
    inner = WIDTH - 2 * MARGIN
    scale = inner / ((east - west) * shrink)
    if (north - south) * scale > MAX_HEIGHT - 2 * MARGIN:
        scale = (MAX_HEIGHT - 2 * MARGIN) / (north - south)
    drawn_height = (north - south) * scale
    height = max(drawn_height + 2 * MARGIN, MIN_HEIGHT)
    left = MARGIN + (inner - (east - west) * shrink * scale) / 2
    return _Frame(west, north, shrink, scale, left, (height - drawn_height) / 2, height)


def _graticule(frame: _Frame, lang: Lang) -> str:
    """Meridians and parallels at a round step, labelled in degrees."""
    west = frame.west - frame.left / (frame.shrink * frame.scale)
    east = west + WIDTH / (frame.shrink * frame.scale)
    north = frame.north + frame.top / frame.scale
    south = north - frame.height / frame.scale
    step = next((s for s in NICE_STEPS if max(east - west, north - south) / s <= 6), NICE_STEPS[-1])
    lines, labels = [], []
    for k in range(math.ceil(west / step), math.floor(east / step) + 1):
        lon = k * step
        x = frame.x(lon)
        lines.append(f"M{x:.1f} 0V{frame.height:.0f}")
        labels.append(f'<text x="{x + 3:.1f}" y="{frame.height - 6:.0f}">{_degrees(lon, "E", "O", step, lang)}</text>')
    for k in range(math.ceil(south / step), math.floor(north / step) + 1):
        lat = k * step
        y = frame.y(lat)
        lines.append(f"M0 {y:.1f}H{WIDTH}")
        labels.append(f'<text x="4" y="{y - 4:.1f}">{_degrees(lat, "N", "S", step, lang)}</text>')
    return (f'<path d="{"".join(lines)}" stroke="#d0d0d0" stroke-width="1" fill="none"/>'
            f'<g font-size="11" fill="{TEXT_COLOUR}" font-family="system-ui, sans-serif">{"".join(labels)}</g>')


def _scale_bar(frame: _Frame, lang: Lang) -> str:
    """A round distance, about a fifth of the width, at the middle latitude."""
    pixels_per_metre = frame.scale / METRES_PER_DEGREE
    metres = next((m for m in reversed(NICE_METRES) if m * pixels_per_metre <= WIDTH / 5), NICE_METRES[0])
    length = metres * pixels_per_metre
    text = f"{metres // 1000} km" if metres >= 1000 else f"{metres} m"
    x, y = WIDTH - MARGIN - length, frame.height - 24
    return (f'<g aria-hidden="true"><path d="M{x:.1f} {y:.0f}h{length:.1f}" stroke="{TEXT_COLOUR}" stroke-width="3"/>'
            f'<text x="{x:.1f}" y="{y - 6:.0f}" font-size="11" fill="{TEXT_COLOUR}" '
            f'font-family="system-ui, sans-serif">{text}</text></g>')


def _degrees(value: float, positive: str, negative: str, step: float, lang: Lang) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    hemisphere = positive if value >= 0 else negative
    if lang == "en" and hemisphere == "O":
        hemisphere = "W"
    text = f"{abs(value):.{decimals}f}°{hemisphere}"
    return text.replace(".", ",") if lang == "fr" else text


def _table(points: Sequence[MapPoint], lang: Lang) -> str:
    e = html.escape
    heads = "".join(f'<th scope="col">{e(say(f"column.{c}", lang))}</th>'
                    for c in ("row", "field", "longitude", "latitude", "message"))
    rows = "".join(f"<tr><td>{p.row}</td><td>{e(p.field)}</td><td>{_coordinate(p.lon, p, lang)}</td>"
                   f"<td>{_coordinate(p.lat, p, lang)}</td><td>{e(p.message)}</td></tr>" for p in points)
    return (f"<details><summary>{e(say('report.map-table', lang))}</summary>"
            '<div class="defilement" role="region" tabindex="0" '
            f'aria-label="{e(say("report.map-table", lang))}"><table>'
            f"<caption>{e(say('report.map-table-caption', lang, count=len(points)))}</caption>"
            f"<thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table></div></details>")


def _coordinate(value: float, point: MapPoint, lang: Lang) -> str:
    if not point.placed:
        return "—"
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang == "fr" else text
