#!/usr/bin/env python
"""The result tables of ``docs/benchmark.md``, written from a benchmark's ``summary.json``.

The page's prose is hand-written; its numbers are not. Every block between
``<!-- benchmark_doc:NAME -->`` and ``<!-- /benchmark_doc:NAME -->`` is rendered here from
the committed summary (``gan-nas benchmark`` / ``agents.benchmark.run.analyse`` output), so
a re-analysis updates the page with one command and ``--check`` (run by the test suite)
fails when the page and its JSON disagree. The facts that the hand-written "Reading it"
bullets state are listed in ``CLAIMS`` (the v2 section, tested over the v2 digest) and
``SUMMARY_CLAIMS`` (the all-agents section, over its summary): both commands exit 1, naming the
sentence, when a refresh makes one false.

    python scripts/benchmark_doc.py                 # rewrite the blocks in docs/benchmark.md
    python scripts/benchmark_doc.py --check         # exit 1 when a block is stale or a claim false
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from agents.benchmark.report import measured_seeds_line, sample_sd
from gan_nas_env.doc_blocks import has_block, render_blocks
from gan_nas_env.errors import UserError
from gan_nas_env.user_files import read_json_file

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = ROOT / "docs" / "benchmark" / "final" / "summary.json"
DOC = ROOT / "docs" / "benchmark.md"
GOLD = ROOT / "docs" / "validity" / "gold.json"
V2 = ROOT / "docs" / "benchmark" / "v2" / "baselines.json"  # scripts/baselines.py --ship docs/benchmark/v2
FACTS = ROOT / "docs" / "benchmark" / "table_facts.json"  # scripts/table_stats.py (speed block)
VALIDITY = ROOT / "docs" / "validity" / "validity.json"  # scripts/validity.py report (v2-surrogate block)
NAMES = {"sac": "SAC", "td3": "TD3", "ddpg": "DDPG", "tqc": "TQC", "crossq": "CrossQ", "ppo": "PPO",
         "a2c": "A2C", "maskable_ppo": "MaskablePPO", "dqn": "DQN", "qrdqn": "QR-DQN", "random": "random",
         "re": "regularized evolution", "ls": "local search", "tpe": "TPE (Optuna)"}


def name(algo: str) -> str:
    """The agent's display name."""
    return NAMES.get(algo, algo)


def ci(v: dict[str, Any]) -> str:
    """``value [low, high]`` to three decimals."""
    return f"{v['value']:.3f} [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]"


def p_vs(poi: dict[str, Any], a: str, b: str) -> str:
    """P(a > b) with its interval, ``-`` for an agent against itself or a missing pair."""
    return _p(poi.get(f"{a},{b}"))


def _p(v: dict[str, Any] | None) -> str:
    """A probability with its interval, ``-`` when there is none."""
    return "-" if not v else f"{v['value']:.2f} [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]"


def _by_iqm(aggregates: dict[str, Any]) -> list[str]:
    return sorted(aggregates, key=lambda a: -aggregates[a]["IQM"]["value"])


def run_block(s: dict[str, Any]) -> str:
    """The command, its wall time and machine."""
    run = s.get("run") or {}
    cmd = run.get("command", "?")
    if isinstance(cmd, list):  # argv as recorded: show the console script by name
        cmd = " ".join([Path(cmd[0]).name, *cmd[1:]])
    m = run.get("machine") or {}
    machine = ", ".join(str(x) for x in (m.get("cpu"), f"{m.get('cores')} cores" if m.get("cores") else None,
                                         f"GPU: {m.get('gpu') or 'none'}") if x)
    return (f"`{cmd}` ({s['wall_s']:.0f} s wall; {machine}; gan-nas-env "
            f"{run.get('version', '?')} at `{str(run.get('git_sha', '?'))[:7]}`), re-analysed by "
            f"`gan-nas benchmark --analyse` at `{str(s['provenance'].get('git_sha', '?'))[:7]}`: "
            f"{len(s['algos'])} agents x {len(s['seeds'])} seeds x {s['episodes']} episodes.\n")


def best_sd(st: dict[str, Any]) -> float:
    """An agent's sample sd of its runs' best scores; a summary from before ddof 1 stored the
    population sd, which is rescaled by sqrt(n / (n - 1))."""
    n = int(st["runs"])
    if st.get("best_std_ddof") == 1 or n < 2:
        return float(st["best_std"])
    return float(st["best_std"]) * math.sqrt(n / (n - 1))


