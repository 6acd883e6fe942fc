"""Draws bench/out/benchmarks.png from results.json (written by the `bench` binary).

usage: python chart.py results.json benchmarks.png
Each panel compares side by side figures of one run; ratios are written on the bars.
Parts that were not measured are shown as such.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter  # noqa: E402

OURS, PEER = "#d9622b", "#4c72b0"


def not_measured(ax, title, why="not measured"):
    ax.set_title(title)
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def ratio(value):
    return f"{value:.0f}x" if value >= 10 else f"{value:.2f}x"


def pairs(ax, title, unit, labels, ours, peer, ours_label, peer_label, log=False):
    """Grouped bars ours/peer per label, with peer/ours above each pair."""
    x = range(len(labels))
    width = 0.38
    ax.bar([i - width / 2 for i in x], [v or 0 for v in ours], width, label=ours_label, color=OURS)
    ax.bar([i + width / 2 for i in x], [v or 0 for v in peer], width, label=peer_label, color=PEER)
    for i, (o, p) in enumerate(zip(ours, peer)):
        if o and p:
            ax.annotate(ratio(p / o), (i, max(o, p)), ha="center", va="bottom", fontsize=9, fontweight="bold")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel(unit)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.margins(y=0.15)


def cold_start(ax_time, ax_rss, cold):
    rows = {r["function"]: r for r in (cold or {}).get("rows", [])}
    ours, peer = rows.get("studio-user-profile", {}), rows.get("python-user-profile", {})
    if "init_ms" in ours and "init_ms" in peer:
        pairs(ax_time, "Cold start, user-profile Create", "ms (log)", ["init (spawn to first next)", "first event"],
              [ours["init_ms"], ours["first_event_ms"]], [peer["init_ms"], peer["first_event_ms"]],
              "Rust", "Python crhelper + boto3", log=True)
    else:
        not_measured(ax_time, "Cold start, user-profile Create")
    measured = [r for r in rows.values() if "peak_rss_mb" in r]
    if measured:
        names = [r["function"].replace("studio-", "").replace("python-user-profile", "Python peer\n(user-profile)") for r in measured]
        colors = [PEER if r["function"].startswith("python") else OURS for r in measured]
        ax_rss.bar(names, [r["peak_rss_mb"] for r in measured], color=colors)
        for i, r in enumerate(measured):
            ax_rss.annotate(f'{r["peak_rss_mb"]:.1f}', (i, r["peak_rss_mb"]), ha="center", va="bottom", fontsize=8)
        ax_rss.set_title("Peak RSS after the first event")
        ax_rss.set_ylabel("MB")
        ax_rss.tick_params(axis="x", labelsize=8)
        ax_rss.margins(y=0.15)
    else:
        not_measured(ax_rss, "Peak RSS after the first event")


def staging(ax_time, ax_rss, stage):
    rows = (stage or {}).get("rows", [])
    both = [r for r in rows if "seconds" in r["ours"] and "seconds" in r["peer"]]
    if not both:
        not_measured(ax_time, "Staging time")
        not_measured(ax_rss, "Staging peak RSS")
        return
    labels = [r["data"].replace(" files of ", " x ").replace("a ", "") for r in both]
    pairs(ax_time, "Staging time (peer / ours on top)", "s (log)", labels,
          [r["ours"]["seconds"] for r in both], [r["peer"]["seconds"] for r in both],
          "studio-lifecycle-config", "aws s3 cp + unzip + aws s3 sync", log=True)
    pairs(ax_rss, "Staging peak RSS (peer / ours on top)", "MB", labels,
          [r["ours"]["peak_rss_mb"] for r in both], [r["peer"]["peak_rss_mb"] for r in both],
          "studio-lifecycle-config", "peer (largest process)")
    ax_rss.axhline(100, color="gray", linestyle="--", linewidth=1, label="100 MB target (largest zip)")
    ax_rss.legend(fontsize=8)


def teardown(ax, down):
    if not down or "wall_s" not in down:
        not_measured(ax, "Domain teardown")
        return
    bars = ["critical path", "1.5x target", "wall time"]
    values = [down["critical_path_s"], 1.5 * down["critical_path_s"], down["wall_s"]]
    ax.bar(bars, values, color=["#999999", "#cccccc", OURS])
    ax.annotate(f'{down["ratio"]:.2f}x\n{down["calls"]:.0f} calls', (2, down["wall_s"]), ha="center", va="bottom", fontsize=9)
    ax.set_title(f'Teardown: {down["profiles"]} profiles, {down["apps"]} apps, {down["spaces"]} spaces\n'
                 f'{down["delay_s"]:g} s per transition, {down["throttle_rate"] * 100:.0f}% throttled', fontsize=10)
    ax.set_ylabel("s")
    ax.margins(y=0.2)


def sizes(ax, size):
    rows = [r for r in (size or {}).get("rows", []) if "binary_bytes" in r]
    if not rows:
        not_measured(ax, "Sizes")
        return
    labels = [r["function"].replace("studio-", "") for r in rows]
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["binary_bytes"] / 1e6 for r in rows], 0.4, label="binary", color=OURS)
    ax.bar([i + 0.2 for i in x], [r["zip_bytes"] / 1e6 for r in rows], 0.4, label="deployment zip", color="#f2b38f")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("MB")
    ax.set_title(f'Sizes ({size.get("build", "")})', fontsize=10)
    ax.legend(fontsize=8)


def main(results_path, png_path):
    with open(results_path) as f:
        results = json.load(f)
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    cold_start(axes[0][0], axes[1][0], results.get("cold_start"))
    staging(axes[0][1], axes[1][1], results.get("staging"))
    teardown(axes[0][2], results.get("teardown"))
    sizes(axes[1][2], results.get("sizes"))
    mode = "smoke run: tiny sizes, not figures to quote" if results.get("mode") == "smoke" else f'medians of {results.get("runs")} runs'
    fig.suptitle(f"SageMaker Studio custom resources on the local cloud ({mode})")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
