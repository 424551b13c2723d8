"""Server-rendered SVG charts: geometry from data, never a crash on odd data."""
import math

from app.components.charts import Chart, Marker, Series, render, thin


def test_empty_and_degenerate_series_render():
    for log_y in (False, True):
        for points in ([], [(1.0, 0.0)], [(1.0, 2.0)], [(0.0, math.nan), (1.0, math.inf)]):
            svg = render(Chart("t", "y", "x", [Series("s", points)], log_y=log_y))
            assert "<svg" in svg


def test_points_map_into_the_frame_and_markers_show():
    chart = Chart("loss", "loss", "epoch", [Series("run", [(0.5, 1.0), (1.0, 0.5), (2.0, 0.1)])],
                  [Marker(1.0, "ckpt", "checkpoint"), Marker(1.5, "boom", "crash")], x_max=2, log_y=True)
    svg = str(render(chart, {"checkpoint": "checkpoint", "crash": "crash"}))
    coords = [tuple(map(float, p.split(","))) for p in svg.split('points="')[1].split('"')[0].split()]
    assert len(coords) == 3
    xs = [c[0] for c in coords]
    ys = [c[1] for c in coords]
    assert xs == sorted(xs) and ys == sorted(ys)  # later, lower loss: further right, further down in SVG
    assert all(0 <= x <= chart.width for x in xs) and all(0 <= y <= chart.height for y in ys)
    assert "marker-crash" in svg and "✕ boom" in svg and "<circle" in svg


def test_thin_keeps_spikes_and_bounds_points():
    points = [(i / 10, 1.0) for i in range(5000)]
    points[2500] = (250.0, 1000.0)
    thinned = thin(points, limit=300)
    assert len(thinned) <= 300
    assert max(p[1] for p in thinned) > 50  # averaged, but still towering over the rest


def test_labels_are_escaped():
    svg = str(render(Chart("<b>t</b>", "y", "x", [Series("<script>x</script>", [(1, 1)])])))
    assert "<script>x" not in svg and "&lt;script&gt;" in svg