def proxy_block(s: dict[str, Any]) -> str:
    """Every agent at the proxy (the table's score), best IQM first."""
    agg, poi, st = s["aggregates"], s["probability_of_improvement"], s["agents"]
    lines = ["| agent | IQM [95% CI] | mean [95% CI] | optimality gap [95% CI] | P(agent > random) [95% CI] "
             "| raw best score (mean +- sample sd) | distinct archs per run | episodes answered by the surrogate |",
             "|---|---|---|---|---|---|---|---|"]
    for a in _by_iqm(agg):
        lines.append(f"| {name(a)} | {ci(agg[a]['IQM'])} | {ci(agg[a]['mean'])} | {ci(agg[a]['optimality_gap'])} "
                     f"| {p_vs(poi, a, 'random')} | {st[a]['best_mean']:.3f} +- {best_sd(st[a]):.3f} "
                     f"| {st[a]['distinct']:.0f} | {100 * st[a]['surrogate_share']:.1f}% |")
    return "\n".join(lines) + "\n"


def final_block(s: dict[str, Any]) -> str:
    """Every agent's best architectures at the final fidelity, best IQM first."""
    ff = s["final_fidelity"]
    agg, poi = ff["aggregates"], ff["probability_of_improvement"]
    lines = ["| agent | final score (raw, mean +- sample sd over runs) | measured | IQM [95% CI] | mean [95% CI] "
             "| optimality gap [95% CI] | P(agent > random) [95% CI] | same at the proxy |",
             "|---|---|---|---|---|---|---|---|"]
    for a in _by_iqm(agg):
        raw = np.array(ff["agents"][a]["final_score"], float)
        lines.append(f"| {name(a)} | {np.nanmean(raw):.3f} +- {sample_sd(raw):.3f} "
                     f"| {100 * ff['agents'][a]['measured_share']:.0f}% | {ci(agg[a]['IQM'])} | {ci(agg[a]['mean'])} "
                     f"| {ci(agg[a]['optimality_gap'])} | {p_vs(poi, a, 'random')} "
                     f"| {p_vs(s['probability_of_improvement'], a, 'random')} |")
    return "\n".join(lines) + "\n"


def final_measured_block(s: dict[str, Any]) -> str:
    """The comparison without the surrogate: the seeds at which every agent's best is measured."""
    return measured_seeds_line(s["final_fidelity"].get("measured_seeds")) + "\n"


def final_setup_block(s: dict[str, Any]) -> str:
    """How the final scores were obtained: reference, surrogate, measured share."""
    ff = s["final_fidelity"]
    ref, sur = ff["reference"], ff["surrogate"]
    bests = [b for a in ff["agents"].values() for b in a["best_archs"]]
    shares = [a["measured_share"] for a in ff["agents"].values()]
    cfg = ff.get("final_config") or "final-fmnist"  # a summary from before the v2 rows named none: v1
    at = f" at {ff['final_budget']:,} iterations" if ff.get("final_budget") else ""
    return (f"Each run's best architecture by proxy score is scored at the table's final fidelity "
            f"(`{ff['final_hash']}`, `configs/{cfg}.yaml`{at}; `docs/validity.md`): measured when the "
            f"table holds its final row, predicted by the final surrogate otherwise (out-of-fold Spearman "
            f"{sur['score_spearman']:.3f} over {sur['n']} measured architectures, score MAE "
            f"{sur['score_mae']:.3f} against {sur['score_mae_mean_predictor']:.3f} for always predicting "
            f"the mean). {len(bests)} runs name {len(set(bests))} distinct best architectures; "
            f"{100 * float(np.mean(shares)):.0f}% of the runs' bests are measured. Normalised: 0 = mean "
            f"final score of the {ref['n']} measured uniform architectures ({ref['mean']:.4f}), 1 = the "
            f"best of them ({ref['best']:.4f}).\n")


def pairs_block(s: dict[str, Any]) -> str:
    """P(SAC > X) at both fidelities: how the E2GAN agent compares with each other agent."""
    if "sac" not in s["aggregates"]:
        return ""
    lines = ["| X | P(SAC > X) at the proxy | P(SAC > X) at the final fidelity |", "|---|---|---|"]
    for a in s["aggregates"]:
        if a != "sac":
            lines.append(f"| {name(a)} | {p_vs(s['probability_of_improvement'], 'sac', a)} "
                         f"| {p_vs(s['final_fidelity']['probability_of_improvement'], 'sac', a)} |")
    return "\n".join(lines) + "\n"


