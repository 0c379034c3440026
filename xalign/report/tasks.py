"""The run summary and the intermediate tasks: data maps and task difficulty."""

from __future__ import annotations

from figures import bars, cartography
from figures.tables import Rows, distinct, markdown_table, mean_by, select
from xalign.report.base import TABLES, Report, missing, models_of, slug, tag


def summary_section(tables: dict[str, Rows]) -> str:
    def values(column: str, names: tuple[str, ...], skip: tuple = ()) -> str:
        found = [r for n in names for r in tables.get(n, []) if column in r]
        shown = [v for v in distinct(found, column) if v not in skip]
        return ", ".join(str(v) for v in shown) or "(none)"

    runs = ("alignment", "zeroshot")
    names = [n for n in (*TABLES, *sorted(n for n in tables if n.startswith("cartography")))
             if n in tables]
    lines = [
        f"- models: {values('model', runs)}",
        f"- conditions: {values('condition', runs)}",
        f"- intermediate tasks: {values('inter_task', runs, skip=('',))}",
        f"- seeds: {values('seed', runs)}",
        f"- phases: {values('phase', ('alignment',))}",
        f"- languages: {values('language', runs, skip=('en',))}",
        f"- target tasks: {values('target', ('zeroshot',))}",
        f"- tables: {', '.join(f'{n}.csv' for n in names) or '(none)'}",
    ]
    return "## Run summary\n\n" + "\n".join(lines)


def cartography_section(report: Report) -> str:
    names = [n for n in report.tables if n.startswith("cartography")]
    if not names:
        return "## Dataset cartography\n\n_results/cartography*.csv not found: section skipped._"
    parts = ["## Dataset cartography",
             "Data maps of the first seed of each model (Swayamdipta et al. 2020); subset "
             "counts per seed are in the table."]
    for name in names:
        rows = report.tables[name]
        models = models_of(rows)
        for model in models:
            for task in distinct(select(rows, model=model), "task"):
                mine = select(rows, model=model, task=task)
                seeds = distinct(mine, "seed")
                counts = [[s or "(none)", *(len(select(mine, seed=seed, subset=s))
                                            for seed in seeds)]
                          for s in distinct(mine, "subset")]
                parts.append(f"### {task} ({model})\n\n" + markdown_table(
                    ["subset", *(f"seed {seed}" for seed in seeds)], counts))
                first = select(mine, seed=seeds[0])
                parts.append(report.figure(
                    cartography.plot_cartography_map,
                    f"cartography{tag(models, model)}_{slug(task)}", [name],
                    f"data map of {task}, seed {seeds[0]}", inputs=[first], title=task))
    return "\n\n".join(parts)


def difficulty_section(report: Report) -> str:
    rows = report.tables.get("task_difficulty")
    if rows is None:
        return missing("task_difficulty", "Task difficulty")
    parts = ["## Task difficulty",
             "The pretrained model's dev score after a fixed step budget, normalised error "
             "(0 = perfect, 1 = chance), mean over seeds; rank 1 = hardest in seed order."]
    models = models_of(rows)
    for model in models:
        mine = select(rows, model=model)
        error = mean_by(mine, ("task",), "normalised_error")
        score = {r["task"]: r["dev_score"] for r in mean_by(mine, ("task",), "dev_score")}
        ordered = sorted(error, key=lambda r: (-r["normalised_error"], str(r["task"])))
        body = [[r["task"], score[r["task"]], r["normalised_error"], r["n_rows"]]
                for r in ordered]
        parts.append(f"### {model}\n\n" + markdown_table(
            ["task", "dev score", "normalised error", "n seeds"], body))
        parts.append(report.figure(bars.plot_task_difficulty,
                                   f"task_difficulty{tag(models, model)}", ["task_difficulty"],
                                   "normalised dev error per task", inputs=[mine],
                                   where={"model": model}))
    return "\n\n".join(parts)
