"""Where a profiled server's CPU went: py-spy's collapsed stacks (`classroom.py --profile FILE`) summed by activity.

    python tests/load/profile_summary.py FILE [--uploads N]

Each sample is put in the first activity whose marker appears anywhere in its stack (most specific first), so a
sample inside Grad-CAM counts as Grad-CAM even when Streamlit called it. py-spy records only samples of threads
that were running, so the shares are shares of CPU, not of wall time.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

RATE = 50  # samples a second, as classroom.py records them

ACTIVITIES = [
    ("forward pass (top-5)", ("_classify_crops", "engines.py")),
    ("Grad-CAM", ("grad_cam",)),
    ("feature maps", ("feature_maps", "FeatureMaps.picture", "feature_grid")),
    ("lesion / fields / shortcuts panels", ("app/panels/",)),
    ("decode (Pillow)", ("open_image", "decode_image")),
    ("crop + resize", ("crop_for_model",)),
    ("overlay", ("overlay", "heat_colours")),
    ("figure building (plotly)", ("plotly/",)),
    ("image encoding (st.image)", ("image_utils", "PIL/PngImagePlugin", "PIL/JpegImagePlugin", "PIL/Image.py")),
    ("Streamlit serialisation", ("protobuf", "_pb2", "marshall", "forward_msg", "dataframe_util", "arrow")),
    ("websocket / tornado", ("tornado/", "websocket")),
    ("the page's own script", ("views/predict.py", "app/main.py")),
    ("Streamlit runtime", ("streamlit/",)),
]


def summarise(path: Path) -> Counter:
    totals: Counter = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        activity = next((name for name, markers in ACTIVITIES if any(m in stack for m in markers)), "other")
        totals[activity] += int(count)
    return totals


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--uploads", type=int, help="divide by this many uploads (CPU seconds per upload)")
    args = parser.parse_args(argv)
    totals = summarise(args.profile)
    samples = sum(totals.values()) or 1
    print(f"{args.profile}: {samples / RATE:.1f} s of CPU samples")
    for name, count in totals.most_common():
        per = f"  {count / RATE / args.uploads * 1000:7.0f} ms an upload" if args.uploads else ""
        print(f"  {name:<36} {count / RATE:7.2f} s  {count / samples:6.1%}{per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