def holdout_block(s: dict[str, Any]) -> str:
    """The proxy surrogate's held-out error per depth (``Surrogate.holdout``)."""
    lines = ["| depth | rows held out | score MAE | score MAE of \"mean\" | FID MAE | IS MAE | Spearman (score) |",
             "|---|---|---|---|---|---|---|"]
    for depth, h in sorted(s["table"]["holdout"].items()):
        lines.append(f"| {depth} | {h['n_test']} | {h['score_mae']:.3f} | {h['score_mae_mean_predictor']:.3f} "
                     f"| {h['mae']['FID']:.2f} | {h['mae']['IS']:.4f} | {h['score_spearman']:.3f} |")
    return "\n".join(lines) + "\n"


def gold_block(s: dict[str, Any]) -> str:
    """How early training ranks against the gold subset's last checkpoint (``gold.json``)."""
    g = s.get("gold")
    if not g:
        raise SystemExit("the page has a gold block but no gold report was found (--gold, default "
                         f"{GOLD.relative_to(ROOT)}; written by scripts/gold_report.py)")
    per = {r["iters"]: r for r in g["metrics"]["score"]["per_checkpoint"]}
    from gan_nas_env.config import load_config

    v1 = load_config("final-fmnist").retrain.g_iters  # the v1 final protocol's budget
    if v1 not in per:
        raise SystemExit(f"gold.json has no checkpoint at {v1} iterations (the v1 budget)")
    t = per[v1]["vs_last"]
    return (f"On the gold subset of protocol v2, the score's ranking at {v1:,} iterations against its ranking "
            f"at {g['budget']:,}: Kendall tau {t['tau']:.2f} [{t['lo']:.2f}, {t['hi']:.2f}] over {g['n']} "
            f"architectures{' so far' if g.get('partial') else ''} (`docs/validity/gold.json`).\n")


def _v2(s: dict[str, Any]) -> dict[str, Any]:
    v2 = s.get("v2")
    if not v2:
        raise SystemExit("the page has a v2 block but no v2 benchmark was found (--v2, default "
                         f"{V2.relative_to(ROOT)}; written by scripts/baselines.py --ship docs/benchmark/v2)")
    return v2


def v2_run_block(s: dict[str, Any]) -> str:
    """The v2 benchmark's commands, wall times and machine."""
    v2 = _v2(s)
    ran = v2.get("run_provenance") or v2["provenance"]  # a re-analysis keeps the runs' own
    m = ran.get("machine") or {}
    lines = [f"`{' '.join(ran['command'])}` (gan-nas-env {ran.get('version', '?')} at "
             f"`{str(ran.get('git_sha', '?'))[:7]}`; {m.get('cpu')}, {m.get('cores')} cores, "
             f"GPU: {m.get('gpu') or 'none'}): {v2['what']}. It ran, one objective after the other:", ""]
    for r in v2["objectives"].values():
        lines.append(f"- `{' '.join(r['command'])}`: {r['wall_s']:.0f} s; normalised with 0 = the "
                     f"reference's mean ({r['reference']['mean']:.4f}), 1 = its best ({r['reference']['best']:.4f}, "
                     f"`{r['reference']['best_arch']}`); {r['missing_bests']} distinct bests without a measured "
                     "final row.")
    if "run_provenance" in v2:
        lines += ["", f"Re-analysed against the table at `{str(v2['provenance'].get('git_sha', '?'))[:7]}` (its final "
                  f"rows and surrogate) by `{' '.join(v2['provenance']['command'])}`: the same runs and best "
                  "architectures, scored again."]
    return "\n".join(lines) + "\n"


