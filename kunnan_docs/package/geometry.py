"""Where a form's page lies in a picture of it, from its QR code and the paper's edges, and the page made flat.

Our code is printed at a known place and size on every form page, so its four corners map the page into
the picture (an affine fit: a scanner keeps the page flat). That says whether the picture is the page
itself (a scan), and if not, where to look for the paper's edges in a phone photo: along each side of the
predicted page, the step from bright paper to the darker desk is looked for; lines fitted through those
steps meet at the page's corners, and a perspective transform maps the photo onto an A4 page.
Pure Pillow and Python: the pictures are reduced before any per-pixel work in Python.
"""

from __future__ import annotations

import math
from statistics import median

from PIL import Image, ImageFilter

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]  # clockwise from the page's top-left: top-left, top-right, bottom-right, …
WORK_SIZE = 480  # the long side, in pixels, of the reduced picture the paper's edges are looked for in
SAMPLES = 24  # points looked at along each side
MIN_STEP = 24  # grey levels between paper and desk for a step to count as the paper's edge
MIN_POINTS = 8  # steps a side needs for its line to be trusted


def affine_fit(src: list[Point], dst: list[Point]) -> tuple[float, ...]:
    """Least-squares affine map (a, b, c, d, e, f): x' = a x + b y + c, y' = d x + e y + f, from 3 or more pairs."""
    n = len(src)
    sx, sy = sum(p[0] for p in src) / n, sum(p[1] for p in src) / n
    centred = [(x - sx, y - sy) for x, y in src]
    sxx = sum(x * x for x, _ in centred)
    sxy = sum(x * y for x, y in centred)
    syy = sum(y * y for _, y in centred)
    det = sxx * syy - sxy * sxy
    coefficients = []
    for k in (0, 1):
        mean = sum(p[k] for p in dst) / n
        bx = sum(x * (p[k] - mean) for (x, _), p in zip(centred, dst, strict=True))
        by = sum(y * (p[k] - mean) for (_, y), p in zip(centred, dst, strict=True))
        a, b = (bx * syy - by * sxy) / det, (by * sxx - bx * sxy) / det
        coefficients += [a, b, mean - a * sx - b * sy]
    return tuple(coefficients)


def apply_affine(m: tuple[float, ...], p: Point) -> Point:
    return m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]


def homography(src: Quad | list[Point], dst: Quad | list[Point]) -> tuple[float, ...]:
    """The 8 coefficients of the projective map taking the four `src` points to the four `dst` points (in the
    form Pillow's PERSPECTIVE transform takes: from output pixels to input pixels)."""
    rows: list[list[float]] = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, v])
    for col in range(8):  # Gauss-Jordan with partial pivoting
        pivot = max(range(col, 8), key=lambda r: abs(rows[r][col]))
        if abs(rows[pivot][col]) < 1e-12:
            raise ValueError("degenerate quadrilateral")
        rows[col], rows[pivot] = rows[pivot], rows[col]
        head = rows[col][col]
        rows[col] = [v / head for v in rows[col]]
        for r in range(8):
            if r != col and rows[r][col]:
                factor = rows[r][col]
                rows[r] = [v - factor * w for v, w in zip(rows[r], rows[col], strict=True)]
    return tuple(row[8] for row in rows)


def page_quad(symbol: Quad, square: tuple[float, float, float], page_mm: tuple[float, float]) -> Quad:
    """The page's corners in the picture, from the code's corners there and where the code is printed on the page
    (`square`: left and top edge of the symbol and its side, in mm from the page's top-left corner)."""
    left, top, side = square
    printed = [(left, top), (left + side, top), (left + side, top + side), (left, top + side)]
    m = affine_fit(printed, list(symbol))
    w, h = page_mm
    return tuple(apply_affine(m, p) for p in ((0, 0), (w, 0), (w, h), (0, h)))  # type: ignore[return-value]


def fills(quad: Quad, size: tuple[int, int], tolerance: float = 0.06) -> bool:
    """Whether the page's corners are the picture's own corners (in some order), within `tolerance` of its
    diagonal: the picture is the page, as a scanner gives it."""
    w, h = size
    corners = [(0, 0), (w, 0), (w, h), (0, h)]
    reach = tolerance * math.hypot(w, h)
    return all(min(math.dist(p, c) for c in corners) <= reach for p in quad) and \
        len({min(range(4), key=lambda i, p=p: math.dist(p, corners[i])) for p in quad}) == 4


