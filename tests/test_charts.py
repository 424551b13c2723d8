"""Server-rendered SVG charts: geometry from data, never a crash on odd data."""

import math

from app.components.charts import Chart, Marker, Series, render, thin


def test_empty_and_degenerate_series_render():
    for log_y in (False, True):
        for points in ([], [(1.0, 0.0)], [(1.0, 2.0)], [(0.0, math.nan), (1.0, math.inf)]):
            svg = render(Chart("t", "y", "x", [Series("s", points)], log_y=log_y))
            assert "<svg" in svg


def test_points_map_into_the_frame_and_markers_show():
    chart = Chart(
        "loss",
        "loss",
        "epoch",
        [Series("run", [(0.5, 1.0), (1.0, 0.5), (2.0, 0.1)])],
        [Marker(1.0, "ckpt", "checkpoint"), Marker(1.5, "boom", "crash")],
        x_max=2,
        log_y=True,
    )
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


def test_a_flat_series_is_drawn_from_zero_not_on_a_band_around_it():
    # A constant learning rate before any decay: the axis must read 0 … 0.02, not -0.48 … 0.52.
    svg = str(render(Chart("lr", "LR", "epoch", [Series("lr", [(0, 0.02), (5, 0.02)], step=True)], x_max=10)))
    labels = [float(t.split(">")[1].split("<")[0]) for t in svg.split('text-anchor="end"')[1:]]
    assert min(labels) == 0 and 0.02 <= max(labels) <= 0.03, labels


def test_shades_and_legend_toggles():
    from app.components.charts import Shade

    chart = Chart(
        "loss",
        "loss",
        "epoch",
        [Series("a", [(0, 1.0), (4, 0.5)]), Series("b", [(0, 0.9), (4, 0.4)])],
        x_max=4,
        shades=[Shade(2, 3, "lost work")],
        toggles=True,
        size="compact",
        width=400,
    )
    svg = str(render(chart))
    assert svg.count('class="shade shade-lost"') == 2  # the band and its legend key
    assert svg.count('class="legend-item legend-toggle"') == 2 and 'aria-pressed="true"' in svg
    assert 'data-series="0"' in svg and 'data-series="1"' in svg


def test_a_log_axis_inside_one_decade_still_has_labels():
    import re

    for points, expected in (([(1, 0.9), (4, 0.2)], ["0.2", "0.5"]), ([(1, 2.3), (4, 0.05)], ["0.1", "1"])):
        svg = str(render(Chart("loss", "loss", "epoch", [Series("a", points)], x_max=4, log_y=True)))
        labels = re.findall(r'text-anchor="end">([^<]*)<', svg)
        assert labels == expected, labels


def test_a_marker_label_near_the_right_edge_reads_leftwards_inside_the_frame():
    """A crash in the last epoch drawn: its label ends left of the line instead of running out of the
    frame (on a phone it was cut to "✕ cras"); one on the left half still starts right of its line."""
    chart = Chart(
        "loss",
        "loss",
        "epoch",
        [Series("run", [(1.0, 1.0), (10.0, 0.5)])],
        [Marker(10.0, "crash", "crash"), Marker(2.0, "resume", "resume")],
    )
    svg = str(render(chart))
    crash = svg.split('class="marker marker-crash"')[1].split("</g>")[0]
    resume = svg.split('class="marker marker-resume"')[1].split("</g>")[0]
    line_x = float(crash.split('x1="')[1].split('"')[0])
    label_x = float(crash.split('<text x="')[1].split('"')[0])
    assert line_x == chart.width - 12  # the marker sits on the frame's right edge
    assert 'text-anchor="end"' in crash and label_x < line_x
    assert "text-anchor" not in resume and float(resume.split('<text x="')[1].split('"')[0]) > float(
        resume.split('x1="')[1].split('"')[0]
    )