def _v2_block(s: dict[str, Any], objective: str) -> str:
    """Every agent of the v2 benchmark at one objective, best IQM first."""
    r = _v2(s)["objectives"][objective]
    ag, poi = r["agents"], r["probability_of_improvement"]
    cols = ["agent", "IQM [95% CI]", "optimality gap [95% CI]", "P(agent > random) [95% CI]",
            "raw best (mean +- sample sd)", "best from a stored row"]
    if objective == "proxy":  # where the proxy's bests land at the final fidelity
        cols += ["their final-fidelity IQM [95% CI]", "final: P(agent > random)", "final: measured"]
    else:  # the same bests scored again by the table of the last re-analysis (measured rows first)
        cols += ["rescored IQM [95% CI]", "rescored: P(agent > random)", "rescored: measured"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for a in sorted(ag, key=lambda k: -ag[k]["IQM"]["value"]):
        x = ag[a]
        cells = [name(a), ci(x["IQM"]), ci(x["optimality_gap"]), p_vs(poi, a, "random"),
                 f"{x['raw_best_mean']:.3f} +- {x['raw_best_sd']:.3f}", f"{100 * x['bests_measured_share']:.0f}%"]
        fq = x.get("final_fidelity_IQM")  # both objectives: the bests at today's final fidelity
        cells += [ci(fq) if fq else "-", _p(x.get("final_fidelity_p_vs_random")),
                  f"{100 * (x.get('final_fidelity_measured_share') or 0):.0f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    if "measured_seeds" in r:  # re-analyses since the seed-by-seed build order record it
        lines += ["", measured_seeds_line(r["measured_seeds"])]
    return "\n".join(lines) + "\n"


def speed_block(s: dict[str, Any]) -> str:
    """The env's step time, from the table facts (``scripts/table_stats.py``)."""
    f = s.get("facts")
    if not f:
        return "(no table facts: run `python scripts/table_stats.py --out docs/benchmark/table_facts.json`)\n"
    m = f["provenance"]["machine"]
    over = f" over {f['step_count']:,} steps" if "step_count" in f else ""
    return (f"**Speed.** Env step with random actions: median {f['step_ms_median']:.3f} ms, p95 "
            f"{f['step_ms_p95']:.3f} ms{over} ({m['cpu']}, {m['cores']} cores, one torch thread; "
            "[`benchmark/table_facts.json`](benchmark/table_facts.json)).\n")


def v2_surrogate_block(s: dict[str, Any]) -> str:
    """What the v2 benchmark's unmeasured bests are scored with: the final surrogate's fit."""
    fs = ((s.get("validity") or {}).get("v2") or {}).get("final_surrogate")
    if not fs:
        return "(no v2 final surrogate in docs/validity/validity.json: run `python scripts/validity.py report`)\n"
    return (f"The final surrogate: {fs['kind'].replace('_', ' ')} fitted on the {fs['n']} architectures with v2 "
            f"rows; {fs['folds']}-fold out-of-fold Spearman {fs['score_spearman']:.2f}, score MAE "
            f"{fs['score_mae']:.3f} against {fs['score_mae_mean_predictor']:.3f} for always predicting the mean "
            "([`validity/validity.json`](validity/validity.json), key `v2.final_surrogate`).\n")


def v2_objective_block(s: dict[str, Any]) -> str:
    """Per v2 method: its measured bests at the final fidelity when rewarded by the proxy against
    when rewarded by the final objective (``objective_effect`` of ``scripts/baselines.py``)."""
    eff = _v2(s).get("objective_effect")
    if not eff:
        return ("(no objective effect in the v2 digest: run `python scripts/baselines.py --analyse --runs "
                "runs/bench_v2 --ship docs/benchmark/v2`)\n")
    lines = ["| method | seeds with both bests measured | rewarded by the proxy | rewarded by the final objective "
             "| P(rewarded by the final objective > by the proxy) [95% CI] |", "|---|---|---|---|---|"]
    for a in sorted(eff, key=lambda k: -eff[k].get("mean_final", -math.inf)):
        e = eff[a]
        if "mean_final" not in e:
            lines.append(f"| {name(a)} | {e['seeds']} of {e['of']} | - | - | - |")
            continue
        lines.append(f"| {name(a)} | {e['seeds']} of {e['of']} | {e['mean_proxy']:.3f} | {e['mean_final']:.3f} | "
                     f"{_p(e['p_final_over_proxy'])} |")
    return "\n".join(lines) + "\n"


def _objective_wins_everywhere(v2: dict[str, Any]) -> bool:
    """Every method's interval of P(rewarded by the final objective > by the proxy) above 0.5, all
    seeds measured."""
    eff = v2.get("objective_effect") or {}
    return bool(eff) and all(e["seeds"] == e["of"] and "p_final_over_proxy" in e
                             and e["p_final_over_proxy"]["ci"][0] > 0.5 for e in eff.values())


def _random_by_final_beats_all_by_proxy(v2: dict[str, Any]) -> bool:
    """Random search rewarded by the final objective above every method rewarded by the proxy (means)."""
    eff = v2.get("objective_effect") or {}
    r = eff.get("random", {})
    return "mean_final" in r and all(r["mean_final"] > e["mean_proxy"] for e in eff.values() if "mean_proxy" in e)


def _measured_shares(run: dict[str, Any]) -> list[float]:
    """Per method of one objective's runs, the % of its bests with a measured final row."""
    return [100 * (x.get("final_fidelity_measured_share") or 0) for x in run["agents"].values()]


def _all_measured(v2: dict[str, Any], seeds: int) -> bool:
    """Every method's bests measured at both objectives, at ``seeds`` seeds or more."""
    return all(min(_measured_shares(r)) >= 100 and len((r.get("measured_seeds") or {}).get("seeds", [])) >= seeds
               for r in v2["objectives"].values())


def _closest(v2: dict[str, Any], n: int) -> list[str]:
    """The ``n`` methods with the highest rescored P(> random search) when rewarded by the final
    objective, highest first."""
    ps = {a: p["value"] for a, p in _p_vs_random(v2["objectives"]["final"], later=True).items() if p}
    return sorted(ps, key=lambda a: -ps[a])[:n]


def _objective_beats_method(v2: dict[str, Any]) -> bool:
    """Every method's gain from the final objective (difference of means) larger than the spread
    of the methods' means at either objective."""
    eff = [e for e in (v2.get("objective_effect") or {}).values() if "mean_final" in e]
    if not eff:
        return False
    spread = max(max(e[k] for e in eff) - min(e[k] for e in eff) for k in ("mean_proxy", "mean_final"))
    return min(e["mean_final"] - e["mean_proxy"] for e in eff) > spread


AHEAD, TIED, BEHIND = "ahead of random search", "not separated from it", "behind it"


def _side(v: dict[str, Any] | None) -> str:
    """Where the 95% interval of one P(method > random search) lies against 0.5."""
    if not v or v["ci"][0] <= 0.5 <= v["ci"][1]:
        return TIED
    return AHEAD if v["ci"][0] > 0.5 else BEHIND


def _versus_random(ps: dict[str, dict[str, Any] | None]) -> str:
    """Methods grouped by where the 95% interval of their P(> random search) lies."""
    groups: dict[str, list[str]] = {AHEAD: [], TIED: [], BEHIND: []}
    for a, v in ps.items():
        groups[_side(v)].append(f"{name(a)} {_p(v)}")
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in groups.items() if v)


def _p_vs_random(r: dict[str, Any], later: bool = False) -> dict[str, dict[str, Any] | None]:
    """P(method > random search) of every v2 method at one objective's results ``r``, best IQM
    first: as the runs saw it, or (``later``) at today's final fidelity (the proxy's bests) / rescored."""
    ag, poi = r["agents"], r["probability_of_improvement"]
    return {a: ag[a].get("final_fidelity_p_vs_random") if later else poi.get(f"{a},random")
            for a in _by_iqm(ag) if a != "random"}


def _sides(v2: dict[str, Any], objective: str, later: bool = False) -> dict[str, set[str]]:
    """The v2 methods by side of random search at ``objective`` (see :func:`_p_vs_random`)."""
    out: dict[str, set[str]] = {AHEAD: set(), TIED: set(), BEHIND: set()}
    for a, v in _p_vs_random(v2["objectives"][objective], later).items():
        out[_side(v)].add(a)
    return out


# The facts that the hand-written "Reading it" bullets of the v2 section state, each with the test
# over the v2 digest (docs/benchmark/v2/baselines.json) that makes it true. The generated blocks
# follow every refresh; prose does not, so --check also fails when a refresh turns one of these
# false (or the page stops saying it): rewrite the sentence, and this list with it.
CLAIMS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("With every method's best architectures trained at 10 seeds",
     lambda v2: _all_measured(v2, 10)),
    ("SAC is the one method the proxy does not separate from random search",
     lambda v2: _sides(v2, "proxy")[TIED] == {"sac"} and not _sides(v2, "proxy")[BEHIND]),
    ("its IQM is the lowest after random search's",
     lambda v2: _by_iqm(v2["objectives"]["proxy"]["agents"])[-2:] == ["sac", "random"]),
    ("TPE, local search, QR-DQN and regularized evolution all beat random search at the proxy score",
     lambda v2: _sides(v2, "proxy")[AHEAD] == {"tpe", "ls", "qrdqn", "re"}),
    ("At the final fidelity, no method beats random search, whichever objective it was rewarded with",
     lambda v2: not _sides(v2, "proxy", later=True)[AHEAD] and not _sides(v2, "final", later=True)[AHEAD]),
    ("No method's proxy bests are ahead of random search's at the final fidelity",
     lambda v2: not _sides(v2, "proxy", later=True)[AHEAD]),
    ("none is behind them either: every method's interval there holds 0.5",
     lambda v2: not _sides(v2, "proxy", later=True)[BEHIND]),
    ("SAC and QR-DQN are not separated from random search even on the landscape the runs saw",
     lambda v2: {"sac", "qrdqn"} <= _sides(v2, "final")[TIED]),
    ("rescored, no method stays ahead of random search",
     lambda v2: not _sides(v2, "final", later=True)[AHEAD]),
    ("QR-DQN and local search come closest",
     lambda v2: _closest(v2, 2) == ["qrdqn", "ls"]),
    ("Every method trains into better GANs when rewarded by the final objective than by the proxy",
     _objective_wins_everywhere),
    ("random search rewarded by the final objective finds better GANs, on average, than every method "
     "rewarded by the proxy", _random_by_final_beats_all_by_proxy),
    ("an effect larger than any between methods", _objective_beats_method),
]


