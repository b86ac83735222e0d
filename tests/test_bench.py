"""resnet.bench's bookkeeping (no timings are asserted: speed targets are read off `python -m resnet bench`)."""

from resnet import bench
from resnet.bench import Section, Timing


def test_interleaved_runs_every_case_once_per_round_in_rotating_order():
    calls = []
    cases = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = bench.interleaved(cases, runs=3, warm=1)
    assert {name: len(values) for name, values in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")  # one warm round, then rotations
    assert all(t >= 0 for values in times.values() for t in values)


def test_ratios_are_to_the_fastest_and_breakdown_rows_get_none():
    section = Section("x", "Example", timings=[Timing("slow", 30.0, 5), Timing("fast", 10.0, 5),
                                               Timing("  part", 2.0, 5)], lines=["verdict"])
    text = bench.format_section(section).splitlines()
    assert text[0] == "Example"
    assert text[1].split()[-1] == "3.00×" and text[2].split()[-1] == "1.00×"
    assert "×" not in text[3] and text[4].strip() == "verdict"


def test_json_keeps_every_section_by_key():
    sections = [Section("warm", "Warm", timings=[Timing("a", 1.5, 2)], data={"target_ratio": 1.05}),
                Section("memory", "Memory", data={"peak_rss_mb": 900.0})]
    document = bench.to_json(sections)
    assert document["warm"]["timings"] == [{"name": "a", "median_ms": 1.5, "runs": 2, "note": ""}]
    assert document["warm"]["target_ratio"] == 1.05 and document["memory"]["peak_rss_mb"] == 900.0


def test_sections_are_pluggable_functions_of_the_context():
    names = [section.__name__ for section in bench.SECTIONS]
    assert names[0] == "cold" and "warm_paths" in names and "memory" in names
    seen = []
    bench.SECTIONS.append(lambda context: seen.append(context.runs) or Section("extra", "Extra"))
    try:
        [extra] = bench.run(runs=4, only=["<lambda>"])
    finally:
        bench.SECTIONS.pop()
    assert seen == [4] and extra.key == "extra"