def find_paper(picture: Image.Image, seed: Quad) -> Quad | None:
    """The paper's corners near `seed` (both in `picture`'s pixels), from its edges; None when the edges cannot be
    told from what lies around them (white paper on a white table, or a side outside the picture)."""
    k = max(picture.size) / WORK_SIZE if max(picture.size) > WORK_SIZE else 1.0
    work = picture.convert("L")
    if k > 1:
        work = work.resize((round(picture.width / k), round(picture.height / k)), Image.Resampling.BOX)
    work = work.filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.MinFilter(3))  # print and writing fade into paper
    quad = [(x / k, y / k) for x, y in seed]
    lines = [_edge(work, quad, i) for i in range(4)]
    if any(line is None for line in lines):
        return None
    corners = [_meet(lines[i - 1], lines[i]) for i in range(4)]  # type: ignore[arg-type]
    if any(c is None for c in corners):
        return None
    reach = 0.15 * math.dist(quad[0], quad[2])
    if any(math.dist(c, q) > reach for c, q in zip(corners, quad, strict=True)):  # type: ignore[arg-type]
        return None
    return tuple((x * k, y * k) for x, y in corners)  # type: ignore[misc, return-value]


Line = tuple[Point, Point]  # a point on the line and its unit direction


def _edge(work: Image.Image, quad: list[Point], i: int) -> Line | None:
    """The line of the paper's edge near the quad's side i (from corner i to corner i + 1)."""
    pixels = work.load()
    w, h = work.size
    (ax, ay), (bx, by) = quad[i], quad[(i + 1) % 4]
    cx, cy = sum(p[0] for p in quad) / 4, sum(p[1] for p in quad) / 4
    length = math.hypot(bx - ax, by - ay)
    if length < 10:
        return None
    nx, ny = (by - ay) / length, -(bx - ax) / length
    if ((ax + bx) / 2 - cx) * nx + ((ay + by) / 2 - cy) * ny < 0:
        nx, ny = -nx, -ny  # outwards
    reach = round(0.12 * math.dist(quad[0], quad[2]))
    points = []
    for j in range(SAMPLES):
        t = 0.1 + 0.8 * j / (SAMPLES - 1)
        px, py = ax + (bx - ax) * t, ay + (by - ay) * t
        profile = []
        for s in range(-reach, reach + 1):
            x, y = round(px + nx * s), round(py + ny * s)
            profile.append(pixels[x, y] if 0 <= x < w and 0 <= y < h else None)
        best, at = MIN_STEP, None
        for s in range(4, len(profile) - 4):
            inside, outside = profile[s - 4:s], profile[s + 1:s + 5]
            if None in inside or None in outside:
                continue
            step = sum(inside) / 4 - sum(outside) / 4  # type: ignore[arg-type]
            if step > best:
                best, at = step, s - reach
        if at is not None:
            points.append((px + nx * at, py + ny * at))
    return _fit_line(points)


def _fit_line(points: list[Point]) -> Line | None:
    """Total least squares through the points, once more without those far off the first line."""
    for _ in range(2):
        if len(points) < MIN_POINTS:
            return None
        n = len(points)
        mx, my = sum(p[0] for p in points) / n, sum(p[1] for p in points) / n
        sxx = sum((x - mx) ** 2 for x, _ in points)
        syy = sum((y - my) ** 2 for _, y in points)
        sxy = sum((x - mx) * (y - my) for x, y in points)
        angle = 0.5 * math.atan2(2 * sxy, sxx - syy)
        dx, dy = math.cos(angle), math.sin(angle)
        distances = [abs((x - mx) * dy - (y - my) * dx) for x, y in points]
        limit = max(2.0, 3 * median(distances))
        points = [p for p, d in zip(points, distances, strict=True) if d <= limit]
    return (mx, my), (dx, dy)


def _meet(a: Line, b: Line) -> Point | None:
    (px, py), (dx, dy) = a
    (qx, qy), (ex, ey) = b
    det = dx * ey - dy * ex
    if abs(det) < 1e-6:
        return None
    t = ((qx - px) * ey - (qy - py) * ex) / det
    return px + dx * t, py + dy * t


def flatten(picture: Image.Image, quad: Quad, size: tuple[int, int]) -> Image.Image:
    """The quadrilateral of `picture` mapped onto an upright image of `size` (its corner 0 at the top-left)."""
    w, h = size
    coefficients = homography([(0, 0), (w, 0), (w, h), (0, h)], list(quad))
    return picture.transform(size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR,
                             fillcolor="white")