# The same for the "Every algorithm" section's bullets whose facts move with the final rows (its
# proxy results do not: those runs are not made again), tested over that benchmark's summary.
SUMMARY_CLAIMS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("SAC, the E2GAN agent, is not separated from random search at either fidelity",
     lambda s: _side(s["probability_of_improvement"].get("sac,random")) == TIED
     and _side(s["final_fidelity"]["probability_of_improvement"].get("sac,random")) == TIED),
]


def _unsupported(flat: str, claims: list[tuple[str, Callable[[dict[str, Any]], bool]]], data: dict[str, Any],
                 source: Path, listed_in: str) -> list[str]:
    out = []
    for sentence, holds in claims:
        if sentence not in flat:
            out.append(f"the page no longer says {sentence!r} (update {listed_in} in scripts/benchmark_doc.py)")
        elif not holds(data):
            shown = source.relative_to(ROOT) if source.is_relative_to(ROOT) else source
            out.append(f"{sentence!r} is no longer true of {shown}: rewrite it")
    return out


def false_claims(doc: str, v2: dict[str, Any] | None, summary: dict[str, Any] | None = None,
                 summary_path: Path = SUMMARY, v2_path: Path = V2) -> list[str]:
    """The sentences of :data:`CLAIMS` (about the v2 digest) and :data:`SUMMARY_CLAIMS` (about the
    all-agents ``summary``) that the page no longer says or its data no longer bears out; each
    message names the file the data came from (``v2_path``, ``summary_path``)."""
    flat = " ".join(doc.split())  # the page's line breaks fall anywhere in a sentence
    out = []
    if v2 is not None and has_block(doc, "benchmark_doc", "v2-verdict"):
        out += _unsupported(flat, CLAIMS, v2, v2_path, "CLAIMS")
    # a page holding the whole all-agents section (its run block first), not only some of its tables
    if summary is not None and summary.get("final_fidelity") and has_block(doc, "benchmark_doc", "run"):
        out += _unsupported(flat, SUMMARY_CLAIMS, summary, summary_path, "SUMMARY_CLAIMS")
    return out


def v2_verdict_block(s: dict[str, Any]) -> str:
    """Per objective, which methods beat random search (the interval of P(> random) above 0.5), as
    the runs saw it and at today's final fidelity, with the measured share behind the latter."""
    objectives = _v2(s)["objectives"]
    seen = {"proxy": "**Rewarded by the proxy score**, P(method > random search) [95% CI] at that score",
            "final": "**Rewarded by the final objective**, P(method > random search) [95% CI] as the runs saw it, "
                     "on the final surrogate of the table they ran on"}
    later = {"proxy": "Their bests at today's final fidelity", "final": "The same bests rescored by today's table"}
    lines = []
    for objective in ("proxy", "final"):
        r = objectives[objective]
        shares = _measured_shares(r)
        source = ("every method's bests measured" if min(shares) >= 100 else
                  f"measured rows for {min(shares):.0f}-{max(shares):.0f}% of each method's bests, "
                  "the final surrogate for the rest")
        lines += [
            f"- {seen[objective]}, methods by IQM: {_versus_random(_p_vs_random(r))}.",
            f"  {later[objective]} ({source}): {_versus_random(_p_vs_random(r, later=True))}.",
        ]
    return "\n".join(lines) + "\n"


RENDER: dict[str, Callable[[dict[str, Any]], str]] = {
    "run": run_block, "proxy": proxy_block, "final-setup": final_setup_block, "final": final_block,
    "pairs": pairs_block, "holdout": holdout_block, "gold": gold_block, "v2-run": v2_run_block,
    "v2-proxy": lambda s: _v2_block(s, "proxy"), "v2-final": lambda s: _v2_block(s, "final"),
    "speed": speed_block, "v2-surrogate": v2_surrogate_block, "v2-verdict": v2_verdict_block,
    "v2-objective": v2_objective_block, "final-measured": final_measured_block}


def render(doc: str, summary: dict[str, Any]) -> tuple[str, list[str]]:
    """The page with every block rendered from ``summary``, and the names of blocks that changed."""

    def body(block: str) -> str:
        if block not in RENDER:
            raise SystemExit(f"unknown block benchmark_doc:{block} (known: {', '.join(RENDER)})")
        return RENDER[block](summary)

    return render_blocks(doc, "benchmark_doc", body)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--summary", type=Path, default=SUMMARY, help="a benchmark's summary.json")
    p.add_argument("--doc", type=Path, default=DOC, help="the Markdown page with benchmark_doc blocks")
    p.add_argument("--gold", type=Path, default=GOLD, help="the gold subset's report (gold block)")
    p.add_argument("--v2", type=Path, default=V2, help="the v2 benchmark's baselines.json (v2 blocks)")
    p.add_argument("--facts", type=Path, default=FACTS, help="the table facts (speed block)")
    p.add_argument("--validity", type=Path, default=VALIDITY, help="the validity report (v2-surrogate block)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 when a block is stale")
    args = p.parse_args(argv)
    for f in (args.summary, args.doc):
        if not f.is_file():
            p.error(f"{f}: no such file")
    try:
        summary = read_json_file(args.summary, "--summary")
        gold = read_json_file(args.gold, "--gold") if args.gold.is_file() else None
        v2 = read_json_file(args.v2, "--v2") if args.v2.is_file() else None
        facts = read_json_file(args.facts, "--facts") if args.facts.is_file() else None
        validity = read_json_file(args.validity, "--validity") if args.validity.is_file() else None
    except UserError as exc:
        p.error(str(exc))
    if not summary.get("agents") or not summary.get("final_fidelity"):
        p.error(f"{args.summary}: no per-agent statistics or final fidelity; re-analyse the run "
                "(agents.benchmark.run.analyse) with a table that holds final rows")
    if gold is not None:  # the gold block's source (scripts/gold_report.py)
        summary = {**summary, "gold": gold}
    if v2 is not None:  # the v2 blocks' source (scripts/baselines.py --ship docs/benchmark/v2)
        summary = {**summary, "v2": v2}
    summary = {**summary, "facts": facts, "validity": validity}
    doc = args.doc.read_text()
    new, changed = render(doc, summary)
    if not has_block(doc, "benchmark_doc"):
        p.error(f"{args.doc}: no <!-- benchmark_doc:NAME --> blocks")
    wrong = false_claims(new, v2, summary, args.summary, args.v2)
    if args.check:
        if changed:
            print(f"{args.doc}: stale blocks {', '.join(changed)}; run python scripts/benchmark_doc.py",
                  file=sys.stderr)
        for w in wrong:
            print(f"{args.doc}: prose: {w}", file=sys.stderr)
        if changed or wrong:
            return 1
        print(f"{args.doc}: every block matches {args.summary}, and the prose's claims hold")
        return 0
    args.doc.write_text(new)
    print(f"{args.doc}: rewrote {', '.join(changed) or 'nothing (already current)'}")
    for w in wrong:  # the blocks are written either way; the prose is the author's to mend
        print(f"{args.doc}: prose: {w}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
